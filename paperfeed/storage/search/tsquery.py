"""Keyword search on PostgreSQL: the weighted `papers.search_vector` tsvector (title A, authors
B, abstract C; GIN index), queried with tsqueries built from a `KeywordRequest`.

User text only enters as bound parameters of plainto_tsquery / phraseto_tsquery, which treat it
as plain text, so `&`, `|`, `!`, `<->` or `:*` typed by a user are words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, literal_column, or_, select

from paperfeed.storage.schema import papers
from paperfeed.storage.search.filters import CHUNK, SearchFilters, filter_clauses
from paperfeed.storage.search.request import KeywordHit, KeywordHits, KeywordRequest, TermStats

_VECTOR: Any = literal_column("papers.search_vector")


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


def _required(request: KeywordRequest) -> list[Any]:
    parts = [func.phraseto_tsquery("english", p) for p in request.phrases]
    parts += [func.plainto_tsquery("simple", a) for a in request.authors]
    return parts


def _excluded(request: KeywordRequest) -> Any | None:
    parts = [func.plainto_tsquery("english", x) for x in request.excluded]
    return _or(parts) if parts else None


def compile_query(request: KeywordRequest) -> Any | None:
    """The tsquery of a request: required phrases and authors AND (any | all of) the terms,
    AND NOT the exclusions; None when nothing is searchable."""
    parts = _required(request)
    words = [func.plainto_tsquery("english", t) for t in request.terms]
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
    conn: Connection, request: KeywordRequest, filters: SearchFilters, *, limit: int
) -> KeywordHits:
    """Papers matching the request, ranked by ts_rank with the field weights (title A, authors
    B, abstract C), best first. With `request.scan_limit` only the newest (by id) that many
    matching papers are ranked, and the hits say whether more matched (`cut`)."""
    tsq = compile_query(request)
    if tsq is None:
        return KeywordHits()
    t, a, b = request.fields
    top = max(t, a, b) or 1.0
    weights: Any = literal_column(
        f"ARRAY[0.0, {b / top:.6f}, {a / top:.6f}, {t / top:.6f}]::float4[]")
    if request.scan_limit is not None:
        return _scanned_hits(conn, tsq, weights, filters, limit=limit,
                             scan_limit=request.scan_limit)
    rank = func.ts_rank(weights, _VECTOR, tsq)
    stmt = (
        select(papers.c.id, rank.label("score"), papers.c.title)
        .where(_VECTOR.op("@@")(tsq), *filter_clauses(conn, filters))
        .order_by(rank.desc(), papers.c.id)
        .limit(limit)
    )
    return KeywordHits(KeywordHit(r[0], float(r[1]), r[2] or "") for r in conn.execute(stmt))


def _scanned_hits(
    conn: Connection, tsq: Any, weights: Any, filters: SearchFilters, *, limit: int,
    scan_limit: int,
) -> KeywordHits:
    """ts_rank reads each matching paper's tsvector, so ranking costs per match: rank only the
    newest (by id) `scan_limit` matches passing the filters, then keep the best `limit`. The
    scan carries ids only (the tsvectors are read for the kept rows); one more is read so a cut
    is known (`n` > the limit), and that oldest one is left out."""
    cap = max(0, scan_limit)
    scan = (
        select(papers.c.id)
        .where(_VECTOR.op("@@")(tsq), *filter_clauses(conn, filters))
        .order_by(papers.c.id.desc())
        .limit(cap + 1)
        .subquery("scan")
    )
    counted = select(scan.c.id, func.count().over().label("n"),
                     func.min(scan.c.id).over().label("m")).subquery("counted")
    rank = func.ts_rank(weights, _VECTOR, tsq)
    stmt = (
        select(papers.c.id, rank.label("score"), papers.c.title, counted.c.n)
        .select_from(counted.join(papers, papers.c.id == counted.c.id))
        .where(or_(counted.c.n <= cap, counted.c.id != counted.c.m))
        .order_by(rank.desc(), papers.c.id)
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    return KeywordHits((KeywordHit(r[0], float(r[1]), r[2] or "") for r in rows),
                       cut=bool(rows) and rows[0][3] > cap)


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


class DocCounts:
    """Per-process cache of how many papers hold each query word (counted on the GIN index;
    a stale count only shifts which common words are left out)."""

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[str, tuple[float, int]] = {}
        self._total: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def term_stats(self, conn: Connection, words: Sequence[str]) -> TermStats:
        now = time.monotonic()
        docs: dict[str, int] = {}
        missing: list[str] = []
        with self._lock:
            for w in dict.fromkeys(words):
                hit = self._items.get(w)
                if hit is not None and hit[0] > now:
                    docs[w] = hit[1]
                else:
                    missing.append(w)
            total_hit = self._total
        fresh: dict[str, int] = {}
        for w in missing:
            tsq = func.plainto_tsquery("english", w)
            fresh[w] = int(conn.execute(
                select(func.count()).select_from(papers).where(_VECTOR.op("@@")(tsq))
            ).scalar_one())
        if total_hit is None or total_hit[0] <= now:
            total = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
        else:
            total = total_hit[1]
        with self._lock:
            if len(self._items) + len(fresh) > self.max_entries:
                self._items.clear()
            for w, n in fresh.items():
                self._items[w] = (now + self.ttl, n)
            self._total = (now + min(self.ttl, 60.0), total)
        docs.update(fresh)
        return TermStats(papers=total, docs={w: docs.get(w, 0) for w in words})
