"""Nearest papers to a vector: the public door to the vector index for other features.

Personal recommendations, saved-search alerts ("papers like this one") and similar papers need
the stored paper vectors and a nearest-neighbour query, not the whole of `SearchService`. This
module is what they import; how the index works (vector files with an HNSW graph, or pgvector on
PostgreSQL) stays behind the engine's search backend (`paperfeed.storage.search.backend`).

`open_neighbours(settings, engine)` returns one `Neighbours` per engine and worker (cached): the
configured model's id and dimension, the stored vectors of given papers, `nearest()`, and
`nearest_vectors()` (the nearest papers with their vectors, one read).
Vectors are unit length (cosine similarity = dot product).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.backend import SearchBackend, open_backend
from paperfeed.storage.search import SearchFilters
from paperfeed.storage.search.nearest import NearestVectors

__all__ = ["BackendNeighbours", "NearestVectors", "Neighbours", "open_neighbours"]


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

    def nearest_vectors(
        self,
        vector: np.ndarray,
        k: int,
        *,
        filters: SearchFilters | None = None,
        ids: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> NearestVectors:
        """`nearest` and the hits' stored vectors (`.hits`, `.matrix` row i = hit i) in one
        read, for callers that rescore the nearest papers; a hit whose vector is gone is left
        out."""
        ...

    def vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those papers that have one (others are absent)."""
        ...


class BackendNeighbours:
    """`Neighbours` over the engine's search backend (one per engine and process)."""

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend
        self.model_id = backend.model_id
        self.dim = backend.dim

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        filters: SearchFilters | None = None,
        ids: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        return self.backend.nearest(vector, k, filters=filters, ids=ids, exclude=exclude)

    def nearest_vectors(
        self,
        vector: np.ndarray,
        k: int,
        *,
        filters: SearchFilters | None = None,
        ids: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> NearestVectors:
        return self.backend.nearest_vectors(vector, k, filters=filters, ids=ids, exclude=exclude)

    def vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.backend.vectors(list(paper_ids)) if paper_ids else {}


_CACHE: weakref.WeakKeyDictionary[object, BackendNeighbours] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def open_neighbours(settings: Settings, engine: Engine) -> Neighbours:
    """The configured model's `Neighbours` for this engine, loaded once per process."""
    backend = open_backend(settings, engine)
    with _LOCK:
        found = _CACHE.get(backend)
        if found is None:
            found = _CACHE[backend] = BackendNeighbours(backend)
        return found
