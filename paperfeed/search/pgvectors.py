"""The vector index on PostgreSQL + pgvector, and the choice between it and the index files.

`PgVectorIndex` offers what `SearchService` and the indexing job use from `vectors.VectorIndex`
(search, similar, vector, len/in, refresh, sync, uses_ann), but holds no state: every call is a
query on `embeddings.embedding` (SQL in `storage/pgvector.py`). Web workers on any number of
machines then need nothing beside the database, and search filters (dates, categories,
featured, has-code, hidden) are applied inside the nearest-vector query, so a filtered semantic
search admits exactly the papers the filters allow.

How a query is answered:

- no filters: the model's HNSW index (`ORDER BY embedding::vector(DIM) <=> q LIMIT k`,
  `hnsw.ef_search` = max(200, 2k) for the transaction);
- filters passing at most `EXACT_MAX` papers, or an explicit id list: an exact scan of just
  those rows (an ORDER BY the index does not cover, so the planner cannot use HNSW);
- broader filters: HNSW with the filters in the same WHERE (`hnsw.iterative_scan` on
  pgvector >= 0.8; before that ef_search = 1000), and an exact scan when that returns fewer
  than k rows, so results are never silently short.

`open_vector_index` picks the backend: `PAPERFEED_VECTOR_BACKEND=auto` uses pgvector when the
database is PostgreSQL with the `embedding` column (migration 0005), else the files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.storage import pgvector as sql
from paperfeed.storage.db import write
from paperfeed.storage.search import SearchFilters

log = logging.getLogger(__name__)

EXACT_MAX = 20_000  # filtered searches over at most this many papers scan them exactly
EF_FILTERED = 1000  # ef_search for broad filters without iterative scans (pgvector < 0.8)


class PgVectorIndex:
    """Nearest-neighbour search over `embeddings.embedding` for one model (stateless)."""

    filters_in_sql = True  # SearchService passes SearchFilters instead of id lists

    def __init__(self, engine: Engine, model_id: str, dim: int, info: sql.PgVectorInfo) -> None:
        self.engine = engine
        self.model_id = model_id
        self.dim = int(dim)
        self.info = info

    @classmethod
    def open(
        cls,
        settings: Settings,
        engine: Engine,
        *,
        model_id: str | None = None,
        dim: int | None = None,
    ) -> PgVectorIndex:
        """The index of the configured model (from its metadata, no model load)."""
        with engine.connect() as conn:
            info = sql.info(conn)
        if not info.usable:
            raise ConfigError(
                "vectors: PAPERFEED_VECTOR_BACKEND=pgvector needs PostgreSQL with the pgvector "
                "extension and migration 0005 (embeddings.embedding); install pgvector on the "
                "server and run `paperfeed migrate`, or set PAPERFEED_VECTOR_BACKEND=files"
            )
        if model_id is None or dim is None:
            from paperfeed.search.embed import model_info

            meta = model_info(settings.embedding_model)
            model_id = model_id or meta.model_id
            dim = dim or meta.dim
        if dim is None:  # a model directory without "dim" in paperfeed-model.json
            from paperfeed.search.embed import cached_embedder

            dim = cached_embedder(settings).dim
        return cls(engine, model_id, int(dim), info)

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return sql.count(conn, self.model_id)

    def __contains__(self, paper_id: object) -> bool:
        return isinstance(paper_id, str) and self.vector(paper_id) is not None

    @property
    def uses_ann(self) -> bool:
        """True when the model's HNSW index exists (else PostgreSQL scans exactly)."""
        with self.engine.connect() as conn:
            return sql.hnsw_index_exists(conn, self.model_id, self.dim)

    def refresh(self, *, force: bool = False) -> None:
        """Nothing to reload: every query reads the database."""

    def vector(self, paper_id: str) -> np.ndarray | None:
        with self.engine.connect() as conn:
            return sql.stored_vector(conn, self.model_id, paper_id)

    def _check(self, query_vec: np.ndarray) -> np.ndarray:
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise PaperfeedError(f"vectors: query has {q.shape[0]} dims, index has {self.dim}")
        return q

    def search(
        self,
        query_vec: np.ndarray,
        k: int,
        allowed_ids: Sequence[str] | None = None,
        *,
        filters: SearchFilters | None = None,
        exclude: str | None = None,
    ) -> list[tuple[str, float]]:
        """The `k` nearest visible papers by cosine similarity, best first; restricted to
        `allowed_ids` and to papers passing `filters` when given."""
        q = self._check(query_vec)
        if k <= 0:
            return []
        filters = filters or SearchFilters()
        with self.engine.connect() as conn:
            if allowed_ids is not None:
                return sql.nearest(conn, self.model_id, self.dim, q, k, filters=filters,
                                   ids=list(dict.fromkeys(allowed_ids)), exact=True,
                                   exclude=exclude)
            if not filters.active:
                return sql.nearest(conn, self.model_id, self.dim, q, k, ef_search=2 * k,
                                   exclude=exclude)
            if sql.count_passing(conn, filters, limit=EXACT_MAX) <= EXACT_MAX:
                return sql.nearest(conn, self.model_id, self.dim, q, k, filters=filters,
                                   exact=True, exclude=exclude)
            iterative = self.info.iterative_scan
            hits = sql.nearest(conn, self.model_id, self.dim, q, k, filters=filters,
                               ef_search=2 * k if iterative else EF_FILTERED,
                               iterative_scan=iterative, exclude=exclude)
        if len(hits) >= k:
            return hits
        with self.engine.connect() as conn:  # the graph ran dry before k rows passed
            return sql.nearest(conn, self.model_id, self.dim, q, k, filters=filters,
                               exact=True, exclude=exclude)

    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]:
        """Nearest neighbours of a paper's stored vector (itself excluded); [] without one."""
        vec = self.vector(paper_id)
        if vec is None:
            return []
        return self.search(vec, k, exclude=paper_id)

    # -- writing (the rows themselves are written by storage.embeddings) ---------------------
    def add(
        self,
        ids: Sequence[str],
        vecs: np.ndarray,
        hashes: Sequence[str] | None = None,
        *,
        db_version: str | None = None,
    ) -> int:
        """Nothing to do: `store_embeddings` already wrote the vectors into the column."""
        return len(set(ids))

    def remove(self, ids: Sequence[str]) -> int:
        """Nothing to do: deleting the `embeddings` rows (or the papers) removes the vectors."""
        return 0

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Nothing to defer: PostgreSQL keeps the HNSW index up to date as rows are written.
        (`VectorIndex.bulk` defers its graph upkeep; `import_vectors` uses either.)"""
        yield

    def sync(self, engine: Engine | None = None) -> tuple[int, int]:
        """Bring the database side in line (the indexing job calls this after storing): fill
        `embedding` for rows stored without it, create the model's HNSW index when missing,
        and drop previous models' indexes once no vector of theirs is left. Idempotent; web
        workers never call it. Returns (filled, 0)."""
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
            for name in sql.drop_other_hnsw_indexes(conn, self.model_id, self.dim):
                log.info("vectors: dropped %s (a previous model's HNSW index)", name)
        return filled, 0


def use_pgvector(settings: Settings, engine: Engine) -> bool:
    """Whether vector search runs on pgvector for these settings and this database."""
    choice = settings.vector_backend
    if choice == "files":
        return False
    if choice == "pgvector":
        return True  # PgVectorIndex.open explains what is missing
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return sql.info(conn).usable


def prepare_for_indexing(settings: Settings, engine: Engine) -> None:
    """Before the indexing job opens its index: on PostgreSQL (unless the files are forced),
    enable pgvector when the server offers it but the column is missing (the extension was
    installed after migration 0005 ran); the job then fills the column and builds the index."""
    if settings.vector_backend == "files" or engine.dialect.name != "postgresql":
        return
    with write(engine) as conn:
        sql.enable(conn)


def open_vector_index(
    settings: Settings,
    engine: Engine,
    *,
    model_id: str | None = None,
    dim: int | None = None,
) -> Any:
    """The configured model's vector index: `PgVectorIndex` or the files' `VectorIndex`."""
    if use_pgvector(settings, engine):
        return PgVectorIndex.open(settings, engine, model_id=model_id, dim=dim)
    from paperfeed.search.vectors import VectorIndex

    return VectorIndex.open(settings, engine, model_id=model_id, dim=dim)
