"""Keyword search: a parsed Query -> BM25-ranked paper ids from the FTS index (title > authors >
abstract), with the query's year/category filters merged into the caller's filters."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Connection

from paperfeed.search.query import STOPWORDS, Query, fts_match, quote
from paperfeed.storage import search as store
from paperfeed.storage.search import DEFAULT_WEIGHTS, SearchFilters


@dataclass(frozen=True, slots=True)
class KeywordParams:
    """How the keyword query is built and ranked (defaults chosen on SciFact train)."""

    operator: str = "OR"  # how plain words combine
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS  # title, authors, abstract
    prf_docs: int = 0  # pseudo-relevance feedback: expand with terms of the top N hits
    prf_terms: int = 10


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
) -> list[tuple[str, float]]:
    """(paper id, BM25 score) best first; [] when the query has nothing to search for."""
    match = fts_match(query, operator=params.operator)
    if match is None:
        return []
    filters = effective_filters(query, filters)
    hits = store.keyword_hits(conn, match, filters, limit=limit, weights=params.weights)
    if params.prf_docs and hits and query.words:
        expanded = _expand(conn, query, [h[0] for h in hits[: params.prf_docs]], params)
        if expanded is not None:
            hits = store.keyword_hits(conn, expanded, filters, limit=limit, weights=params.weights)
    return hits


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
