"""The vector files: one embedding model's vectors beside the database, searched exactly or
through an HNSW graph (`graph.py`). The storage engine of the file-based vector index.

Why files: the `embeddings` table is the truth, but scanning it per query is far too slow, so
each model gets a directory under `<data_dir>/vectors/` holding

- `vectors-<gen>.f32`: float32 rows, append-only (memory-mapped by every process),
- `ids-<gen>.txt`: one `paper_id<TAB>text-hash` line per row, append-only,
- `deleted-<gen>.i64`: row numbers of deleted or superseded rows, append-only,
- `ann-<gen>-<rows>.usearch`: the HNSW graph over rows `[0, ann_rows)` when the catalog is large,
- `manifest.json`: how many rows/ids/deletions are valid, replaced atomically.

A writer (the `index` job, or a worker catching up) takes a file lock, appends, and replaces the
manifest; readers only trust what the manifest counts, so a crash mid-append is harmless. Every
process re-reads the manifest when it changes, and compares the database's version stamp
(`storage.embeddings.embeddings_version`) every few seconds to catch up with writes made
elsewhere. Updates are "append the new row, tombstone the old one"; a compaction rewrites the
files (next generation) when tombstones pile up. Rows appended after the graph was saved are
searched exactly and folded into the graph in batches (incremental adds, no rebuild).

The files know nothing of filters or hidden papers: `storage.search.filevectors` adds those.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import PaperfeedError
from paperfeed.storage import embeddings as store
from paperfeed.storage.vectors.graph import ANN_DELTA, ANN_THRESHOLD, HnswGraph

log = logging.getLogger(__name__)

ANN_EXTRA = 16  # graph candidates beyond k, to survive deleted and filtered rows
COMPACT_RATIO = 0.25  # rewrite the files when this share of rows is dead
FILTER_EXACT_MAX = 20_000  # allowed_ids lists up to this size are scanned exactly
GRAPH_READ_MAX = 1_024  # up to this many rows are scored from the graph's vectors (_scores)
HASH_CHARS = 16
FORMAT = 1


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:100]


@dataclass
class Manifest:
    model_id: str
    dim: int
    generation: int = 0
    rows: int = 0
    ids_bytes: int = 0
    deleted: int = 0
    ann_file: str | None = None
    ann_rows: int = 0
    db_version: str | None = None
    format: int = FORMAT

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise PaperfeedError(
                f"vectors: {path} is corrupt ({exc}); delete the directory and run "
                "`paperfeed index` to rebuild it"
            ) from exc
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__), "utf-8")
        os.replace(tmp, path)


def _id_lines(raw: bytes) -> list[bytes]:
    """The ids of `paper_id<TAB>hash` lines (one per row; the file ends with a newline)."""
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line.split(b"\t", 1)[0] for line in lines]


def _as_keys(ids: Sequence[bytes], width: int = 1) -> np.ndarray:
    """UTF-8 ids as one fixed-width bytes array (no Python object per id)."""
    return np.array(ids, dtype=f"S{max([width, *map(len, ids)])}")


def _parse_ids(raw: bytes, width: int = 1) -> np.ndarray:
    """The ids of `paper_id<TAB>hash` lines as fixed-width bytes, read with numpy: no
    Python object per row even while loading (a worker opening 1M rows would otherwise make
    and drop ~2M of them). Anything unexpected (a line without exactly one tab, no final
    newline) takes the plain path, which reads what it can."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    tabs = np.flatnonzero(buf == 9)
    if not raw.endswith(b"\n") or tabs.size != ends.size:
        return _as_keys(_id_lines(raw), width)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if not ((tabs >= starts) & (tabs < ends)).all():
        return _as_keys(_id_lines(raw), width)
    lengths = tabs - starts
    longest = int(lengths.max()) if lengths.size else 0
    out = np.zeros((ends.size, max(width, longest, 1)), dtype=np.uint8)
    for j in range(longest):  # one column of bytes at a time
        sel = lengths > j
        out[sel, j] = buf[starts[sel] + j]
    return out.view(f"S{out.shape[1]}").reshape(-1)


