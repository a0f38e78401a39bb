"""Nearest papers to a vector: the public door to the vector index for other features.

Personal recommendations, saved-search alerts ("papers like this one") and similar papers need
the stored paper vectors and a nearest-neighbour query, not the whole of `SearchService`. This
module is what they import; how the index works (files with an HNSW graph on SQLite, pgvector on
PostgreSQL) stays behind it.

`open_neighbours(settings, engine)` returns one `Neighbours` per engine and worker (cached): the
configured model's id and dimension, the stored vectors of given papers, and `nearest()`.
Vectors are unit length (cosine similarity = dot product).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage import embeddings as stored
from paperfeed.storage.search import SearchFilters


class Neighbours(Protocol):
    """What a feature may ask of the vector index."""

    model_id: str
    dim: int

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        filters: SearchFilters | None = None,
        ids: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """The `k` visible papers nearest to `vector` (cosine, best first), among `ids` when
        given and passing `filters`; papers in `exclude` are left out."""
        ...

    def vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those papers that have one (others are absent)."""
        ...


class IndexNeighbours:
    """`Neighbours` over the configured vector index (`search.pgvectors.open_vector_index`)."""

    def __init__(self, engine: Engine, index: Any) -> None:
        self.engine = engine
        self.index = index
        self.model_id = str(index.model_id)
        self.dim = int(index.dim)

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        filters: SearchFilters | None = None,
        ids: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        skip = set(exclude)
        want = k + len(skip)
        if getattr(self.index, "filters_in_sql", False):
            hits = self.index.search(vector, want, ids, filters=filters)
        else:
            # The files hold hidden papers too: over-fetch, then keep the visible ones that
            # pass the filters.
            wide = want if filters is None or not filters.active or ids is not None else want * 5
            hits = self.index.search(vector, wide + 8, ids)
            if hits:
                from paperfeed.storage import search as store

                with self.engine.connect() as conn:
                    keep = set(store.keep_passing(conn, [str(h[0]) for h in hits],
                                                  filters or SearchFilters()))
                hits = [h for h in hits if str(h[0]) in keep]
        return [(str(p), float(s)) for p, s in hits if str(p) not in skip][:k]

    def vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not paper_ids:
            return {}
        with self.engine.connect() as conn:
            ids, _hashes, matrix = stored.load_vectors(conn, self.model_id, paper_ids, self.dim)
        return {pid: matrix[i] for i, pid in enumerate(ids)}


_CACHE: weakref.WeakKeyDictionary[Engine, IndexNeighbours] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def open_neighbours(settings: Settings, engine: Engine) -> Neighbours:
    """The configured model's `Neighbours` for this engine, loaded once per process."""
    with _LOCK:
        found = _CACHE.get(engine)
        if found is None:
            from paperfeed.search.pgvectors import open_vector_index

            found = IndexNeighbours(engine, open_vector_index(settings, engine))
            _CACHE[engine] = found
        return found
