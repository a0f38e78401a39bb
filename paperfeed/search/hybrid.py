"""The search service: parse -> keyword side and semantic side (in parallel) -> fusion -> pinning.

`SearchService` is built once per app (or CLI run) and is safe to share between threads. It holds
no SQL and asks no "which database is this": both sides are one call each into the engine's
`SearchBackend` (`search.backend.open_backend`). When the embedding model is missing or fails,
search answers from keywords alone and logs a warning once; `SearchResult.used` says which modes
actually answered. A paper is a result only when it matches a word of the query or is close in
meaning (cosine at or above the model's calibrated similarity floor; docs/search.md), so a query
of nonsense finds nothing; an arXiv id or URL finds that paper alone.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import Engine

from paperfeed.caching import BoundedCache
from paperfeed.config import Settings
from paperfeed.errors import EmbedderUnavailable
from paperfeed.search import fusion
from paperfeed.search.backend import SearchBackend, model_mismatch, open_backend
from paperfeed.search.keyword import (
    HYBRID_POSTING_CAP,
    KeywordParams,
    constraints,
    effective_filters,
    keyword_search,
)
from paperfeed.search.query import Query, keyword_bigrams, keyword_term_counts, parse
from paperfeed.storage.search import KeywordHit, KeywordHits, SearchFilters

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "keyword", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "keyword", "semantic")
MAX_LIMIT = 200
LIMITED_WORDS = ("Results limited: very common words were left out — add a rarer word or use "
                 "quotes")
LIMITED_CUT = ("Results limited: these words are in so many papers that only the most recently "
               "added were ranked — add a rarer word or use quotes")
# Searches one service runs at once; the others wait *before* taking a database connection. A
# hybrid search holds two pooled connections (keyword side here, semantic side on the
# `search-semantic` pool of as many threads): with more searches in flight than the pool has
# pairs, each held one and waited for the other forever (seen at 32 clients, bench/pages.py).
# Searching is CPU-bound, so more at once than this only lengthens each one.
SEARCH_CONCURRENCY = 4
MISMATCH_RECHECK = 30.0  # seconds between checks while the vectors are another model's


@dataclass(frozen=True, slots=True)
class HybridParams:
    """Fusion settings (chosen on SciFact train; see bench/README.md for the ablation)."""

    fusion: str = "blend"  # "blend": standardised score blend; "rrf": reciprocal-rank fusion
    blend_weight: float = 0.5  # keyword share of the blended score
    # Raised per query by up to `standout_shift` when the semantic side's best cosine does not
    # stand out from its list (z below `standout_sharp`, the full shift at `standout_flat`; the
    # mean and sd taken over its ranks 3 and below, `standout_skip`): the model is unsure, so
    # its ranking should not push the keyword side's answer down (fusion.blend_weight). Leaving
    # the best two out keeps two clear semantic hits from reading as a flat list, which demoted
    # a paper found by meaning alone. Measured at shift 0.2 through the service: >= the equal
    # blend on all six collections on SQLite, within 0.0005 on PostgreSQL (bench/README.md,
    # "Third pass").
    standout_flat: float = 1.9
    standout_sharp: float = 3.7
    standout_shift: float = 0.2
    standout_skip: int = 2
    # A query of bare keywords (fusion.keyword_like: <= 10 words, none a stopword) names the
    # paper's own terms, which the model reads poorly: its keyword share rises by
    # `keywords_shift`, and the keyword side's best paper gets up to `lead_bonus` (z units) added
    # to its blended score as it leads the second by a BM25 ratio from `lead_low` (nothing) to
    # `lead_high` (all). Sentences and questions are left alone: there a one-word keyword
    # leader is often what pushed the paper found by meaning down (bench/README.md, "Fourth
    # pass").
    keywords_shift: float = 0.1
    lead_bonus: float = 1.0
    lead_low: float = 1.1
    lead_high: float = 1.5
    # The coverage check: a keyword best that is not the blend's first but holds at least
    # `coverage_floor` of the query's idf-weighted words (fusion.coverage), and `coverage_low`
    # (nothing) to `coverage_high` (all) more than that first, gets up to `coverage_bonus`. A
    # description written from a paper holds nearly all its words, which BM25 can rank below a
    # short paper matching a few (bench/README.md, "Fifth pass").
    coverage_bonus: float = 0.75
    coverage_floor: float = 0.5
    coverage_low: float = 0.05
    coverage_high: float = 0.15
    # The phrase check: for a query of bare keywords, each paper among the blend's first
    # `phrase_depth` and the keyword side's first `phrase_depth` gets up to `phrase_bonus` (z
    # units), in proportion to the share of the query's adjacent word pairs its title and
    # abstract hold side by side, each pair weighted by its commoner word's idf, out of the
    # pairs any of those papers holds (fusion.phrase_shares). Such a query strings the paper's
    # own multi-word terms together ("3D Gaussian Splatting mean-pool regularization"); the
    # keyword side scores the pairs at only a quarter of a word (KeywordParams.pair_weight:
    # more outvoted a claim's rare word), and the model reads a bag of terms as a topic, so
    # the blend let papers on the topic push down the one naming the terms (bench/README.md,
    # "Sixth pass"). A pair counts only for the share of those papers that do not hold it
    # (a pair most of them hold cannot tell them apart: without that, a title's stock phrase
    # cost the titles set 0.0010 / 0.0017), hence 1.5 rather than the sixth pass's 1.0: the
    # smallest step that lifts the keywords set above keyword-only on both engines ("Seventh
    # pass").
    phrase_bonus: float = 1.5
    phrase_depth: int = 10
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    depth: int = 100  # candidates taken from each side before fusion
    # Share of the posting cap (`search_posting_cap`) the keyword side may rank beside the
    # semantic side; keywords answering alone get the whole cap. Half (30k postings by
    # default, ~26 ms of FTS5 CPU at 0.88 ms per 1,000): the keyword side was the hybrid tail
    # at 1M (p95 up to 122 ms with 60k) while the words it then leaves out are the commonest,
    # which BM25 weighs least and the semantic side covers (bench/README.md, 1M).
    hybrid_cap_share: float = 0.5
    keyword: KeywordParams = field(default_factory=KeywordParams)
    # Similarity floors (None: the setting, else the model's calibrated value): a query whose
    # nearest paper is below `query_floor` finds nothing by meaning; otherwise papers found only
    # by meaning must reach `doc_floor` (None: the same value).
    query_floor: float | None = None
    doc_floor: float | None = None


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
    used: str  # what answered: hybrid | keyword | semantic | filters | pinned | none
    notes: list[str] = field(default_factory=list)
    total: int = 0  # results found (matching a word, close in meaning, or passing the filters)
    total_exact: bool = True  # False: at least `total`; a side stopped at its candidate depth
    # True: keywords answered alone and very common words were left out or only the most
    # recently added of their matches were ranked (the posting cap; a note says so and what to do)
    limited: bool = False


class QueryEmbedder:
    """The embedding model for queries, with the most recent query vectors kept (pagination,
    API retries and the back button repeat queries: ~3 ms of the hybrid latency each)."""

    CACHE_SIZE = 256

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._recent: BoundedCache[str, np.ndarray] = BoundedCache(max_entries=self.CACHE_SIZE)

    @classmethod
    def load(cls, settings: Settings) -> QueryEmbedder:
        from paperfeed.search.embed import cached_embedder

        # One intra-op thread: a query is a few dozen tokens (2.7 ms either way), and a second
        # thread would only contend with the keyword ranking that runs beside it in hybrid
        # search (75k papers: hybrid p50 14.5-14.7 ms with 1 thread vs 15.5-15.6 ms with 2).
        return cls(cached_embedder(settings, threads=1))

    @property
    def floor(self) -> float:
        """The model's calibrated similarity floor (its paperfeed-model.json), else 0."""
        info = getattr(self.embedder, "info", None)
        return float(getattr(info, "similarity_floor", 0.0) or 0.0)

    def embed_query(self, text: str) -> np.ndarray:
        return self._recent.get_or_make(text, lambda: self._embed(text))

    def _embed(self, text: str) -> np.ndarray:
        vec = np.array(self.embedder.embed_query(text), dtype=np.float32)
        vec.setflags(write=False)
        return vec

    def forget_queries(self) -> None:
        """Empty the recent-query cache (benchmarks measure the model call)."""
        self._recent.clear()


