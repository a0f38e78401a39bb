"""Hybrid search: keyword (BM25) and semantic (embedding) candidates fused by weighted RRF, with
exact arXiv id / URL / title pinned first and the query's filters applied to both sides.

`SearchService` is built once per app (or CLI run) and is safe to share between threads. When the
embedder or the vector index is missing or fails, search answers from keywords alone and logs a
warning once; `SearchResult.used` says which modes actually answered.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.search import fusion
from paperfeed.search.keyword import (
    HYBRID_POSTING_CAP,
    KeywordParams,
    effective_filters,
    keyword_search,
)
from paperfeed.search.query import Query, author_match, exclusion_match, parse, quote
from paperfeed.storage import search as store
from paperfeed.storage.search import SearchFilters

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "keyword", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "keyword", "semantic")
MAX_LIMIT = 200
# Searches one service runs at once; the others wait *before* taking a database connection. A
# hybrid search holds two pooled connections (keyword side here, semantic side on the
# `search-semantic` pool of as many threads): with more searches in flight than the pool has
# pairs, each held one and waited for the other forever (seen at 32 clients, bench/pages.py).
# Searching is CPU-bound, so more at once than this only lengthens each one.
SEARCH_CONCURRENCY = 4
ALLOWED_IDS_MAX = 20_000  # beyond this many filtered ids, post-filter semantic hits instead


@dataclass(frozen=True, slots=True)
class HybridParams:
    """Fusion settings (chosen on SciFact train; see bench/README.md for the ablation)."""

    fusion: str = "blend"  # "blend": standardised score blend; "rrf": reciprocal-rank fusion
    blend_weight: float = 0.5  # keyword share of the blended score
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    depth: int = 100  # candidates taken from each side before fusion
    keyword: KeywordParams = field(default_factory=KeywordParams)


@dataclass(frozen=True, slots=True)
class SearchHit:
    paper_id: str
    score: float
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    pinned: bool = False


@dataclass(slots=True)
class SearchResult:
    query: Query
    hits: list[SearchHit]
    mode: str  # what was asked
    used: str  # what answered: hybrid | keyword | semantic | filters | none
    notes: list[str] = field(default_factory=list)


class SemanticBackend(Protocol):
    """What hybrid search needs from the embedding side."""

    def embed_query(self, text: str) -> np.ndarray: ...

    def search(
        self, qvec: np.ndarray, k: int, allowed_ids: list[str] | None
    ) -> list[tuple[str, float]]: ...


class EmbeddingBackend:
    """The service's semantic side: the configured Embedder plus the vector index (index files,
    or pgvector on PostgreSQL: `search.pgvectors.open_vector_index`)."""

    QUERY_CACHE_SIZE = 256  # recent query vectors kept (pagination, API retries, back button)

    def __init__(self, embedder: Any, index: Any) -> None:
        self.embedder = embedder
        self.index = index
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @classmethod
    def load(cls, settings: Settings, engine: Engine) -> EmbeddingBackend:
        from paperfeed.search.embed import cached_embedder
        from paperfeed.search.pgvectors import open_vector_index

        # One intra-op thread: a query is a few dozen tokens (2.7 ms either way), and a second
        # thread would only contend with the FTS5 ranking that runs beside it in hybrid search
        # (75k papers: hybrid p50 14.5-14.7 ms with 1 thread vs 15.5-15.6 ms with 2).
        return cls(cached_embedder(settings, threads=1), open_vector_index(settings, engine))

    @property
    def filters_in_sql(self) -> bool:
        """True when the index applies SearchFilters inside its own query (pgvector)."""
        return bool(getattr(self.index, "filters_in_sql", False))

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; a repeated query reuses it (LRU, read-only arrays) instead of
        running the model again (~3 ms of the hybrid latency)."""
        with self._recent_lock:
            hit = self._recent.get(text)
            if hit is not None:
                self._recent.move_to_end(text)
                return hit
        vec = np.array(self.embedder.embed_query(text), dtype=np.float32)
        vec.setflags(write=False)
        with self._recent_lock:
            self._recent[text] = vec
            while len(self._recent) > self.QUERY_CACHE_SIZE:
                self._recent.popitem(last=False)
        return vec

    def forget_queries(self) -> None:
        """Empty the recent-query cache (benchmarks measure the model call)."""
        with self._recent_lock:
            self._recent.clear()

    def search(
        self,
        qvec: np.ndarray,
        k: int,
        allowed_ids: list[str] | None,
        filters: SearchFilters | None = None,
    ) -> list[tuple[str, float]]:
        if filters is not None and self.filters_in_sql:
            hits = self.index.search(qvec, k, allowed_ids, filters=filters)
        else:
            hits = self.index.search(qvec, k, allowed_ids)
        return [(str(pid), float(score)) for pid, score in hits]


