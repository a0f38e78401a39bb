"""Keyword search on PostgreSQL: the weighted `papers.search_vector` tsvector (title A, authors
B, abstract C; GIN index), queried with tsqueries built from a `KeywordRequest` and ranked by
BM25 as FTS5 ranks on SQLite (`pgbm25.py`).

The index holds the text as SQLite's FTS5 tokenizer splits, folds and stems it (migration 0017:
`paperfeed_fts_text` and the `paperfeed` configuration), and every query item goes through the
same function: `paperfeed_words_query` (a word or a phrase: the phrase tsquery of its words, so
"gpt-4" is 'gpt' <-> '4' as in FTS5) or `paperfeed_field_query(text, 'B')` (an author: the
same, in the authors field only). User text only enters as their bound parameters, which treat
it as plain text, so `&`, `|`, `!`, `<->` or `:*` typed by a user are separators.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, literal_column, select, text

from paperfeed.caching import BoundedCache
from paperfeed.storage.schema import papers
from paperfeed.storage.search.filters import CHUNK, SearchFilters, filter_clauses
from paperfeed.storage.search.pgbm25 import Corpus, bm25_ranked, scan_newest
from paperfeed.storage.search.request import KeywordHit, KeywordHits, KeywordRequest, TermStats

_VECTOR: Any = literal_column("papers.search_vector")
_LENGTH: Any = literal_column("papers.search_length")  # words (migration 0015)


def _or(parts: list[Any]) -> Any:
    out = parts[0]
    for part in parts[1:]:
        out = func.tsquery_or(out, part)
    return out


def _and(parts: list[Any]) -> Any:
    out = parts[0]
    for part in parts[1:]:
        out = func.tsquery_and(out, part)
    return out


# What a query item is on the index: a word or a phrase (its words in order, any field) or an
# author name (the same, in the authors field).
WORD, PHRASE, AUTHOR = "word", "phrase", "author"


def _tsq(kind: str, value: str) -> Any:
    if kind == AUTHOR:
        return func.paperfeed_field_query(value, "B")
    return func.paperfeed_words_query(value)


def _required(request: KeywordRequest) -> list[Any]:
    return [_tsq(PHRASE, p) for p in request.phrases] + [_tsq(AUTHOR, a) for a in request.authors]


def _excluded(request: KeywordRequest) -> Any | None:
    parts = [func.paperfeed_words_query(x) for x in request.excluded]
    return _or(parts) if parts else None


def ranked_items(request: KeywordRequest) -> list[tuple[str, str, float]]:
    """(kind, text, weight) of every item BM25 sums over, as FTS5's bm25() does over the phrases
    of `fts5.compile_match`: required phrases and authors, each term (as many times as the query
    counts it), and the adjacent pairs at `pair_weight` (added on SQLite by `fts5.pair_scores`).
    Exclusions add nothing to a match."""
    items: list[tuple[str, str, float]] = [(PHRASE, p, 1.0) for p in request.phrases]
    items += [(AUTHOR, a, 1.0) for a in request.authors]
    items += [(WORD, t, float(max(1, request.count(i)))) for i, t in enumerate(request.terms)]
    if request.terms:  # a pair only scores papers its terms match
        items += [(PHRASE, p, request.pair_weight) for p in request.pairs]
    return items


def compile_query(request: KeywordRequest) -> Any | None:
    """The tsquery of a request: required phrases and authors AND (any | all of) the terms, AND
    NOT the exclusions; None when nothing is searchable. Pairs only score (`ranked_items`)."""
    parts = _required(request)
    words = [_tsq(WORD, t) for t in request.terms]
    if words:
        parts.append(_and(words) if request.require_all else _or(words))
    if not parts:
        return None
    tsq = _and(parts)
    excluded = _excluded(request)
    if excluded is not None:
        tsq = func.tsquery_and(tsq, func.tsquery_not(excluded))
    return tsq


def keyword_hits(
    conn: Connection, request: KeywordRequest, filters: SearchFilters, *, limit: int,
    corpus: Corpus,
) -> KeywordHits:
    """Papers matching the request, best first, ranked by BM25 as SQLite's FTS5 `bm25()` ranks
    them (`pgbm25.py`: same k1 and b, idf from `corpus`' document counts, the field weights,
    length normalisation by `papers.search_length`), in one statement. With
    `request.scan_limit` only the most recently added that many matching papers are ranked
    (filters apply to those), as on SQLite, and the hits say whether more matched (`cut`)."""
    tsq = compile_query(request)
    if tsq is None:
        return KeywordHits()
    items = [(kind, value, corpus.idf((kind, value)) * times)
             for kind, value, times in ranked_items(request)]
    stmt = bm25_ranked(tsq, items, filter_clauses(conn, filters), fields=request.fields,
                       avgdl=corpus.avgdl, limit=limit, scan_limit=request.scan_limit)
    rows = conn.execute(stmt).all()
    hits = (KeywordHit(r[0], float(r[1]), r[2] or "") for r in rows)
    if request.scan_limit is None:
        return KeywordHits(hits)
    cap = max(0, request.scan_limit)
    # no row passed the filters: count the scan alone (no ranking) to know if it was cut
    read = rows[0][3] if rows else conn.execute(
        select(func.count()).select_from(scan_newest(tsq, cap).subquery())).scalar_one()
    return KeywordHits(hits, cut=read > cap)


def matching_ids(conn: Connection, request: KeywordRequest, *, limit: int) -> list[str]:
    """Ids of papers holding the request's phrases and authors (unranked), at most `limit`."""
    parts = _required(request)
    if not parts:
        return []
    stmt = select(papers.c.id).where(_VECTOR.op("@@")(_and(parts))).limit(limit)
    return list(conn.execute(stmt).scalars())