class SearchService:
    """Entry point for every search surface (page, API, feeds, CLI, evaluation)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        params: HybridParams | None = None,
        backend: SearchBackend | None = None,
        embedder: QueryEmbedder | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.params = params or HybridParams()
        self._backend = backend
        self._embedder = embedder
        self._embedder_failed = embedder is None and settings is None
        self._lock = threading.Lock()
        self._warned = False
        self._running = threading.BoundedSemaphore(SEARCH_CONCURRENCY)
        self._mismatch_until = 0.0

    # -- the two parts it is made of -------------------------------------------------------
    @property
    def backend(self) -> SearchBackend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    backend = None
                    if self.settings is not None:
                        try:
                            backend = open_backend(self.settings, self.engine)
                        except EmbedderUnavailable as exc:  # no model metadata: keywords only
                            self._embedder_failed = True
                            self._warn(f"semantic search unavailable ({exc}); answering from "
                                       "keywords")
                    if backend is None:  # keywords only: no model, no vectors
                        from paperfeed.storage.search.backend import open_backend as bare

                        backend = bare(self.engine, data_dir=_NO_DIR, model_id="", dim=0)
                    self._backend = backend
        return self._backend

    def embedder(self) -> QueryEmbedder | None:
        """The query embedder, loaded on first use; None when the model is unavailable, or
        while the catalog's vectors are all another model's (`model_mismatch`, re-checked every
        MISMATCH_RECHECK seconds, so the re-embedded catalog is searched without a restart)."""
        if self._embedder is not None or self._embedder_failed:
            return self._embedder
        if time.monotonic() < self._mismatch_until:
            return None
        with self._lock:
            if self._embedder is None and not self._embedder_failed:
                assert self.settings is not None
                try:
                    mismatch = model_mismatch(self.settings, self.engine)
                    if mismatch:
                        self._mismatch_until = time.monotonic() + MISMATCH_RECHECK
                        self._warn(f"semantic search unavailable: {mismatch}")
                        return None
                    self._embedder = QueryEmbedder.load(self.settings)
                except Exception as exc:  # noqa: BLE001 - any failure means "keywords only"
                    self._embedder_failed = True
                    self._warn(f"semantic search unavailable ({exc}); answering from keywords")
        return self._embedder

    def similarity_floor(self) -> float:
        """The cosine below which a paper is not a result by meaning alone: the setting when
        given, else the model's calibrated value, else 0."""
        if self.settings is not None and self.settings.search_similarity_floor is not None:
            return float(self.settings.search_similarity_floor)
        embedder = self._embedder
        return embedder.floor if embedder is not None else 0.0

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("search: %s", message)

    # -- similar papers -----------------------------------------------------------------------
    def similar(self, paper_id: str, *, k: int = 6) -> list[str]:
        """Nearest visible neighbours of a paper's stored vector (no model call); [] without a
        vector or a vector index."""
        if self.settings is None and self._backend is None:
            return []
        try:
            return [pid for pid, _ in self.backend.similar(paper_id, k)]
        except Exception as exc:  # noqa: BLE001 - "similar papers" is optional decoration
            log.debug("search: similar(%s) failed: %s", paper_id, exc)
            return []

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
        mode = mode if mode in MODES else "hybrid"
        limit = max(1, min(limit, MAX_LIMIT))
        query = query or parse(text)
        notes = list(query.notes)
        arxiv_id = fusion.arxiv_id_in(query.raw)
        if arxiv_id:  # an id or URL names one paper: that paper, or nothing, never a padded list
            found = self.backend.visible(arxiv_id)
            if found is None:
                notes.append(f"arXiv:{arxiv_id} is not in this catalog")
                return SearchResult(query, [], mode, "none", notes)
            return SearchResult(query, [SearchHit(found, 1.0, pinned=True)], mode, "pinned",
                                notes, total=1)
        depth = max(self.params.depth, limit)
        scope = effective_filters(query, filters)
        wants = mode != "keyword" and bool(query.text)
        semantic = wants and self.embedder() is not None
        pending: Future[tuple[list[tuple[str, float]], np.ndarray] | None] | None = None
        if semantic and mode == "hybrid":
            # The model and the index release the GIL: embed + nearest vectors on a worker
            # thread while the keyword side ranks here, so hybrid costs max(), not sum.
            pending = _pool().submit(self._semantic, query, scope, depth)
        kw = KeywordHits()
        limited = False
        if mode != "semantic" or not semantic:
            kw, limited = self._keyword(query, scope, depth, alone=pending is None)
        got: tuple[list[tuple[str, float]], np.ndarray] | None = None
        if semantic:
            got = pending.result() if pending is not None else \
                self._semantic(query, scope, depth)
            if got is None:
                notes.append("semantic search unavailable: keyword results only")
            if (got is None and mode == "semantic") or (limited and not (got and got[0])):
                # nothing by meaning beside a capped keyword side: keywords answer alone (the
                # commonest words included, the scan bounded instead)
                kw, limited = self._keyword(query, scope, depth, alone=True)
        elif wants:
            notes.append("semantic search unavailable: keyword results only")
        sem, qvec = got if got is not None else (None, None)
        limited = limited and not sem  # beside results by meaning, nothing is missing
        if limited:
            notes.append(LIMITED_CUT if kw.cut else LIMITED_WORDS)
        result = self._fuse(query, mode, scope, kw, sem, qvec, depth, limit, notes)
        result.limited = limited
        return result

    def posting_cap(self) -> int:
        """The most papers the keyword side ranks in one search (the `search_posting_cap`
        setting; see `keyword.plan`)."""
        if self.settings is not None:
            return int(self.settings.search_posting_cap)
        return HYBRID_POSTING_CAP

    def _keyword(self, query: Query, scope: SearchFilters, depth: int, *,
                 alone: bool) -> tuple[KeywordHits, bool]:
        """The keyword side under the posting cap: beside the semantic side, commoner words are
        dropped to fit it; `alone` (keyword mode, or no model), the scan also stops there."""
        cap = self.posting_cap()
        if not alone:
            cap = int(cap * self.params.hybrid_cap_share)
        return keyword_search(self.backend, query, scope, limit=depth,
                              params=self.params.keyword, posting_cap=cap, alone=alone)

    def _semantic(self, query: Query, scope: SearchFilters, k: int
                  ) -> tuple[list[tuple[str, float]], np.ndarray] | None:
        """(nearest papers passing the filters and the query's constraints, the query vector);
        None when the model or the index failed (the search then answers from keywords)."""
        embedder = self.embedder()
        if embedder is None:
            return None
        try:
            qvec = embedder.embed_query(query.text)
            hard = constraints(query)
            hits = self.backend.semantic(qvec, hard if hard.constrains else None, scope, k=k)
        except Exception as exc:  # noqa: BLE001 - degrade, never fail the search
            self._warn(f"semantic search failed ({exc}); answering from keywords")
            return None
        return hits, qvec

    def _fuse(
        self, query: Query, mode: str, scope: SearchFilters, kw: list[KeywordHit],
        sem: list[tuple[str, float]] | None, qvec: np.ndarray | None, depth: int, limit: int,
        notes: list[str],
    ) -> SearchResult:
        kw_pairs = [(h.paper_id, h.score) for h in kw]
        kw_rank = {pid: i for i, (pid, _) in enumerate(kw_pairs, start=1)}
        sem_rank = {pid: i for i, (pid, _) in enumerate(sem or [], start=1)}
        qfloor = self.params.query_floor
        qfloor = self.similarity_floor() if qfloor is None else qfloor
        dfloor = qfloor if self.params.doc_floor is None else self.params.doc_floor
        best = max((c for _, c in sem or []), default=0.0)
        far = {p for p, c in sem or [] if best < qfloor or c < dfloor}  # not close in meaning
        fused: list[tuple[str, float]]
        if kw_pairs and sem:
            if self.params.fusion == "rrf" or qvec is None:
                fused = fusion.rrf(
                    [[p for p, _ in kw_pairs], [p for p, _ in sem]],
                    weights=[self.params.keyword_weight, self.params.semantic_weight],
                    k=self.params.rrf_k,
                )
            else:
                cos = dict(sem)
                missing = [p for p, _ in kw_pairs if p not in cos]
                cos.update(self._cosines(qvec, missing))
                p = self.params
                standout = fusion.semantic_standout([c for _, c in sem], skip=p.standout_skip)
                weight = fusion.blend_weight(p.blend_weight, standout, flat=p.standout_flat,
                                             sharp=p.standout_sharp, shift=p.standout_shift)
                boost: dict[str, float] = {}
                if fusion.keyword_like(query.words):
                    weight = min(weight + p.keywords_shift, 1.0)
                    lead = fusion.keyword_lead([s for _, s in kw_pairs[:2]])
                    bonus = fusion.lead_bonus(lead, low=p.lead_low, high=p.lead_high,
                                              bonus=p.lead_bonus)
                    boost = {kw_pairs[0][0]: bonus} if bonus > 0 else {}
                fused = fusion.score_blend(kw_pairs, cos, keyword_weight=weight, boost=boost)
                fused = self._text_checks(query, kw_pairs, fused)
            used = "hybrid"
        elif sem:
            fused, used = sem, "semantic"
        elif kw_pairs:
            fused, used = kw_pairs, "keyword"
        elif not query.has_terms and (scope.active or query.authors):
            ids = self.backend.latest(constraints(query), scope, limit=limit)
            fused, used = [(p, 0.0) for p in ids], "filters"
        else:
            fused, used = [], "none"
        if far:  # only what matches a word or is close in meaning; ranks are not changed
            fused = [(p, v) for p, v in fused if p in kw_rank or p not in far]
            if not fused:
                used = "none"
        pinned = self._pinned(query, kw, [p for p, _ in sem or []][:10])
        scores = dict(fused)
        ranked = fusion.pin_first([p for p, _ in fused], pinned)
        if pinned and used == "none":
            used = "pinned"
        # Exact unless a side stopped at its depth with more candidates possibly beyond it (the
        # semantic side: only when the floor did not cut its list).
        more = len(kw) >= depth or (not far and len(sem or []) >= depth) or (
            used == "filters" and len(fused) >= limit)
        hits = [
            SearchHit(pid, scores.get(pid, 0.0), kw_rank.get(pid), sem_rank.get(pid),
                      pid in pinned)
            for pid in ranked[:limit]
        ]
        return SearchResult(query, hits, mode, used, notes, total=len(ranked),
                            total_exact=not more)

    def _text_checks(self, query: Query, kw_pairs: list[tuple[str, float]],
                     fused: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """`fused` with the coverage check's bonus (HybridParams.coverage_*: the keyword side's
        best, when the blend put another first) and the phrase check's (HybridParams.phrase_*:
        bare keywords only). Both read what the papers say: one statement for the texts of the
        papers they compare (none when neither applies); the word counts are cached."""
        p = self.params
        if not fused or not kw_pairs:
            return fused
        top, first = kw_pairs[0][0], fused[0][0]
        cover = p.coverage_bonus != 0.0 and top != first
        pairs = (keyword_bigrams(query) if p.phrase_bonus != 0.0
                 and fusion.keyword_like(query.words) else [])
        if not cover and not pairs:
            return fused
        words = list(keyword_term_counts(query, limit=p.keyword.max_terms,
                                         drop_requests=p.keyword.drop_requests))
        if not words:
            return fused
        try:
            stats = self.backend.term_stats(words)
            weights = fusion.word_weights(stats.docs, stats.papers)
            held = fusion.pair_weights(pairs, weights)  # {} when no pair weighs anything
            near = self._phrase_candidates(kw_pairs, fused) if held else []
            if not cover and not near:
                return fused
            texts = self.backend.texts(list(dict.fromkeys([top, first, *near])))
        except Exception as exc:  # noqa: BLE001 - the blend stands without the checks
            self._warn(f"fusion text checks failed ({exc})")
            return fused
        extra: dict[str, float] = {}
        if cover:
            extra[top] = fusion.coverage_bonus(
                fusion.coverage(weights, texts.get(top, "")),
                fusion.coverage(weights, texts.get(first, "")),
                floor=p.coverage_floor, low=p.coverage_low, high=p.coverage_high,
                bonus=p.coverage_bonus)
        shares = fusion.phrase_shares(held, {pid: texts.get(pid, "") for pid in near})
        for pid, share in shares.items():
            extra[pid] = extra.get(pid, 0.0) + p.phrase_bonus * share
        if not any(v > 0.0 for v in extra.values()):
            return fused
        return sorted(((pid, v + extra.get(pid, 0.0)) for pid, v in fused),
                      key=lambda kv: -kv[1])

    def _phrase_candidates(self, kw_pairs: list[tuple[str, float]],
                           fused: list[tuple[str, float]]) -> list[str]:
        """The papers the phrase check reads: the blend's first `phrase_depth` and those of the
        keyword side's first `phrase_depth` that its bonus could lift into them (a paper more
        than `phrase_bonus` below the blend's last of them stays below every one of them, so
        reading its text would change no place among the first `phrase_depth`). The keyword
        side's best is always read: the coverage check may lift it."""
        p = self.params
        top = fused[:p.phrase_depth]
        reach = top[-1][1] - p.phrase_bonus if len(top) == p.phrase_depth else float("-inf")
        blended = dict(fused)
        rest = [pid for n, (pid, _) in enumerate(kw_pairs[:p.phrase_depth])
                if n == 0 or blended.get(pid, reach) > reach]
        return list(dict.fromkeys([*(pid for pid, _ in top), *rest]))

    def _cosines(self, qvec: np.ndarray, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the query to specific papers (those the keyword side found)."""
        if not ids:
            return {}
        try:
            return self.backend.cosines(qvec, ids)
        except Exception as exc:  # noqa: BLE001
            self._warn(f"semantic rescoring failed ({exc})")
            return {}

    def _pinned(self, query: Query, kw: list[KeywordHit], sem_top: list[str]) -> list[str]:
        """A paper whose whole title equals the query (case, accents and punctuation ignored)
        goes first. It is looked for among the top hits: with the title weighted highest, a
        paper whose whole title is the query is always among the keyword side's."""
        raw = query.raw.strip()
        if query.has_filters or len(raw) > 300 or not query.words:
            return []
        wanted = fusion.normalize_title(raw)
        if not wanted:
            return []
        titles = {h.paper_id: h.title for h in kw[:10]}
        if not titles and sem_top:
            titles = self.backend.titles(sem_top)
        return [pid for pid, title in titles.items()
                if fusion.normalize_title(title) == wanted][:1]


_NO_DIR = Path("/nonexistent-paperfeed-vectors")  # a keyword-only backend opens no vectors
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