@dataclass
class _State:
    """What one process has loaded; replaced as a whole, so searches never see half an update.

    Rows and paper ids are numpy arrays, not a list and a dict of Python strings: those cost
    ~20 MB per web worker at 80k rows (~250 MB at 1M), private to each worker (reference counts
    and the collector write to every object's page), where these are ~3 MB. An id's row is
    found by binary search in `keys` (the ids sorted, stably: rows of one id ascending, so its
    last row is the last match), a few microseconds for one and vectorised for a list."""

    manifest: Manifest
    signature: tuple[int, int, int]
    matrix: np.ndarray  # (rows, dim) memmap, read-only
    ids: np.ndarray  # S<width>: the UTF-8 paper id of each row
    kept: np.ndarray  # bool per row: not tombstoned
    keys: np.ndarray  # `ids` sorted (stable)
    key_rows: np.ndarray  # int64: the row of each key
    alive: np.ndarray = field(init=False)  # bool per row: kept and the id's latest row
    live: int = field(init=False)  # papers with a live row
    ann: HnswGraph | None = None

    def __post_init__(self) -> None:
        latest = np.ones(self.keys.shape[0], dtype=bool)
        if latest.size > 1:
            latest[:-1] = self.keys[1:] != self.keys[:-1]
        alive = np.zeros(self.ids.shape[0], dtype=bool)
        alive[self.key_rows[latest]] = True
        self.alive = alive & self.kept
        self.live = int(self.alive.sum())

    @classmethod
    def build(cls, manifest: Manifest, signature: tuple[int, int, int], matrix: np.ndarray,
              ids: np.ndarray, kept: np.ndarray, ann: HnswGraph | None,
              prev: _State | None = None) -> _State:
        """The state over `ids`; with `prev`, `ids` only extends `prev.ids` (rows appended):
        the new keys are merged into the sorted ones instead of sorting all again."""
        if prev is None or prev.ids.shape[0] == 0:
            key_rows = np.argsort(ids, kind="stable").astype(np.int64)
            keys = ids[key_rows]
        else:
            start = prev.ids.shape[0]
            new = ids[start:]
            order = np.argsort(new, kind="stable")
            keys = prev.keys.astype(ids.dtype)
            at = np.searchsorted(keys, new[order], side="right")  # after equal (older) rows
            keys = np.insert(keys, at, new[order])
            key_rows = np.insert(prev.key_rows, at, order.astype(np.int64) + start)
        return cls(manifest, signature, matrix, ids, kept, keys, key_rows, ann)

    def _lookup(self, pids: Sequence[str]) -> np.ndarray:
        """The live row of each of `pids`, -1 where it has none."""
        width = self.keys.dtype.itemsize
        enc = [p.encode("utf-8", "replace") for p in pids]
        # an id longer than any stored, or ending in NUL (which fixed-width bytes drop), is not
        # stored: keep it from matching a prefix of another
        ok = np.fromiter((len(e) <= width and not e.endswith(b"\0") for e in enc), dtype=bool,
                         count=len(enc))
        out = np.full(len(enc), -1, dtype=np.int64)
        if not self.keys.size or not ok.any():
            return out
        q = np.array([e for e, good in zip(enc, ok, strict=True) if good],
                     dtype=self.keys.dtype)
        at = np.searchsorted(self.keys, q, side="right") - 1
        safe = np.maximum(at, 0)
        found = (at >= 0) & (self.keys[safe] == q)
        rows = np.where(found, self.key_rows[safe], -1)
        rows[found] = np.where(self.alive[rows[found]], rows[found], -1)
        out[ok] = rows
        return out

    def row(self, pid: str) -> int | None:
        """The live row of `pid`, or None."""
        r = int(self._lookup([pid])[0])
        return None if r < 0 else r

    def rows_of(self, pids: Sequence[str]) -> np.ndarray:
        """The live rows of those of `pids` that have one (in their order)."""
        rows = self._lookup(pids)
        return rows[rows >= 0]

    def id_at(self, row: int) -> str:
        return bytes(self.ids[row]).decode("utf-8")

    def live_ids(self) -> dict[str, int]:
        """paper id -> live row, for the writers' bookkeeping (not kept in memory)."""
        rows = np.flatnonzero(self.alive)
        return {bytes(i).decode("utf-8"): int(r) for i, r in zip(self.ids[rows], rows,
                                                                 strict=True)}


