"""The ANN graph of the vector files: an HNSW graph (usearch, f16, inner product) over row numbers.

Why a graph: exact search costs ~0.2 ms of CPU per 1,000 vectors, so from ~20,000 live vectors
(`ANN_THRESHOLD`) a graph answers instead; rows are the row numbers of the float32 matrix in
`files.VectorFiles`, which stays the truth (the graph can always be rebuilt from it). The graph
keeps its own f16 copy of each vector, so candidates are scored without paging the float32
matrix in. Search effort (ef) grows with the graph (`expansion_search_for`). Figures:
bench/README.md ("Vector index", "Search at a million papers").
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

ANN_THRESHOLD = 20_000  # live vectors from which the HNSW graph is used (bench/README.md)
ANN_DELTA = 4_096  # rows searched exactly before they are folded into the graph
ANN_CONNECTIVITY = 16
ANN_EXPANSION_ADD = 128
ANN_EXPANSION_SEARCH = 128  # the floor of expansion_search_for() (64 lost recall at 200k)
ANN_EF_ROWS = 62_500  # ef is 128 at this size and grows with sqrt(rows): 512 at 1M
ANN_EF_MAX = 1024
BUILD_CHUNK = 50_000


def _usearch_index() -> Any:
    """usearch's Index class, imported safely.

    Importing `usearch.index` before `onnxruntime` in one process makes the later onnxruntime
    import crash with a segmentation fault (usearch 2.26 / onnxruntime 1.31 wheels, measured
    here); the other order is fine, so onnxruntime is always imported first."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency; nothing to protect then
        pass
    from usearch.index import Index

    return Index


def expansion_search_for(rows: int) -> int:
    """HNSW search effort (ef) for a graph over `rows` vectors, chosen automatically.

    A fixed ef finds fewer true neighbours as the graph grows, so ef grows with sqrt(rows) from
    128 (up to 62,500 rows) to 512 at 1M, in steps of 32, at most 1024. Measured on real
    embeddings grown to 1M (bench/README.md, "Search at a million papers"): recall@10 of
    held-out titles 0.979 / 0.995 / 0.998 and of out-of-domain SciFact claims 0.898 / 0.948 /
    0.964 at ef 128 / 256 / 512, for 1.4 / 2.3 / 6.6 ms per search."""
    ef = ANN_EXPANSION_SEARCH * math.sqrt(max(rows, 1) / ANN_EF_ROWS)
    return int(min(ANN_EF_MAX, max(ANN_EXPANSION_SEARCH, 32 * math.ceil(ef / 32))))


class HnswGraph:
    """A loaded graph over rows [0, rows) of the vector files (some rows may be dead)."""

    def __init__(self, index: Any, rows: int) -> None:
        self.index = index
        self.rows = rows

    @classmethod
    def open(cls, path: Path, rows: int) -> HnswGraph:
        """Memory-map a saved graph (read-only) with the search effort for its size."""
        index = _usearch_index().restore(str(path), view=True)
        index.expansion_search = expansion_search_for(rows)  # not kept in the file
        return cls(index, rows)

    @classmethod
    def build(cls, dim: int, matrix: np.ndarray, rows: np.ndarray, total_rows: int) -> HnswGraph:
        """A new graph over `rows` of `matrix` (the live rows of [0, total_rows))."""
        index = _usearch_index()(ndim=dim, metric="ip", dtype="f16",
                                 connectivity=ANN_CONNECTIVITY, expansion_add=ANN_EXPANSION_ADD,
                                 expansion_search=ANN_EXPANSION_SEARCH)
        for start in range(0, rows.size, BUILD_CHUNK):
            part = rows[start : start + BUILD_CHUNK]
            index.add(part.astype(np.uint64), np.ascontiguousarray(matrix[part]))
        return cls(index, total_rows)

    @classmethod
    def extended(cls, path: Path, matrix: np.ndarray, rows: np.ndarray,
                 total_rows: int) -> HnswGraph:
        """The saved graph at `path` with `rows` of `matrix` added (incremental, no rebuild)."""
        index = _usearch_index().restore(str(path), view=False)
        index.expansion_add = ANN_EXPANSION_ADD
        if rows.size:
            index.add(rows.astype(np.uint64), np.ascontiguousarray(matrix[rows]))
        return cls(index, total_rows)

    def save(self, path: Path) -> None:
        """Write the graph atomically (a temporary file, then a rename)."""
        tmp = path.with_name(path.name + ".tmp")
        self.index.save(str(tmp))
        os.replace(tmp, path)

    @property
    def expansion_search(self) -> int:
        return int(self.index.expansion_search)

    def search(self, query: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, inner products) of up to `want` graph neighbours of `query`, best first;
        rows outside [0, self.rows) (usearch's padding) are dropped."""
        matches = self.index.search(query, want, threads=1)
        rows = np.asarray(matches.keys, dtype=np.int64)
        scores = 1.0 - np.asarray(matches.distances, dtype=np.float32)
        ok = (rows >= 0) & (rows < self.rows)
        return rows[ok], scores[ok]

    def vectors(self, rows: np.ndarray) -> np.ndarray | None:
        """The graph's own (f16, as float32) copies of `rows`; None when one is missing."""
        got = self.index.get(rows.astype(np.uint64), dtype=np.float32)
        parts = list(got) if isinstance(got, tuple) else [got]
        if any(v is None for v in parts):
            return None
        return np.vstack(parts).reshape(rows.size, -1)
