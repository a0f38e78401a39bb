"""One search backend per database engine, behind one Protocol (`SearchBackend`).

Search (`paperfeed.search`) parses, plans, fuses and pins; everything that depends on the engine
is here: how a `KeywordRequest` becomes FTS5 MATCH or a tsquery, where nearest vectors come from
(vector files or pgvector), how filters and hidden papers are applied to each side. One query
crosses from search into its backend a handful of times (term statistics, keyword hits, nearest
vectors, cosines of keyword-only hits), each a single call.

- `SqliteBackend`: FTS5 + the stored token counts (`fts5.py`), the vector files (`FileVectors`).
- `PostgresBackend`: the weighted tsvector (`tsquery.py`), pgvector (`PgVectors`) when the
  database has it, else the vector files.

`open_backend` picks the class; `tests/search/test_backend_contract.py` runs one suite against
SQLite, PostgreSQL + pgvector and PostgreSQL + files, so a method missing on one fails a test.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.storage.db import write
from paperfeed.storage.search import filters as catalog
from paperfeed.storage.search import fts5, tsquery
from paperfeed.storage.search import pgvector as pgsql
from paperfeed.storage.search.filters import SearchFilters
from paperfeed.storage.search.nearest import (
    ALLOWED_MAX,
    OVERSAMPLE,
    FileVectors,
    NearestVectors,
    PgVectors,
    VectorSide,
)
from paperfeed.storage.search.request import (
    KeywordHits,
    KeywordRequest,
    StatsRefresh,
    TermStats,
)

VectorChoice = Literal["auto", "files", "pgvector"]


class SearchBackend(Protocol):
    """What search needs from a database engine (and what recommendations, alerts and similar
    papers may use: `nearest`, `nearest_vectors`, `similar`, `vectors`)."""

    engine: Engine
    name: str  # "sqlite" | "postgresql"
    model_id: str
    dim: int

    # keyword side
    def term_stats(self, words: Sequence[str]) -> TermStats: ...
    def keyword(self, request: KeywordRequest, filters: SearchFilters, *,
                limit: int) -> KeywordHits: ...
    def restrict(self, request: KeywordRequest, ids: Sequence[str]) -> list[str]: ...
    def latest(self, request: KeywordRequest, filters: SearchFilters, *,
               limit: int) -> list[str]: ...
    def visible(self, paper_id: str) -> str | None: ...
    def titles(self, ids: Sequence[str]) -> dict[str, str]: ...
    def texts(self, ids: Sequence[str]) -> dict[str, str]: ...
    def refresh_stats(self, *, now: datetime) -> StatsRefresh: ...
    # vector side
    @property
    def vector_store(self) -> str: ...
    def semantic(self, vector: np.ndarray, request: KeywordRequest | None,
                 filters: SearchFilters, *, k: int) -> list[tuple[str, float]]: ...
    def nearest(self, vector: np.ndarray, k: int, *, filters: SearchFilters | None = None,
                ids: Sequence[str] | None = None,
                exclude: Collection[str] = ()) -> list[tuple[str, float]]: ...
    def nearest_vectors(self, vector: np.ndarray, k: int, *,
                        filters: SearchFilters | None = None, ids: Sequence[str] | None = None,
                        exclude: Collection[str] = ()) -> NearestVectors: ...
    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]: ...
    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]: ...
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def vector_count(self) -> int: ...
    def uses_ann(self) -> bool: ...
    # vector upkeep (the indexing job)
    def prepare_vectors(self) -> None: ...
    def add_vectors(self, ids: Sequence[str], vecs: np.ndarray,
                    hashes: Sequence[str] | None = None, *,
                    db_version: str | None = None) -> int: ...
    def remove_vectors(self, ids: Sequence[str]) -> int: ...
    def bulk(self) -> AbstractContextManager[None]: ...
    def sync_vectors(self) -> tuple[int, int]: ...
    def retire_other_models(self) -> list[str]: ...


class _Backend:
    """What both engines share: the vector side (opened on first use) and the way semantic
    hits honour the query's phrases, authors and exclusions."""

    name = ""

    def __init__(self, engine: Engine, *, data_dir: Path, model_id: str, dim: int,
                 vectors: VectorChoice = "auto") -> None:
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.model_id = model_id
        self.dim = int(dim)
        self.choice = vectors
        self._side: VectorSide | None = None
        self._lock = threading.Lock()

    # -- keyword side, per engine ----------------------------------------------------------
    def restrict(self, request: KeywordRequest, ids: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def _matching(self, request: KeywordRequest, *, limit: int) -> list[str]:
        raise NotImplementedError

    def latest(self, request: KeywordRequest, filters: SearchFilters, *, limit: int) -> list[str]:
        """Newest papers passing the filters and holding the request's phrases and authors (a
        query made only of filters and `author:` lists these)."""
        within = self._matching(request, limit=ALLOWED_MAX) if request.constrains else None
        with self.engine.connect() as conn:
            return catalog.latest_ids(conn, filters, limit=limit, within=within)

    def visible(self, paper_id: str) -> str | None:
        with self.engine.connect() as conn:
            return catalog.visible_id(conn, paper_id)

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        with self.engine.connect() as conn:
            return catalog.titles_by_ids(conn, ids)

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """Title and abstract of each visible paper among `ids` (the fusion's coverage check)."""
        with self.engine.connect() as conn:
            return catalog.texts_by_ids(conn, ids)

    # -- vector side ------------------------------------------------------------------------
    def _open_side(self) -> VectorSide:
        if not self.model_id or self.dim <= 0:
            raise PaperfeedError("vectors: no embedding model configured (keyword search only)")
        return FileVectors(self.engine, self.data_dir, self.model_id, self.dim)

    @property
    def side(self) -> VectorSide:
        if self._side is None:
            with self._lock:
                if self._side is None:
                    self._side = self._open_side()
        return self._side

    @property
    def vector_store(self) -> str:
        return self.side.kind

    def semantic(self, vector: np.ndarray, request: KeywordRequest | None,
                 filters: SearchFilters, *, k: int) -> list[tuple[str, float]]:
        """The `k` papers nearest to `vector` that pass the filters and hold the request's
        phrases and authors but none of its exclusions (quoted phrases, `author:` and `-word`
        apply in every mode)."""
        within: list[str] | None = None
        want = k
        if request is not None and (request.phrases or request.authors):
            within = self._matching(request, limit=ALLOWED_MAX + 1)
            if len(within) > ALLOWED_MAX:
                within, want = None, k * OVERSAMPLE
            elif not within:
                return []
        elif request is not None and request.excluded:
            want = k + 16
        hits = self.side.nearest(vector, want, filters=filters, ids=within)
        if request is not None and request.constrains and hits:
            keep = set(self.restrict(request.constraints(), [h[0] for h in hits]))
            hits = [h for h in hits if h[0] in keep]
        return hits[:k]

    def nearest(self, vector: np.ndarray, k: int, *, filters: SearchFilters | None = None,
                ids: Sequence[str] | None = None,
                exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        return self.side.nearest(vector, k, filters=filters, ids=ids, exclude=exclude)

    def nearest_vectors(self, vector: np.ndarray, k: int, *,
                        filters: SearchFilters | None = None, ids: Sequence[str] | None = None,
                        exclude: Collection[str] = ()) -> NearestVectors:
        return self.side.nearest_vectors(vector, k, filters=filters, ids=ids, exclude=exclude)

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        return self.side.cosines(vector, ids)

    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]:
        """Nearest visible papers to a paper's stored vector (itself excluded); [] without one."""
        vec = self.side.vectors([paper_id]).get(paper_id)
        if vec is None:
            return []
        return self.side.nearest(vec, k, exclude=[paper_id])

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.side.vectors(ids)

    def vector_count(self) -> int:
        return self.side.count()

    def uses_ann(self) -> bool:
        return self.side.uses_ann()

    def prepare_vectors(self) -> None:
        """Before the indexing job writes vectors (nothing to do on SQLite)."""

    def add_vectors(self, ids: Sequence[str], vecs: np.ndarray,
                    hashes: Sequence[str] | None = None, *, db_version: str | None = None) -> int:
        return self.side.add(ids, vecs, hashes, db_version=db_version)

    def remove_vectors(self, ids: Sequence[str]) -> int:
        return self.side.remove(ids)

    def bulk(self) -> AbstractContextManager[None]:
        return self.side.bulk()

    def sync_vectors(self) -> tuple[int, int]:
        return self.side.sync()

    def retire_other_models(self) -> list[str]:
        return self.side.retire_other_models()


class SqliteBackend(_Backend):
    """FTS5 (BM25, stored token counts) + the vector files."""

    name = "sqlite"

    def __init__(self, engine: Engine, **kw: object) -> None:
        super().__init__(engine, **kw)  # type: ignore[arg-type]
        self._counts = fts5.DocCountCache()

    def term_stats(self, words: Sequence[str]) -> TermStats:
        with self.engine.connect() as conn:
            return self._counts.term_stats(conn, list(words))

    def keyword(self, request: KeywordRequest, filters: SearchFilters, *,
                limit: int) -> KeywordHits:
        match = fts5.compile_match(request)
        if match is None:
            return KeywordHits()
        with self.engine.connect() as conn:
            hits = fts5.keyword_hits(conn, match, filters, limit=limit, fields=request.fields,
                                     scan_limit=request.scan_limit)
            return fts5.add_pair_scores(conn, request, hits)

    def restrict(self, request: KeywordRequest, ids: Sequence[str]) -> list[str]:
        with self.engine.connect() as conn:
            return fts5.restrict(conn, request, ids)

    def _matching(self, request: KeywordRequest, *, limit: int) -> list[str]:
        match = fts5.constraint_match(request)
        if match is None:
            return []
        with self.engine.connect() as conn:
            return fts5.matching_ids(conn, match, limit=limit)

    def refresh_stats(self, *, now: datetime) -> StatsRefresh:
        return fts5.refresh_token_docs(self.engine, now=now)

    def _open_side(self) -> VectorSide:
        if self.choice == "pgvector":  # raised on first semantic use: keywords still answer
            raise ConfigError("vectors: PAPERFEED_VECTOR_BACKEND=pgvector needs PostgreSQL with "
                              "the pgvector extension; SQLite keeps vector files (unset it or "
                              "set it to `files`)")
        return super()._open_side()


class PostgresBackend(_Backend):
    """The weighted tsvector + pgvector (or the vector files when the server lacks it)."""

    name = "postgresql"

    def __init__(self, engine: Engine, **kw: object) -> None:
        super().__init__(engine, **kw)  # type: ignore[arg-type]
        self._counts = tsquery.DocCounts()

    def term_stats(self, words: Sequence[str]) -> TermStats:
        with self.engine.connect() as conn:
            return self._counts.term_stats(conn, list(words))

    def keyword(self, request: KeywordRequest, filters: SearchFilters, *,
                limit: int) -> KeywordHits:
        if not request.ranked:
            return KeywordHits()
        with self.engine.connect() as conn:
            corpus = self._counts.corpus(conn, [(k, v) for k, v, _ in
                                                tsquery.ranked_items(request)])
            return tsquery.keyword_hits(conn, request, filters, limit=limit, corpus=corpus)

    def restrict(self, request: KeywordRequest, ids: Sequence[str]) -> list[str]:
        with self.engine.connect() as conn:
            return tsquery.restrict(conn, request, ids)

    def _matching(self, request: KeywordRequest, *, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            return tsquery.matching_ids(conn, request, limit=limit)

    def refresh_stats(self, *, now: datetime) -> StatsRefresh:
        """Nothing stored: document counts come from the GIN index (cached per process)."""
        return StatsRefresh(0, 0, 0.0)

    def _open_side(self) -> VectorSide:
        if self.choice == "files":
            return super()._open_side()
        with self.engine.connect() as conn:
            info = pgsql.info(conn)
        if info.usable:
            return PgVectors(self.engine, self.model_id, self.dim, info)
        if self.choice == "pgvector":
            raise ConfigError(
                "vectors: PAPERFEED_VECTOR_BACKEND=pgvector needs PostgreSQL with the pgvector "
                "extension and migration 0005 (embeddings.embedding); install pgvector on the "
                "server and run `paperfeed migrate`, or set PAPERFEED_VECTOR_BACKEND=files"
            )
        return super()._open_side()

    def prepare_vectors(self) -> None:
        """Enable pgvector when the server offers it but the column is missing (the extension
        was installed after migration 0005 ran); the job then fills the column and builds the
        index. The vector side is chosen again afterwards."""
        if self.choice == "files":
            return
        with write(self.engine) as conn:
            pgsql.enable(conn)
        with self._lock:
            if self._side is not None and self._side.kind == "files":
                self._side = None


def open_backend(engine: Engine, *, data_dir: Path, model_id: str, dim: int,
                 vectors: VectorChoice = "auto") -> SearchBackend:
    """The search backend of this engine for one embedding model. `vectors`: where nearest
    vectors come from on PostgreSQL (`auto`: pgvector when usable, else files); SQLite always
    uses the files, and `pgvector` there is a configuration error."""
    kw = {"data_dir": data_dir, "model_id": model_id, "dim": dim, "vectors": vectors}
    if engine.dialect.name == "sqlite":
        return SqliteBackend(engine, **kw)
    return PostgresBackend(engine, **kw)