def restrict(conn: Connection, request: KeywordRequest, ids: Sequence[str]) -> list[str]:
    """`ids` (order kept) that hold every phrase and author and none of the exclusions."""
    parts = _required(request)
    excluded = _excluded(request)
    if excluded is not None:
        parts.append(func.tsquery_not(excluded))
    if not parts or not ids:
        return list(ids)
    keep: set[str] = set()
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        stmt = select(papers.c.id).where(papers.c.id.in_(chunk),
                                         _VECTOR.op("@@")(_and(parts)))
        keep.update(conn.execute(stmt).scalars())
    return [i for i in ids if i in keep]


SAMPLE_ROWS = 20_000  # papers read to estimate the average length of a larger catalog


def average_length(conn: Connection, total: int) -> float:
    """The catalog's average paper length in words (BM25's avgdl): exact up to 2 x SAMPLE_ROWS
    papers, else estimated from a sample of about SAMPLE_ROWS (whole pages, so a 1M-paper
    catalog is not read end to end for it)."""
    if total > 2 * SAMPLE_ROWS:
        share = 100.0 * SAMPLE_ROWS / total
        value = conn.execute(text(
            f"SELECT avg(search_length) FROM papers TABLESAMPLE SYSTEM ({share:.6f}) "
            "REPEATABLE (7)")).scalar_one()
        if value:
            return float(value)
    return float(conn.execute(select(func.avg(_LENGTH)).select_from(papers)).scalar_one() or 0)


class DocCounts:
    """Per-process cache of how many papers hold each query item (counted on the GIN index) and
    of the catalog's size and average length: they choose the words to send and weigh them in
    BM25; a count a few minutes stale only shifts a weight a little."""

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self._items: BoundedCache[tuple[str, str], int] = BoundedCache(
            max_entries=max_entries, ttl=ttl)
        self._papers: tuple[float, int] | None = None  # (expires, papers)
        self._avgdl: tuple[float, float] | None = None  # (expires, average length in words)
        self._lock = threading.Lock()

    def corpus(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> Corpus:
        """Papers, average length and the document count of each (kind, text) item."""
        now = time.monotonic()
        docs = self._items.get_many(keys)
        missing = [key for key in dict.fromkeys(keys) if key not in docs]
        with self._lock:
            papers_hit, avgdl_hit = self._papers, self._avgdl
        fresh: dict[tuple[str, str], int] = {}
        for key in missing:
            fresh[key] = int(conn.execute(
                select(func.count()).select_from(papers).where(_VECTOR.op("@@")(_tsq(*key)))
            ).scalar_one())
        if papers_hit is None or papers_hit[0] <= now:
            total = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
            papers_hit = (now + min(self.ttl, 60.0), total)
        if avgdl_hit is None or avgdl_hit[0] <= now:
            avgdl_hit = (now + self.ttl, average_length(conn, papers_hit[1]))
        self._items.put_many(fresh)
        with self._lock:
            self._papers, self._avgdl = papers_hit, avgdl_hit
        docs.update(fresh)
        return Corpus(papers=papers_hit[1], avgdl=avgdl_hit[1], docs=docs)

    def term_stats(self, conn: Connection, words: Sequence[str]) -> TermStats:
        corpus = self.corpus(conn, [(WORD, w) for w in words])
        return TermStats(papers=corpus.papers,
                         docs={w: corpus.docs.get((WORD, w), 0) for w in words})