class SearchService:
    """Entry point for every search surface (page, API, CLI, evaluation)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        params: HybridParams | None = None,
        semantic: SemanticBackend | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.params = params or HybridParams()
        self._semantic = semantic
        self._semantic_failed = semantic is None and settings is None
        self._lock = threading.Lock()
        self._warned = False
        self._index: Any = None
        self._index_failed = False
        self._running = threading.BoundedSemaphore(SEARCH_CONCURRENCY)

    # -- semantic side -------------------------------------------------------------------
    def similar(self, paper_id: str, *, k: int = 6) -> list[str]:
        """Nearest neighbours of a paper's stored vector (no model call); [] without a vector
        or without a vector index. Hidden papers are left out."""
        index = self._vector_index()
        if index is None:
            return []
        try:
            hits = index.similar(paper_id, k + 4)
        except Exception as exc:  # noqa: BLE001 - "similar papers" is optional decoration
            log.debug("search: similar(%s) failed: %s", paper_id, exc)
            return []
        ids = [str(h[0]) for h in hits if str(h[0]) != paper_id]
        with self.engine.connect() as conn:
            return store.keep_passing(conn, ids, SearchFilters())[:k]

    def _vector_index(self) -> Any:
        backend = self._semantic
        if backend is not None and hasattr(backend, "index"):
            return backend.index
        if self._index is None and not self._index_failed and self.settings is not None:
            with self._lock:
                if self._index is None and not self._index_failed:
                    try:
                        from paperfeed.search.pgvectors import open_vector_index

                        self._index = open_vector_index(self.settings, self.engine)
                    except Exception as exc:  # noqa: BLE001
                        self._index_failed = True
                        log.info("search: no vector index for similar papers (%s)", exc)
        return self._index

    def semantic_backend(self) -> SemanticBackend | None:
        """The loaded semantic backend, loading it on first use; None when unavailable."""
        if self._semantic is not None or self._semantic_failed:
            return self._semantic
        with self._lock:
            if self._semantic is None and not self._semantic_failed:
                assert self.settings is not None
                try:
                    self._semantic = EmbeddingBackend.load(self.settings, self.engine)
                except Exception as exc:  # noqa: BLE001 - any failure means "keywords only"
                    self._semantic_failed = True
                    self._warn(f"semantic search unavailable ({exc}); answering from keywords")
        return self._semantic

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("search: %s", message)

    def _semantic_hits(
        self, conn: Connection, query: Query, filters: SearchFilters, k: int
    ) -> tuple[list[tuple[str, float]], np.ndarray | None] | None:
        """(semantic hits passing every filter, the query vector); None when unavailable."""
        backend = self.semantic_backend()
        if backend is None or not query.text:
            return None
        if getattr(backend, "filters_in_sql", False):
            return self._semantic_in_sql(backend, query, filters, k)
        allowed: list[str] | None = None
        sqlite = conn.dialect.name == "sqlite"  # FTS5-only refinements below
        restrict = filters.active or (query.authors and sqlite)
        if restrict:
            within = None
            amatch = author_match(query) if sqlite else None
            if amatch:
                within = store.matching_ids(conn, amatch, limit=ALLOWED_IDS_MAX + 1)
            allowed = store.allowed_ids(conn, filters, within=within, limit=ALLOWED_IDS_MAX)
            if allowed is not None and not allowed:
                return [], None
        depth = k if allowed is not None or not restrict else k * 5
        try:
            qvec = backend.embed_query(query.text)
            hits = backend.search(qvec, depth, allowed)
        except Exception as exc:  # noqa: BLE001 - degrade, never fail the search
            self._warn(f"semantic search failed ({exc}); answering from keywords")
            return None
        ids = [h[0] for h in hits]
        if not sqlite:  # PostgreSQL: filters only (phrases/authors/exclusions: keyword side)
            keep = set(store.keep_passing(conn, ids, filters))
            return [h for h in hits if h[0] in keep][:k], qvec
        keep = set(store.keep_passing(conn, ids, filters, exclude=exclusion_match(query)))
        if query.phrases:  # quoted phrases are required in every mode
            phrase_match = " AND ".join(quote(p) for p in query.phrases)
            keep &= _matching_among(conn, phrase_match, keep)
        if query.authors and allowed is None:
            amatch = author_match(query)
            assert amatch is not None
            keep &= _matching_among(conn, amatch, keep)
        return [h for h in hits if h[0] in keep][:k], qvec

    def _semantic_in_sql(
        self, backend: Any, query: Query, filters: SearchFilters, k: int
    ) -> tuple[list[tuple[str, float]], np.ndarray | None] | None:
        """pgvector: filters (and hidden papers) are part of the nearest-vector query itself,
        so no id list is built and nothing is post-filtered. Phrases, authors and exclusions
        stay on the keyword side, as on PostgreSQL without pgvector."""
        try:
            qvec = backend.embed_query(query.text)
            hits = backend.search(qvec, k, None, filters)
        except Exception as exc:  # noqa: BLE001 - degrade, never fail the search
            self._warn(f"semantic search failed ({exc}); answering from keywords")
            return None
        return list(hits)[:k], qvec

    def _semantic_on_own_connection(
        self, query: Query, filters: SearchFilters, k: int
    ) -> tuple[list[tuple[str, float]], np.ndarray | None] | None:
        backend = self.semantic_backend()
        if backend is not None and getattr(backend, "filters_in_sql", False):
            if not query.text:  # pgvector opens its own connection: none held here
                return None
            return self._semantic_in_sql(backend, query, filters, k)
        with self.engine.connect() as conn:
            return self._semantic_hits(conn, query, filters, k)

    def _cosines(self, qvec: np.ndarray, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the query to specific papers (those the keyword side found)."""
        backend = self._semantic
        if backend is None or not ids:
            return {}
        try:
            return dict(backend.search(qvec, len(ids), list(ids)))
        except Exception as exc:  # noqa: BLE001
            self._warn(f"semantic rescoring failed ({exc})")
            return {}

    # -- the search ------------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        filters: SearchFilters = SearchFilters(),
        limit: int = 20,
        mode: str = "hybrid",
        query: Query | None = None,
    ) -> SearchResult:
        """Search papers. Never raises for any query text (the parser accepts everything)."""
        with self._running:
            return self._search(text, filters=filters, limit=limit, mode=mode, query=query)

    def _search(
        self, text: str, *, filters: SearchFilters, limit: int, mode: str, query: Query | None
    ) -> SearchResult:
        if mode not in MODES:
            mode = "hybrid"
        limit = max(1, min(limit, MAX_LIMIT))
        query = query or parse(text)
        notes = list(query.notes)
        depth = max(self.params.depth, limit)
        with self.engine.connect() as conn:
            all_filters = effective_filters(query, filters)
            kw: list[tuple[str, float]] = []
            sem: list[tuple[str, float]] | None = None
            qvec: np.ndarray | None = None
            pending = None
            if mode == "hybrid" and query.text and self.semantic_backend() is not None:
                # The model and SQLite both release the GIL: embed + vector search on a worker
                # thread (own connection) while FTS5 ranks here, so hybrid costs max(), not sum.
                pending = _pool().submit(
                    self._semantic_on_own_connection, query, all_filters, depth
                )
            if mode in ("hybrid", "keyword"):
                cap = HYBRID_POSTING_CAP if pending is not None else None
                kw = keyword_search(conn, query, filters, limit=depth, params=self.params.keyword,
                                    posting_cap=cap)
            if mode in ("hybrid", "semantic"):
                if pending is not None:
                    found = pending.result()
                else:
                    found = self._semantic_hits(conn, query, all_filters, depth)
                if found is not None:
                    sem, qvec = found
                if sem is None:
                    notes.append("semantic search unavailable: keyword results only")
                    if mode == "semantic":
                        kw = keyword_search(
                            conn, query, filters, limit=depth, params=self.params.keyword
                        )
            kw_rank = {pid: i for i, (pid, _) in enumerate(kw, start=1)}
            sem_rank = {pid: i for i, (pid, _) in enumerate(sem or [], start=1)}
            if kw and sem:
                if self.params.fusion == "rrf" or qvec is None:
                    fused = fusion.rrf(
                        [[p for p, _ in kw], [p for p, _ in sem]],
                        weights=[self.params.keyword_weight, self.params.semantic_weight],
                        k=self.params.rrf_k,
                    )
                else:
                    cos = dict(sem)
                    missing = [p for p, _ in kw if p not in cos]
                    cos.update(self._cosines(qvec, missing))
                    fused = fusion.score_blend(kw, cos, keyword_weight=self.params.blend_weight)
                used = "hybrid"
            elif sem:
                fused, used = sem, "semantic"
            elif kw:
                fused, used = kw, "keyword"
            elif not query.has_terms and (all_filters.active or query.authors):
                fused = [(p, 0.0) for p in self._filter_only(conn, query, all_filters, limit)]
                used = "filters"
            else:
                fused, used = [], "none" if sem is None else mode
            pinned = self._pinned(conn, query, [p for p, _ in (kw or sem or [])][:10])
            scores = dict(fused)
            order = fusion.pin_first([p for p, _ in fused], pinned)[:limit]
        hits = [
            SearchHit(
                paper_id=pid,
                score=scores.get(pid, 0.0),
                keyword_rank=kw_rank.get(pid),
                semantic_rank=sem_rank.get(pid),
                pinned=pid in pinned,
            )
            for pid in order
        ]
        if pinned and used == "none":
            used = "pinned"
        return SearchResult(query=query, hits=hits, mode=mode, used=used, notes=notes)

    def _filter_only(
        self, conn: Connection, query: Query, filters: SearchFilters, limit: int
    ) -> list[str]:
        amatch = author_match(query) if conn.dialect.name == "sqlite" else None
        if amatch is None:
            return store.latest_ids(conn, filters, limit=limit)
        within = store.matching_ids(conn, amatch, limit=ALLOWED_IDS_MAX)
        ids = store.allowed_ids(conn, filters, within=within, limit=ALLOWED_IDS_MAX) or []
        newest = store.latest_ids(conn, filters, limit=ALLOWED_IDS_MAX)
        keep = set(ids)
        return [p for p in newest if p in keep][:limit]

    def _pinned(self, conn: Connection, query: Query, top: list[str]) -> list[str]:
        """An exact arXiv id / URL, or a paper whose title equals the query, goes first.

        An exact title is looked for among the top hits (`top`): with the title weighted
        highest, a paper whose whole title is the query is always among them."""
        raw = query.raw.strip()
        if not raw:
            return []
        arxiv_id = fusion.arxiv_id_in(raw)
        if arxiv_id:
            found = store.visible_id(conn, arxiv_id)
            return [found] if found else []
        if query.has_filters or len(raw) > 300 or not query.words:
            return []
        wanted = fusion.normalize_title(raw)
        if not wanted:
            return []
        titles = store.titles_by_ids(conn, top)
        return [pid for pid in top if fusion.normalize_title(titles.get(pid, "")) == wanted][:1]


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """A small process-wide pool for the semantic half of hybrid searches."""
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(
                    max_workers=SEARCH_CONCURRENCY, thread_name_prefix="search-semantic"
                )
    return _POOL


def _matching_among(conn: Connection, match: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    bad_free = store.keep_passing(conn, list(ids), SearchFilters(), exclude=match)
    return ids - set(bad_free)
