"""Keyword search: a parsed Query -> BM25-ranked paper ids from the FTS index (title > authors >
abstract), with the query's year/category filters merged into the caller's filters."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Connection

from paperfeed.search.query import STOPWORDS, Query, fts_match, keyword_terms, quote
from paperfeed.storage import search as store
from paperfeed.storage.search import DEFAULT_WEIGHTS, SearchFilters

HYBRID_POSTING_CAP = 60_000  # ~60 ms of FTS5 scoring; see keyword_search


@dataclass(frozen=True, slots=True)
class KeywordParams:
    """How the keyword query is built and ranked (defaults chosen on SciFact train)."""

    operator: str = "OR"  # how plain words combine
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS  # title, authors, abstract
    prf_docs: int = 0  # pseudo-relevance feedback: expand with terms of the top N hits
    prf_terms: int = 10
    bigrams: bool = False  # also match adjacent word pairs as phrases
    # Leave out words found in more than this share of papers (when >= `min_terms` rarer words
    # remain), and stop adding words once their papers add up to `posting_budget`: common
    # words rank little and cost the most (every matching paper is scored).
    max_df_ratio: float = 0.25
    posting_budget: int = 5_000
    min_terms: int = 2


def effective_filters(query: Query, filters: SearchFilters) -> SearchFilters:
    """The caller's filters narrowed by the query's own `cat:` and `year:` parts."""
    out = filters
    if query.categories:
        out = replace(out, categories=tuple(dict.fromkeys((*out.categories, *query.categories))))
    if query.year_from:
        start = date(query.year_from, 1, 1)
        out = replace(out, date_from=max(start, out.date_from) if out.date_from else start)
    if query.year_to:
        end = date(query.year_to, 12, 31)
        out = replace(out, date_to=min(end, out.date_to) if out.date_to else end)
    return out


def keyword_search(
    conn: Connection,
    query: Query,
    filters: SearchFilters,
    *,
    limit: int,
    params: KeywordParams = KeywordParams(),
    posting_cap: int | None = None,
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) best first; [] when the query has nothing to search for.

    `posting_cap` (hybrid search passes HYBRID_POSTING_CAP): the most papers the kept words may
    match in total; commoner words are dropped until they fit, and [] comes back when even the
    rarest word matches more (the semantic side then answers alone). FTS5 scores every matching
    paper (~1 s per million postings), so on a 1M catalog a query of common words alone ("large
    language vision") would otherwise cost seconds; below ~400k papers `max_df_ratio` and
    `posting_budget` keep every query under the cap, so results there are unchanged."""
    words = keyword_terms(query)
    if conn.dialect.name == "postgresql":
        return store.pg_keyword_hits(
            conn, words=words, phrases=query.phrases, authors=query.authors,
            excluded=query.excluded, filters=effective_filters(query, filters), limit=limit,
        )
    prune = params.max_df_ratio < 1.0 or params.posting_budget
    if words and prune and conn.dialect.name == "sqlite":
        tokens = store.fts_tokens(words)
        total, df = _DF_CACHE.counts(conn, [t for ts in tokens for t in ts])
        word_df = {
            w: min((df.get(t, 0) for t in ts), default=0)
            for w, ts in zip(words, tokens, strict=True)
        }
        words = select_terms(words, word_df, total, params)
        if posting_cap is not None:
            words = within_cap(words, word_df, posting_cap)
            if not words and not (query.phrases or query.authors):
                return []
    match = fts_match(query, operator=params.operator, bigrams=params.bigrams, words=words)
    if match is None:
        return []
    filters = effective_filters(query, filters)
    hits = store.keyword_hits(conn, match, filters, limit=limit, weights=params.weights)
    if params.prf_docs and hits and query.words:
        expanded = _expand(conn, query, [h[0] for h in hits[: params.prf_docs]], params)
        if expanded is not None:
            hits = store.keyword_hits(conn, expanded, filters, limit=limit, weights=params.weights)
    return hits


class _DocCountCache:
    """Per-process cache of token document counts (they drift slowly; a stale count only
    shifts which common words are left out). Entries live `ttl` seconds."""

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[tuple[str, str], tuple[float, int]] = {}
        self._total: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def counts(self, conn: Connection, tokens: list[str]) -> tuple[int, dict[str, int]]:
        key = str(conn.engine.url)
        now = time.monotonic()
        out: dict[str, int] = {}
        missing: list[str] = []
        with self._lock:
            for t in tokens:
                hit = self._items.get((key, t))
                if hit is not None and hit[0] > now:
                    out[t] = hit[1]
                else:
                    missing.append(t)
            total_hit = self._total.get(key)
        if missing or total_hit is None or total_hit[0] <= now:
            total, fresh = store.token_doc_counts(conn, missing)
            with self._lock:
                if len(self._items) + len(fresh) > self.max_entries:
                    self._items.clear()
                for t, n in fresh.items():
                    self._items[(key, t)] = (now + self.ttl, n)
                self._total[key] = (now + min(self.ttl, 60.0), total)
            out.update(fresh)
        else:
            total = total_hit[1]
        return total, out


_DF_CACHE = _DocCountCache()


def select_terms(
    words: list[str], df: dict[str, int], total: int, params: KeywordParams
) -> list[str]:
    """The words worth sending to the index (pure): rarest first, dropping words no paper has,
    words in more than `max_df_ratio` of papers and words past the posting budget — but never
    fewer than `min_terms` (when that many occur at all). Query order is kept."""
    present = sorted((w for w in words if df.get(w, 0) > 0), key=lambda w: df[w])
    keep: set[str] = set()
    postings = 0
    for w in present:
        if len(keep) >= params.min_terms:
            if total and df[w] / total > params.max_df_ratio:
                break
            if params.posting_budget and postings + df[w] > params.posting_budget:
                break
        keep.add(w)
        postings += df[w]
    return [w for w in words if w in keep]


def within_cap(words: list[str], df: dict[str, int], cap: int) -> list[str]:
    """The rarest of `words` whose document counts add up to at most `cap` (pure; query order
    kept); [] when even the rarest is over it."""
    keep: set[str] = set()
    postings = 0
    for w in sorted(words, key=lambda w: df.get(w, 0)):
        if postings + df.get(w, 0) > cap:
            break
        keep.add(w)
        postings += df.get(w, 0)
    return [w for w in words if w in keep]


_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)


def _expand(conn: Connection, query: Query, top: list[str], params: KeywordParams) -> str | None:
    """RM3-like feedback: add the most frequent non-stopword terms of the top hits to the query."""
    texts = store.abstracts_by_ids(conn, top)
    counts: Counter[str] = Counter()
    for title, abstract in texts.values():
        doc = Counter(w.lower() for w in _WORD.findall(f"{title} {abstract}"))
        for w, n in doc.items():
            if w not in STOPWORDS and not w.isdigit():
                counts[w] += n
    own = {w.lower() for w in query.words}
    extra = [w for w, _ in counts.most_common(params.prf_terms * 3) if w not in own]
    extra = extra[: params.prf_terms]
    if not extra:
        return None
    base = fts_match(query, operator=params.operator)
    if base is None:
        return None
    return f"({base}) OR ({' OR '.join(quote(w) for w in extra)})" if query.excluded == () else base
