"""The vector side of a search backend: nearest visible papers to a vector, passing filters.

Two stores answer it, behind one interface (`VectorSide`, checked by one contract test):

- `FileVectors`: the vector files beside the database (`storage.vectors`: memory-mapped rows,
  HNSW graph for large catalogs). The files know nothing of the catalog, so filters and hidden
  papers are applied around them in SQL: a filter passing at most `ALLOWED_MAX` papers becomes
  an id list the files rank exactly; broader ones post-filter an oversampled answer.
- `PgVectors`: PostgreSQL + pgvector (`pgvector.py`): filters and hidden papers are part of the
  nearest-vector query itself, so web workers hold no vector state at all.

How a pgvector query is answered: no filters → the model's HNSW index (`hnsw.ef_search` =
max(200, k + excluded papers + 50), `ef_for`); filters passing at most `ALLOWED_MAX` papers,
or an explicit id list → an exact scan of just those rows; broader filters → HNSW with the
filters in the same WHERE (`hnsw.iterative_scan` on pgvector >= 0.8, else ef_search = 1000).
When the graph returns fewer than k rows (hidden or excluded papers took its slots) an exact
scan answers, so results are never silently short.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import PaperfeedError
from paperfeed.storage import embeddings as stored
from paperfeed.storage.db import write
from paperfeed.storage.search import pgvector as sql
from paperfeed.storage.search.filters import SearchFilters, allowed_ids, count_passing, passing
from paperfeed.storage.vectors.files import VectorFiles, prune_other_models

log = logging.getLogger(__name__)

ALLOWED_MAX = 20_000  # filters passing at most this many papers are searched exactly
EF_FILTERED = 1000  # pgvector ef_search for broad filters without iterative scans (< 0.8)
OVERSAMPLE = 5  # post-filtered file searches ask for this many times k
EF_MARGIN = 50  # unfiltered pgvector searches: ef_search = k + excluded papers + this


def ef_for(k: int, excluded: int) -> int:
    """`hnsw.ef_search` for an unfiltered search of `k` hits leaving `excluded` papers out.

    pgvector (< 0.8) returns at most ef_search rows from the graph and applies the exclusion
    after it, and the papers a member already acted on are the very ones nearest to their
    taste: each takes a slot, so they are counted in. The margin covers hidden papers and
    recall: on the 80k catalog a member's top 50 of the 200 nearest agrees with the exact
    one on 99.9% of papers at k + excluded + 50 (100% at 2k, which costs ~30% more server
    time; bench/README.md "For you: speed"). `sql.nearest` keeps the floor of 200."""
    return k + excluded + EF_MARGIN


@dataclass(frozen=True, slots=True)
class NearestVectors:
    """What `nearest` answers plus each hit's stored vector: `hits` (paper id, cosine), best
    first, and `matrix`, whose row i is the vector of `hits[i]`. For callers that rescore the
    nearest papers (a member's catalog ranking): one read instead of two."""

    hits: list[tuple[str, float]]
    matrix: np.ndarray

    @property
    def ids(self) -> list[str]:
        return [pid for pid, _ in self.hits]


_Found = tuple[list[tuple[str, float]], np.ndarray]


def _hits_only(*args: Any, **kwargs: Any) -> _Found:
    """`sql.nearest` shaped like `sql.nearest_vectors` (an empty matrix), so one planner
    (`PgVectors._search`) serves both reads."""
    return sql.nearest(*args, **kwargs), np.zeros((0, 0), dtype=np.float32)


class VectorSide(Protocol):
    """Nearest-vector search and vector upkeep for one embedding model."""

    kind: str  # "files" | "pgvector"
    model_id: str
    dim: int

    def nearest(self, vector: np.ndarray, k: int, *, filters: SearchFilters | None = None,
                ids: Sequence[str] | None = None,
                exclude: Collection[str] = ()) -> list[tuple[str, float]]: ...
    def nearest_vectors(self, vector: np.ndarray, k: int, *,
                        filters: SearchFilters | None = None, ids: Sequence[str] | None = None,
                        exclude: Collection[str] = ()) -> NearestVectors: ...
    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def count(self) -> int: ...
    def uses_ann(self) -> bool: ...
    def add(self, ids: Sequence[str], vecs: np.ndarray, hashes: Sequence[str] | None = None, *,
            db_version: str | None = None) -> int: ...
    def remove(self, ids: Sequence[str]) -> int: ...
    def bulk(self) -> AbstractContextManager[None]: ...
    def sync(self) -> tuple[int, int]: ...
    def retire_other_models(self) -> list[str]: ...


def _query(vector: np.ndarray, dim: int) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise PaperfeedError(f"vectors: query has {q.shape[0]} dims, index has {dim}")
    return q


def stored_vectors(engine: Engine, model_id: str, dim: int,
                   ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored `model_id` vectors of those of `ids` that have one."""
    if not ids:
        return {}
    with engine.connect() as conn:
        found, _hashes, matrix = stored.load_vectors(conn, model_id, list(ids), dim)
    return {pid: matrix[i] for i, pid in enumerate(found)}


def with_stored_vectors(hits: list[tuple[str, float]], found: dict[str, np.ndarray],
                        dim: int) -> NearestVectors:
    """`hits` that have a vector in `found`, with those vectors as a matrix."""
    kept = [h for h in hits if h[0] in found]
    matrix = (np.stack([found[p] for p, _ in kept]) if kept
              else np.zeros((0, dim), dtype=np.float32))
    return NearestVectors(kept, matrix)


class FileVectors:
    """The vector files, with filters and hidden papers applied in SQL around them."""

    kind = "files"

    def __init__(self, engine: Engine, data_dir: Path, model_id: str, dim: int) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.model_id = model_id
        self.dim = dim
        self.files = VectorFiles.open(data_dir, model_id, dim, engine)

    def nearest(self, vector: np.ndarray, k: int, *, filters: SearchFilters | None = None,
                ids: Sequence[str] | None = None,
                exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        q = _query(vector, self.dim)
        filters = filters or SearchFilters()
        skip = set(exclude)
        want = k + len(skip)
        if k <= 0:
            return []
        with self.engine.connect() as conn:
            if ids is not None:
                allowed: list[str] | None = passing(conn, list(dict.fromkeys(ids)), filters)
            else:
                allowed = allowed_ids(conn, filters, limit=ALLOWED_MAX) if filters.active \
                    else None
            if allowed is not None:  # exact over just these papers
                hits = self.files.search(q, want, allowed) if allowed else []
            else:  # oversample, then keep the visible papers passing the filters
                wide = want * OVERSAMPLE if filters.active else want + 16
                while True:
                    raw = self.files.search(q, wide)
                    keep = set(passing(conn, [h[0] for h in raw], filters))
                    hits = [h for h in raw if h[0] in keep]
                    if len(hits) >= want or len(raw) < wide or wide >= len(self.files):
                        break
                    wide *= 4
        return [(p, float(s)) for p, s in hits if p not in skip][:k]

    def nearest_vectors(self, vector: np.ndarray, k: int, *,
                        filters: SearchFilters | None = None, ids: Sequence[str] | None = None,
                        exclude: Collection[str] = ()) -> NearestVectors:
        """`nearest`, with the hits' vectors read from the embeddings table (an in-process
        read by primary key here); a hit whose row was deleted since the files last synced
        is left out."""
        hits = self.nearest(vector, k, filters=filters, ids=ids, exclude=exclude)
        return with_stored_vectors(hits, self.vectors([p for p, _ in hits]), self.dim)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        if not ids:
            return {}
        return dict(self.files.search(_query(vector, self.dim), len(ids), list(ids)))

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """From the embeddings table, not the files: a paper another process just embedded is
        there before this process's files catch up."""
        return stored_vectors(self.engine, self.model_id, self.dim, ids)

    def count(self) -> int:
        return len(self.files)

    def uses_ann(self) -> bool:
        return self.files.uses_ann

    def add(self, ids: Sequence[str], vecs: np.ndarray, hashes: Sequence[str] | None = None, *,
            db_version: str | None = None) -> int:
        return self.files.add(ids, vecs, hashes, db_version=db_version)

    def remove(self, ids: Sequence[str]) -> int:
        return self.files.remove(ids)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        with self.files.bulk():
            yield

    def sync(self) -> tuple[int, int]:
        return self.files.sync(self.engine)

    def retire_other_models(self) -> list[str]:
        """Delete other models' vector files (call once every paper has this model's vector:
        until then a worker still configured with the old model may be serving from them)."""
        return prune_other_models(self.data_dir, self.model_id)


class PgVectors:
    """Nearest vectors from `embeddings.embedding` (pgvector) for one model; stateless."""

    kind = "pgvector"

    def __init__(self, engine: Engine, model_id: str, dim: int, info: sql.PgVectorInfo) -> None:
        self.engine = engine
        self.model_id = model_id
        self.dim = int(dim)
        self.info = info

    def nearest(self, vector: np.ndarray, k: int, *, filters: SearchFilters | None = None,
                ids: Sequence[str] | None = None,
                exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        return self._search(_hits_only, vector, k, filters, ids, exclude)[0]

    def nearest_vectors(self, vector: np.ndarray, k: int, *,
                        filters: SearchFilters | None = None, ids: Sequence[str] | None = None,
                        exclude: Collection[str] = ()) -> NearestVectors:
        """`nearest` with the hits' vectors returned by the same query (one round trip)."""
        if k <= 0:
            return NearestVectors([], np.zeros((0, self.dim), dtype=np.float32))
        hits, matrix = self._search(sql.nearest_vectors, vector, k, filters, ids, exclude)
        return NearestVectors(hits, matrix)

    def _search(self, fetch: Callable[..., _Found], vector: np.ndarray, k: int,
                filters: SearchFilters | None, ids: Sequence[str] | None,
                exclude: Collection[str]) -> _Found:
        """Pick the plan (module docstring) for `k` > 0 hits and run `fetch`
        (`sql.nearest_vectors`, or `_hits_only` when the vectors are not wanted) with it."""
        q = _query(vector, self.dim)
        filters = filters or SearchFilters()
        skip = list(exclude)
        m, d = self.model_id, self.dim
        with self.engine.connect() as conn:
            if ids is not None:
                return fetch(conn, m, d, q, k, filters=filters, ids=list(dict.fromkeys(ids)),
                             exact=True, exclude=skip)
            if not filters.active:
                found = fetch(conn, m, d, q, k, ef_search=ef_for(k, len(skip)), exclude=skip)
            elif count_passing(conn, filters, limit=ALLOWED_MAX) <= ALLOWED_MAX:
                return fetch(conn, m, d, q, k, filters=filters, exact=True, exclude=skip)
            else:
                iterative = self.info.iterative_scan
                found = fetch(conn, m, d, q, k, filters=filters,
                              ef_search=2 * k if iterative else EF_FILTERED,
                              iterative_scan=iterative, exclude=skip)
        if len(found[0]) >= k:
            return found
        with self.engine.connect() as conn:  # the graph ran dry before k rows passed
            return fetch(conn, m, d, q, k, filters=filters, exact=True, exclude=skip)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        return dict(self.nearest(vector, len(ids), ids=ids)) if ids else {}

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return stored_vectors(self.engine, self.model_id, self.dim, ids)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return sql.count(conn, self.model_id)

    def uses_ann(self) -> bool:
        """True when the model's HNSW index exists (else PostgreSQL scans exactly)."""
        with self.engine.connect() as conn:
            return sql.hnsw_index_exists(conn, self.model_id, self.dim)

    def add(self, ids: Sequence[str], vecs: np.ndarray, hashes: Sequence[str] | None = None, *,
            db_version: str | None = None) -> int:
        """Nothing to do: `store_embeddings` already wrote the vectors into the column."""
        return len(set(ids))

    def remove(self, ids: Sequence[str]) -> int:
        """Nothing to do: deleting the `embeddings` rows (or the papers) removes the vectors."""
        return 0

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Nothing to defer: PostgreSQL keeps the HNSW index in step as rows are written."""
        yield

    def sync(self) -> tuple[int, int]:
        """Fill `embedding` for rows stored without it (before migration 0005) and create the
        model's HNSW index when missing. Idempotent; web workers never call it."""
        filled = 0
        while True:
            with write(self.engine) as conn:
                n = sql.backfill(conn, self.model_id, self.dim)
            filled += n
            if n < sql.BACKFILL_BATCH:
                break
        with write(self.engine) as conn:
            if sql.ensure_hnsw_index(conn, self.model_id, self.dim):
                log.info("vectors: created the HNSW index %s",
                         sql.index_name(self.model_id, self.dim))
        return filled, 0

    def retire_other_models(self) -> list[str]:
        """Drop other models' HNSW indexes once no vector of theirs is left."""
        with write(self.engine) as conn:
            names = sql.drop_other_hnsw_indexes(conn, self.model_id, self.dim)
        for name in names:
            log.info("vectors: dropped %s (a previous model's HNSW index)", name)
        return names