class VectorFiles:
    """Nearest-neighbour search over the stored vectors of one embedding model (no filters)."""

    def __init__(self, directory: Path, model_id: str, dim: int, *, check_every: float = 2.0):
        self.directory = directory
        self.model_id = model_id
        self.dim = dim
        self.check_every = check_every
        self.ann_threshold = ANN_THRESHOLD
        self._engine: Engine | None = None
        self._last_check = 0.0
        self._lock = threading.RLock()
        self._deferred = 0  # > 0 inside bulk(): graph upkeep waits for the end of the block
        self.directory.mkdir(parents=True, exist_ok=True)
        self._state = self._load()

    # -- opening and loading ----------------------------------------------------------------
    @classmethod
    def open(
        cls, data_dir: Path, model_id: str, dim: int | None, engine: Engine | None = None
    ) -> VectorFiles:
        """The files of `model_id` under `data_dir/vectors`, brought up to date with the
        database when `engine` is given. `dim` None: the width the files were written with."""
        directory = Path(data_dir) / "vectors" / _slug(model_id)
        if dim is None:
            known = Manifest.read(directory / "manifest.json")
            if known is None:
                raise PaperfeedError(f"vectors: the width of {model_id} vectors is unknown; "
                                     "run `paperfeed index` first")
            dim = known.dim
        files = cls(directory, model_id, dim)
        if engine is not None:
            files._engine = engine
            files.sync(engine)
        return files

    @property
    def _manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def _files(self, m: Manifest) -> tuple[Path, Path, Path]:
        g = m.generation
        d = self.directory
        return d / f"vectors-{g}.f32", d / f"ids-{g}.txt", d / f"deleted-{g}.i64"

    def _signature(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self._manifest_path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> _State:
        """Load the files the manifest describes; when only rows were appended or deleted
        since the state in memory (same generation), read just the new tail (cheap at 1M)."""
        sig = self._signature()
        m = Manifest.read(self._manifest_path) or Manifest(self.model_id, self.dim)
        if m.model_id != self.model_id or m.dim != self.dim:
            raise PaperfeedError(
                f"vectors: {self.directory} holds {m.model_id} ({m.dim}-d) vectors, expected "
                f"{self.model_id}; delete the directory and run `paperfeed index`"
            )
        vec_path, ids_path, del_path = self._files(m)
        prev: _State | None = getattr(self, "_state", None)
        p = prev.manifest if prev is not None else None
        incremental = (
            prev is not None and p is not None and p.generation == m.generation
            and p.rows <= m.rows and p.ids_bytes <= m.ids_bytes and p.deleted <= m.deleted
        )
        start_row, start_bytes, start_del = (
            (p.rows, p.ids_bytes, p.deleted) if incremental and p is not None else (0, 0, 0)
        )
        raw = b""
        if m.ids_bytes > start_bytes:
            with ids_path.open("rb") as fh:
                fh.seek(start_bytes)
                raw = fh.read(m.ids_bytes - start_bytes)
        if prev is not None and incremental:
            width = prev.ids.dtype.itemsize
            ids = np.concatenate([prev.ids, _parse_ids(raw, width)]) if raw else prev.ids
            kept = np.concatenate([prev.kept, np.ones(m.rows - start_row, dtype=bool)])
        else:
            ids, kept = _parse_ids(raw), np.ones(m.rows, dtype=bool)
        if ids.shape[0] != m.rows:
            raise PaperfeedError(f"vectors: {ids_path} has {ids.shape[0]} ids for {m.rows} rows; "
                                 "delete the directory and run `paperfeed index`")
        if m.deleted > start_del:
            with del_path.open("rb") as fh:
                fh.seek(start_del * 8)
                dead = np.frombuffer(fh.read((m.deleted - start_del) * 8), dtype="<i8")
            kept[dead] = False
        matrix = (np.memmap(vec_path, dtype=np.float32, mode="r", shape=(m.rows, m.dim))
                  if m.rows else np.zeros((0, m.dim), dtype=np.float32))
        ann = None
        if m.ann_file:
            if prev is not None and p is not None and p.ann_file == m.ann_file:
                ann = prev.ann
            else:
                ann = HnswGraph.open(self.directory / m.ann_file, m.ann_rows)
        return _State.build(m, sig, matrix, ids, kept, ann, prev if incremental else None)

    def refresh(self, *, force: bool = False) -> None:
        """Reload when another process changed the files; catch up with the database when its
        version stamp moved (checked at most every `check_every` seconds)."""
        if self._signature() != self._state.signature:
            with self._lock:
                if self._signature() != self._state.signature:
                    self._state = self._load()
        engine = self._engine
        now = time.monotonic()
        if engine is not None and (force or now - self._last_check >= self.check_every):
            self._last_check = now
            with engine.connect() as conn:
                version = store.embeddings_version(conn)
            if version != self._state.manifest.db_version:
                self.sync(engine)

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._state.live

    @property
    def uses_ann(self) -> bool:
        return self._state.ann is not None

    def expansion_search(self) -> int | None:
        """The graph's search effort (HNSW ef) in use; None when there is no graph."""
        ann = self._state.ann
        return None if ann is None else ann.expansion_search

    def __contains__(self, paper_id: object) -> bool:
        return isinstance(paper_id, str) and self._state.row(paper_id) is not None

    def vector(self, paper_id: str) -> np.ndarray | None:
        st = self._state
        row = st.row(paper_id)
        return None if row is None else np.array(st.matrix[row])

    def search(
        self, query_vec: np.ndarray, k: int, allowed_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The `k` nearest live papers by cosine similarity (vectors are normalised), best first;
        restricted to `allowed_ids` when given."""
        self.refresh()
        st = self._state
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise PaperfeedError(f"vectors: query has {q.shape[0]} dims, index has {self.dim}")
        if k <= 0 or st.live == 0:
            return []
        if allowed_ids is not None:
            rows = st.rows_of(allowed_ids)
            if rows.size == 0:
                return []
            if st.ann is None or rows.size <= FILTER_EXACT_MAX:
                return self._rank(st, np.unique(rows), q, k)
            allowed = np.zeros(st.manifest.rows, dtype=bool)
            allowed[rows] = True
            return self._ann_search(st, q, k, allowed)
        if st.ann is None:
            return self._exact(st, q, k)
        return self._ann_search(st, q, k, None)

    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]:
        """Nearest neighbours of a paper's stored vector (itself excluded); [] without one."""
        self.refresh()
        vec = self.vector(paper_id)
        if vec is None:
            return []
        return [hit for hit in self.search(vec, k + 1) if hit[0] != paper_id][:k]

    def _exact(self, st: _State, q: np.ndarray, k: int) -> list[tuple[str, float]]:
        scores = st.matrix @ q
        if st.live < st.manifest.rows:
            scores[~st.alive] = -np.inf
        return self._top(st, np.arange(scores.shape[0]), scores, k)

    def _rank(self, st: _State, rows: np.ndarray, q: np.ndarray, k: int) -> list[tuple[str, float]]:
        rows = np.sort(rows)  # sequential reads of the memory map
        return self._top(st, rows, self._scores(st, rows, q), k)

    @staticmethod
    def _scores(st: _State, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """q . each row. A few rows already in the graph (hybrid search rescoring its keyword
        hits) are read from the graph's own f16 copy, which searching keeps paged in anyway:
        reading them from the float32 matrix instead paged ~0.9 GB of it into every worker at
        1M rows (each random row read maps its whole 64 KB neighbourhood)."""
        if st.ann is None or rows.size > GRAPH_READ_MAX:
            return st.matrix[rows] @ q
        in_graph = rows < st.manifest.ann_rows
        scores = np.empty(rows.size, dtype=np.float32)
        if in_graph.any():
            got = st.ann.vectors(rows[in_graph])
            if got is None:  # not in the graph after all: read the matrix
                return st.matrix[rows] @ q
            scores[in_graph] = got @ q
        if not in_graph.all():
            scores[~in_graph] = st.matrix[rows[~in_graph]] @ q
        return scores

    @staticmethod
    def _top(st: _State, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        k = min(k, scores.shape[0])
        part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
        best = part[np.argsort(-scores[part], kind="stable")]
        return [
            (st.id_at(int(rows[i])), float(scores[i])) for i in best if np.isfinite(scores[i])
        ]

    def _ann_search(
        self, st: _State, q: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> list[tuple[str, float]]:
        """Graph candidates scored by the graph's own (f16) inner products, so serving never
        pages the float32 matrix in; rows appended since the graph was saved are scanned
        exactly."""
        m = st.manifest
        assert st.ann is not None
        want = int((k + ANN_EXTRA) * m.rows / max(st.live, 1))
        if allowed is not None:
            want = max(want, int(want * m.rows / max(int(allowed.sum()), 1)))
        want = min(want, max(m.ann_rows, 1))
        rows, scores = st.ann.search(q, want)
        keep = st.alive[rows]
        if allowed is not None:
            keep &= allowed[rows]
        rows, scores = rows[keep], scores[keep]
        if m.rows > m.ann_rows:  # the tail not yet in the graph
            tail = np.arange(m.ann_rows, m.rows, dtype=np.int64)
            tail = tail[st.alive[tail] & (allowed[tail] if allowed is not None else True)]
            if tail.size:
                rows = np.concatenate([rows, tail])
                scores = np.concatenate([scores, st.matrix[tail] @ q])
        if rows.size < k and allowed is not None:  # filter too selective for the graph
            return self._rank(st, np.flatnonzero(allowed & st.alive), q, k)
        if rows.size == 0:
            return []
        return self._top(st, rows, scores, k)

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[Manifest]:
        """Exclusive write access (a file lock across processes); yields a fresh manifest that
        the block edits; it is written (atomically) and reloaded at the end."""
        with self._lock, open(self.directory / "lock", "a+b") as lock_fh:
            fcntl.flock(lock_fh, fcntl.LOCK_EX)
            try:
                if self._signature() != self._state.signature:  # another process wrote
                    self._state = self._load()
                m = Manifest.read(self._manifest_path) or Manifest(self.model_id, self.dim)
                yield m
                m.write(self._manifest_path)
                self._state = self._load()
            finally:
                fcntl.flock(lock_fh, fcntl.LOCK_UN)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Defer the graph upkeep (HNSW build or extension) of adds and removes made inside the
        block to its end: a big import then pays one graph build instead of an extension (a
        load and save of the whole graph) every `ANN_DELTA` rows, which at 1M rows is hundreds
        of gigabytes of I/O. Rows added meanwhile are searched exactly, so results stay right."""
        with self._lock:
            self._deferred += 1
        try:
            yield
        finally:
            with self._lock:
                self._deferred -= 1
                if self._deferred == 0:
                    with self._writing() as m:
                        self._maintain(m)

    def add(
        self,
        ids: Sequence[str],
        vecs: np.ndarray,
        hashes: Sequence[str] | None = None,
        *,
        db_version: str | None = None,
    ) -> int:
        """Add or replace vectors (rows are L2-normalised here). Returns how many were added.

        `hashes` are the stored content hashes and `db_version` the stamp returned by
        `storage.embeddings.store_embeddings` for the same rows: with them, the index knows it
        is in step with the table and skips a catch-up scan."""
        vecs = np.asarray(vecs, dtype=np.float32).reshape(len(ids), -1) if len(ids) else vecs
        if not len(ids):
            return 0
        if vecs.shape != (len(ids), self.dim):
            raise PaperfeedError(
                f"vectors: got vectors of shape {vecs.shape}, expected ({len(ids)}, {self.dim})"
            )
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = np.ascontiguousarray(vecs / np.maximum(norms, 1e-12), dtype="<f4")
        hashes = list(hashes) if hashes is not None else [""] * len(ids)
        # last occurrence of an id wins
        last = {pid: i for i, pid in enumerate(ids)}
        order = sorted(last.values())
        with self._writing() as m:
            st = self._state
            dead = st.rows_of([ids[i] for i in order]).tolist()
            self._append(m, [ids[i] for i in order], [hashes[i][:HASH_CHARS] for i in order],
                         vecs[order])
            self._tombstone(m, dead)
            self._maintain(m)
            if db_version is not None:
                m.db_version = db_version
        return len(order)

    def remove(self, ids: Sequence[str]) -> int:
        """Delete the vectors of `ids` (unknown ids are ignored). Returns how many were live."""
        st = self._state
        if not st.rows_of(ids).size:
            return 0
        with self._writing() as m:
            dead = np.unique(self._state.rows_of(list(ids))).tolist()
            self._tombstone(m, dead)
            self._maintain(m)
        return len(dead)

    def _append(self, m: Manifest, ids: list[str], hashes: list[str], vecs: np.ndarray) -> None:
        vec_path, ids_path, _ = self._files(m)
        with vec_path.open("ab") as fh:
            fh.truncate(m.rows * m.dim * 4)  # drop bytes of a crashed append
            fh.write(vecs.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        data = "".join(f"{i}\t{h}\n" for i, h in zip(ids, hashes, strict=True)).encode("utf-8")
        with ids_path.open("ab") as fh:
            fh.truncate(m.ids_bytes)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        m.rows += len(ids)
        m.ids_bytes += len(data)

    def _tombstone(self, m: Manifest, rows: list[int]) -> None:
        if not rows:
            return
        _, _, del_path = self._files(m)
        with del_path.open("ab") as fh:
            fh.truncate(m.deleted * 8)
            fh.write(np.asarray(rows, dtype="<i8").tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        m.deleted += len(rows)

    def _maintain(self, m: Manifest) -> None:
        """Compact when many rows are dead; keep the ANN graph in line with the size."""
        live = m.rows - self._count_dead(m)
        if m.rows >= 1024 and (m.rows - live) > COMPACT_RATIO * m.rows:
            self._compact(m)
        if self._deferred:
            return
        if live < self.ann_threshold:
            if m.ann_file:
                self._drop_ann(m)
            return
        if m.ann_file is None:
            self._build_ann(m)
        elif m.rows - m.ann_rows >= ANN_DELTA:
            self._extend_ann(m)

    def _count_dead(self, m: Manifest) -> int:
        if not m.deleted:
            return 0
        _, _, del_path = self._files(m)
        return int(np.unique(np.fromfile(del_path, dtype="<i8", count=m.deleted)).size)

    def _live_rows(self, m: Manifest) -> tuple[np.ndarray, np.ndarray, list[str]]:
        vec_path, ids_path, del_path = self._files(m)
        matrix = np.memmap(vec_path, dtype=np.float32, mode="r", shape=(m.rows, m.dim))
        with ids_path.open("rb") as fh:
            lines = fh.read(m.ids_bytes).decode("utf-8").split("\n")[: m.rows]
        alive = np.ones(m.rows, dtype=bool)
        if m.deleted:
            alive[np.fromfile(del_path, dtype="<i8", count=m.deleted)] = False
        return matrix, alive, lines

    def _compact(self, m: Manifest) -> None:
        matrix, alive, lines = self._live_rows(m)
        old = self._files(m)
        rows = np.flatnonzero(alive)
        new = Manifest(m.model_id, m.dim, generation=m.generation + 1,
                       db_version=m.db_version)
        vec_path, ids_path, _ = self._files(new)
        for path in (vec_path, ids_path):
            path.unlink(missing_ok=True)
        chunk = 65_536
        for start in range(0, rows.size, chunk):
            part = rows[start : start + chunk]
            keep_lines = [lines[r].split("\t") for r in part.tolist()]
            self._append(new, [x[0] for x in keep_lines], [x[1] if len(x) > 1 else ""
                                                           for x in keep_lines],
                         np.ascontiguousarray(matrix[part]))
        if m.ann_file:
            self._drop_ann(m)
        m.__dict__.update(new.__dict__)
        for path in old:
            path.unlink(missing_ok=True)
        log.info("vectors: compacted %s to %d rows", self.directory, m.rows)

    def _save_ann(self, m: Manifest, ann: HnswGraph) -> None:
        name = f"ann-{m.generation}-{ann.rows}.usearch"
        ann.save(self.directory / name)
        old = m.ann_file
        m.ann_file, m.ann_rows = name, ann.rows
        if old and old != name:
            (self.directory / old).unlink(missing_ok=True)

    def _build_ann(self, m: Manifest) -> None:
        matrix, alive, _ = self._live_rows(m)
        rows = np.flatnonzero(alive)
        self._save_ann(m, HnswGraph.build(m.dim, matrix, rows, m.rows))
        log.info("vectors: built an HNSW graph over %d vectors", rows.size)

    def _extend_ann(self, m: Manifest) -> None:
        assert m.ann_file is not None
        matrix, alive, _ = self._live_rows(m)
        rows = np.arange(m.ann_rows, m.rows)
        rows = rows[alive[rows]]
        self._save_ann(m, HnswGraph.extended(self.directory / m.ann_file, matrix, rows, m.rows))

    def _drop_ann(self, m: Manifest) -> None:
        if m.ann_file:
            (self.directory / m.ann_file).unlink(missing_ok=True)
        m.ann_file, m.ann_rows = None, 0

    # -- catching up with the database -------------------------------------------------------
    def sync(self, engine: Engine) -> tuple[int, int]:
        """Bring the files in line with the `embeddings` table (this model's vectors): add what
        is missing or changed, remove what is gone. Returns (added, removed)."""
        self._engine = engine
        self._last_check = time.monotonic()
        with engine.connect() as conn:
            version = store.embeddings_version(conn)
            m0 = self._state.manifest
            if version == m0.db_version and (version is not None or m0.rows == 0):
                return (0, 0)  # in step (or nothing stored anywhere yet)
            wanted = {pid: h[:HASH_CHARS] for pid, h in store.stored_hashes(conn, self.model_id)
                      .items()}
        with self._writing() as m:
            if version is not None and m.db_version == version:
                return (0, 0)  # another process caught up while we waited for the lock
            live = self._state.live_ids()
            have: dict[str, str] = {}
            if m.rows:
                _, _, lines = self._live_rows(m)
                for pid, row in live.items():
                    parts = lines[row].split("\t")
                    have[pid] = parts[1] if len(parts) > 1 else ""
            stale = [pid for pid, h in have.items() if wanted.get(pid) != h]
            missing = [pid for pid, h in wanted.items() if have.get(pid) != h]
            self._tombstone(m, [live[pid] for pid in stale])
            added = 0
            with engine.connect() as conn:
                for start in range(0, len(missing), 5000):
                    ids, hashes, mat = store.load_vectors(
                        conn, self.model_id, missing[start : start + 5000], self.dim
                    )
                    if ids:
                        self._append(m, ids, [h[:HASH_CHARS] for h in hashes], mat)
                        added += len(ids)
            self._maintain(m)
            m.db_version = version
        if added or stale:
            log.info("vectors: synced %s: +%d -%d", self.directory.name, added, len(stale))
        return added, len(stale)


def prune_other_models(data_dir: Path, keep_model_id: str) -> list[str]:
    """Delete the index directories of models other than `keep_model_id` under
    data_dir/vectors; returns their model ids.

    Call only once the configured model has embedded every paper (the indexing job does):
    until then a web worker still configured with the old model may be serving from its
    files. Directories without a readable manifest are not ours to judge and stay."""
    root = Path(data_dir) / "vectors"
    removed: list[str] = []
    if not root.is_dir():
        return removed
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            manifest = Manifest.read(directory / "manifest.json")
        except PaperfeedError:
            continue
        if manifest is None or manifest.model_id == keep_model_id:
            continue
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(manifest.model_id)
        log.info("vectors: removed the index of the previous model %s", manifest.model_id)
    return removed
