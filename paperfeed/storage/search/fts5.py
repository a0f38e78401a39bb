"""Keyword search on SQLite: FTS5 over `papers_fts(paper_id UNINDEXED, title, authors, abstract)`
(kept in step with `papers` by triggers, porter stemming), BM25 ranking, and the stored token
document counts (`fts_token_docs`) that decide which words are worth sending.

`compile_match` turns a `KeywordRequest` into an FTS5 MATCH expression in which every user token
is a double-quoted string (inner quotes doubled, control characters removed): FTS5 reads the
content of a string as literal text for its tokenizer, so operators typed by a user are words.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)

from paperfeed.caching import BoundedCache
from paperfeed.storage.schema import papers
from paperfeed.storage.search.filters import SearchFilters, filter_clauses
from paperfeed.storage.search.request import (
    KeywordHit,
    KeywordHits,
    KeywordRequest,
    StatsRefresh,
    TermStats,
)

TOKEN_DOCS_STATE = "search:token_docs"


def _clean(token: str) -> str:
    token = unicodedata.normalize("NFKC", token)
    return " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch
                            for ch in token).split())


def quote(token: str) -> str:
    """One FTS5 string: double quotes around, inner quotes doubled, control chars removed."""
    return '"' + _clean(token).replace('"', '""') + '"'


def _searchable(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def _required(request: KeywordRequest) -> list[str]:
    parts = [quote(p) for p in request.phrases if _searchable(p)]
    parts += ["authors : " + quote(a) for a in request.authors if _searchable(a)]
    return parts


def exclusion_match(request: KeywordRequest) -> str | None:
    """MATCH expression of what the request rules out, or None."""
    excluded = [quote(x) for x in request.excluded if _searchable(x)]
    return " OR ".join(excluded) if excluded else None


def compile_match(request: KeywordRequest) -> str | None:
    """The MATCH expression: required phrases and authors, then the terms (OR, or AND with
    `require_all`; a term counted n times appears n times, so BM25 counts it n times), minus the
    exclusions. None when nothing searchable is left. The pairs are not in it: they only add to
    the scores of what it matched (`pair_match`, `add_pair_scores`)."""
    required = _required(request)
    terms = [quote(t) for i, t in enumerate(request.terms) if _searchable(t)
             for _ in range(max(1, request.count(i)))]
    if terms:
        group = (" AND " if request.require_all else " OR ").join(terms)
        required.append(f"({group})" if len(terms) > 1 else group)
    if not required:
        return None
    expr = " AND ".join(required)
    excluded = exclusion_match(request)
    return f"({expr}) NOT ({excluded})" if excluded else expr


def pair_match(request: KeywordRequest) -> str | None:
    """MATCH expression of the request's word pairs (each a quoted phrase, OR), or None."""
    if not request.terms:  # a pair only adds to what the terms matched
        return None
    pairs = [quote(p) for p in request.pairs if _searchable(p)]
    return " OR ".join(pairs) if pairs else None


# BM25 of the pairs alone for given papers (FTS5's bm25() sums a score per query phrase, each
# with its own idf, so this is exactly the pairs' share of what one query over terms and pairs
# would give them). The rowid test is written `+rowid` so FTS5 does not see it: as a rowid
# constraint it made one FTS5 query per paper (~0.3 ms each: 116 papers cost 32 ms at 75k);
# walking the pairs' own matches once is ~1 ms for a pair of words in 5-7k papers.
_PAIRS = (
    "SELECT rowid, -bm25(papers_fts, 0.0, :wt, :wa, :wb) FROM papers_fts "
    "WHERE papers_fts MATCH :q AND +rowid IN ({rowids})"
)


def add_pair_scores(
    conn: Connection, request: KeywordRequest, hits: KeywordHits
) -> KeywordHits:
    """`hits` re-ranked with `pair_weight` x the BM25 of the request's pairs added to each.
    Only these papers are scored (the pairs never widen what the terms matched); reading a
    pair's matches costs about its rarer word's postings, which `keyword.plan` keeps within
    budget. Order among equal scores is kept."""
    match = pair_match(request)
    if match is None or not hits or request.pair_weight == 0.0:
        return hits
    ids = [h.paper_id for h in hits]
    placeholders = ", ".join(f":i{n}" for n in range(len(ids)))
    rowid_of = {r[1]: r[0] for r in conn.execute(text(
        f"SELECT paper_id, fts_rowid FROM papers_fts_rowid WHERE paper_id IN ({placeholders})"),
        {f"i{n}": v for n, v in enumerate(ids)})}
    if not rowid_of:
        return hits
    params: dict[str, Any] = {f"r{n}": r for n, r in enumerate(rowid_of)}
    params.update(q=match, wt=request.fields[0], wa=request.fields[1], wb=request.fields[2])
    rowids = ", ".join(f":r{n}" for n in range(len(rowid_of)))
    extra = {rowid_of[r[0]]: float(r[1])
             for r in conn.execute(text(_PAIRS.format(rowids=rowids)), params)}
    if not extra:
        return hits
    w = request.pair_weight
    scored = [KeywordHit(h.paper_id, h.score + w * extra.get(h.paper_id, 0.0), h.title)
              for h in hits]
    order = sorted(range(len(scored)), key=lambda n: (-scored[n].score, n))
    return KeywordHits((scored[n] for n in order), cut=hits.cut)


def constraint_match(request: KeywordRequest) -> str | None:
    """MATCH expression of the required phrases and authors only (None without any)."""
    required = _required(request)
    return " AND ".join(required) if required else None


# Rank FTS rowids first, then read `paper_id` for the top k only: `paper_id` lives in the FTS
# content row (beside the abstract), so selecting it in the ranked query read that row for every
# matching paper; and ordering by the `s` alias evaluates bm25 once per row, not twice. Same
# scores and order as ranking `paper_id` directly; ~2x faster at 75k papers (bench/README.md).
# Each top hit's `hidden` flag and title come along (one round trip).
_TOP = (
    "SELECT f.paper_id, -t.s AS score, p.hidden, p.title FROM ("
    "SELECT rowid AS r, bm25(papers_fts, 0.0, :wt, :wa, :wb) AS s FROM papers_fts "
    "WHERE papers_fts MATCH :q ORDER BY s LIMIT :k"
    ") AS t JOIN papers_fts AS f ON f.rowid = t.r LEFT JOIN papers AS p ON p.id = f.paper_id "
    "ORDER BY t.s"
)


# The same with a scan limit: rank only the newest `:cap` matching rows, i.e. the papers most
# recently added (PostgreSQL's `papers.added_seq` follows the same order) (FTS5 walks a MATCH in
# rowid order and stops at the LIMIT, so the cost is bounded whatever the words). One row more
# is read so a cut is known (`n` > :cap); that oldest row is then left out of the ranking.
_TOP_SCAN = (
    "SELECT f.paper_id, -t.s AS score, p.hidden, p.title, t.n FROM ("
    "SELECT r, s, n FROM ("
    "SELECT r, s, count(*) OVER () AS n, min(r) OVER () AS m FROM ("
    "SELECT rowid AS r, bm25(papers_fts, 0.0, :wt, :wa, :wb) AS s FROM papers_fts "
    "WHERE papers_fts MATCH :q ORDER BY rowid DESC LIMIT :cap + 1"
    ")) WHERE n <= :cap OR r <> m ORDER BY s LIMIT :k"
    ") AS t JOIN papers_fts AS f ON f.rowid = t.r LEFT JOIN papers AS p ON p.id = f.paper_id "
    "ORDER BY t.s"
)


def keyword_hits(
    conn: Connection, match: str, filters: SearchFilters, *, limit: int,
    fields: tuple[float, float, float], scan_limit: int | None = None,
) -> KeywordHits:
    """Hits for a MATCH expression, best first (BM25, higher is better).

    Without filters the FTS index is ranked on its own (oversampled a little, then hidden papers
    dropped); with filters the ranked hits are joined to `papers` before the limit. With
    `scan_limit` only the most recently added that many matching papers are ranked (filters
    apply to those), and the hits say whether more matched (`cut`)."""
    params: dict[str, Any] = {"q": match, "wt": fields[0], "wa": fields[1], "wb": fields[2]}
    if scan_limit is not None:
        return _scanned_hits(conn, params, filters, limit=limit, scan_limit=scan_limit)
    if not filters.active:
        params["k"] = limit + 16
        rows = conn.execute(text(_TOP), params).all()
        return KeywordHits([KeywordHit(r[0], float(r[1]), r[3] or "") for r in rows
                            if not r[2]][:limit])
    fts = table("papers_fts", column("paper_id"))
    rank = func.bm25(literal_column("papers_fts"), 0.0, *fields)
    stmt = (
        select(fts.c.paper_id, (-rank).label("score"), papers.c.title)
        .select_from(fts.join(papers, papers.c.id == fts.c.paper_id))
        .where(text("papers_fts MATCH :q").bindparams(q=match), *filter_clauses(conn, filters))
        .order_by(rank)
        .limit(limit)
    )
    return KeywordHits(KeywordHit(r[0], float(r[1]), r[2] or "") for r in conn.execute(stmt))


def _scanned_hits(
    conn: Connection, params: dict[str, Any], filters: SearchFilters, *, limit: int,
    scan_limit: int,
) -> KeywordHits:
    cap = max(0, scan_limit)
    if not filters.active:
        rows = conn.execute(text(_TOP_SCAN), {**params, "cap": cap, "k": limit + 16}).all()
        hits = [KeywordHit(r[0], float(r[1]), r[3] or "") for r in rows if not r[2]][:limit]
        return KeywordHits(hits, cut=bool(rows) and rows[0][4] > cap)
    fts = table("papers_fts", column("rowid"), column("paper_id"))
    rank = func.bm25(literal_column("papers_fts"), 0.0, params["wt"], params["wa"], params["wb"])
    newest = (
        select(fts.c.rowid.label("r"))
        .where(text("papers_fts MATCH :q").bindparams(q=params["q"]))
        .order_by(fts.c.rowid.desc())
        .limit(cap + 1)
    )
    scan = newest.add_columns(rank.label("s")).subquery("scan")
    counted = select(scan.c.r, scan.c.s, func.count().over().label("n"),
                     func.min(scan.c.r).over().label("m")).subquery("counted")
    row = fts.alias("f")
    stmt = (
        select(row.c.paper_id, (-counted.c.s).label("score"), papers.c.title, counted.c.n)
        .select_from(counted.join(row, row.c.rowid == counted.c.r)
                     .join(papers, papers.c.id == row.c.paper_id))
        .where(or_(counted.c.n <= cap, counted.c.r != counted.c.m),
               *filter_clauses(conn, filters))
        .order_by(counted.c.s)
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    # no row passed the filters: count the scan alone (cheap: no ranking) to know if it was cut
    total = rows[0][3] if rows else conn.execute(
        select(func.count()).select_from(newest.subquery())).scalar_one()
    return KeywordHits((KeywordHit(r[0], float(r[1]), r[2] or "") for r in rows),
                       cut=total > cap)


def matching_ids(conn: Connection, match: str, *, limit: int) -> list[str]:
    """Ids of papers matching a MATCH expression (unranked), at most `limit`."""
    rows = conn.execute(
        text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q LIMIT :k"),
        {"q": match, "k": limit},
    ).scalars()
    return list(rows)


def matching_among(conn: Connection, match: str, ids: Sequence[str]) -> set[str]:
    """Those of `ids` that match a MATCH expression."""
    found: set[str] = set()
    ids = list(dict.fromkeys(ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        placeholders = ", ".join(f":i{n}" for n in range(len(chunk)))
        params: dict[str, Any] = {f"i{n}": v for n, v in enumerate(chunk)}
        params["q"] = match
        found.update(conn.execute(text(
            "SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q "
            f"AND paper_id IN ({placeholders})"), params).scalars())
    return found


def restrict(conn: Connection, request: KeywordRequest, ids: Sequence[str]) -> list[str]:
    """`ids` (order kept) that hold every phrase and author and none of the exclusions."""
    keep = set(ids)
    required = constraint_match(request)
    if required and keep:
        keep &= matching_among(conn, required, list(keep))
    excluded = exclusion_match(request)
    if excluded and keep:
        keep -= matching_among(conn, excluded, list(keep))
    return [i for i in ids if i in keep]


# -- which words are worth sending: document counts ---------------------------------------------
_TOKENIZER = threading.local()


def fts_tokens(words: Sequence[str]) -> list[list[str]]:
    """The index tokens (porter-stemmed, lower-cased, accents removed) of each word, produced by
    the same FTS5 tokenizer as papers_fts, run on a private in-memory database."""
    conn = getattr(_TOKENIZER, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:", check_same_thread=True)
        conn.execute(
            "CREATE VIRTUAL TABLE t USING fts5(x, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        conn.execute("CREATE VIRTUAL TABLE tv USING fts5vocab(t, 'instance')")
        _TOKENIZER.conn = conn
    # One row per word, tokenised in one statement and read back in one query (round trips,
    # not tokenising, were the cost).
    out: list[list[str]] = [[] for _ in words]
    if not words:
        return out
    conn.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(words, start=1))
    for doc, term in conn.execute("SELECT doc, term FROM tv ORDER BY doc, offset"):
        out[doc - 1].append(term)
    conn.execute("DELETE FROM t")
    return out


def token_doc_counts(conn: Connection, tokens: Sequence[str]) -> tuple[int, dict[str, int]]:
    """(approximate number of indexed papers, {token: papers containing it}).

    Counts come from `fts_token_docs` (one primary-key read per token), as of its last
    `refresh_token_docs`; tokens absent there (new since the refresh, or never refreshed) are
    counted exactly from the FTS vocabulary — cheap for exactly those tokens, whose posting
    lists are short or empty. Stale counts only shift which common words keyword search leaves
    out, never which papers match."""
    total = conn.execute(text("SELECT max(rowid) FROM papers_fts")).scalar_one() or 0
    wanted = list(dict.fromkeys(tokens))
    counts: dict[str, int] = dict.fromkeys(wanted, 0)
    if wanted:
        stored = dict(_term_docs(conn, "fts_token_docs", "token", "docs", wanted))
        counts.update(stored)
        absent = [t for t in wanted if t not in stored]
        if absent:  # `term IN (...)` is one indexed vocabulary lookup per token
            counts.update(_term_docs(conn, "papers_fts_vocab", "term", "doc", absent))
    return int(total), counts


def _term_docs(
    conn: Connection, table_name: str, term: str, docs: str, tokens: list[str]
) -> list[tuple[str, int]]:
    placeholders = ", ".join(f":t{n}" for n in range(len(tokens)))
    rows = conn.execute(
        text(f"SELECT {term}, {docs} FROM {table_name} WHERE {term} IN ({placeholders})"),
        {f"t{n}": t for n, t in enumerate(tokens)},
    )
    return [(r[0], int(r[1] or 0)) for r in rows]


class DocCountCache:
    """Per-process cache of token document counts (they drift slowly; a stale count only
    shifts which common words are left out). Entries live `ttl` seconds."""

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self._items: BoundedCache[str, int] = BoundedCache(max_entries=max_entries, ttl=ttl)
        self._total: tuple[float, int] | None = None  # (expires, papers): a minute at most
        self._lock = threading.Lock()

    def term_stats(self, conn: Connection, words: Sequence[str]) -> TermStats:
        """Each word's document count: that of its rarest index token (0: no paper has it)."""
        tokens = fts_tokens(words)
        wanted = [t for ts in tokens for t in ts]
        now = time.monotonic()
        counts = self._items.get_many(wanted)
        missing = [t for t in dict.fromkeys(wanted) if t not in counts]
        with self._lock:
            total_hit = self._total
        if missing or total_hit is None or total_hit[0] <= now:
            total, fresh = token_doc_counts(conn, missing)
            self._items.put_many(fresh)
            with self._lock:
                self._total = (now + min(self.ttl, 60.0), total)
            counts.update(fresh)
        else:
            total = total_hit[1]
        docs = {w: min((counts.get(t, 0) for t in ts), default=0)
                for w, ts in zip(words, tokens, strict=True)}
        return TermStats(papers=total, docs=docs)


def refresh_token_docs(engine: Engine, *, now: datetime) -> StatsRefresh:
    """Rebuild `fts_token_docs` from the FTS vocabulary; run after bulk changes.

    The slow part (fts5vocab reads every posting list: ~2.6 s at 75k papers) copies a snapshot
    into a TEMP table inside a read transaction, so writers are not held up; only the swap
    (DELETE + INSERT from that copy) holds the write lock. Records the paper count and time of
    the refresh in job_state[TOKEN_DOCS_STATE]."""
    from paperfeed.storage.db import write_on
    from paperfeed.storage.jobs import set_state

    start = time.perf_counter()
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text("DROP TABLE IF EXISTS temp.fts_token_docs_new"))
            conn.execute(text(
                "CREATE TEMP TABLE fts_token_docs_new AS "
                "SELECT term AS token, doc AS docs FROM papers_fts_vocab"
            ))
            papers_now = conn.execute(text("SELECT max(rowid) FROM papers_fts")).scalar_one()
        try:
            with write_on(conn):
                conn.execute(text("DELETE FROM fts_token_docs"))
                tokens = conn.execute(text(
                    "INSERT INTO fts_token_docs (token, docs) "
                    "SELECT token, docs FROM temp.fts_token_docs_new ORDER BY token"
                )).rowcount
                set_state(conn, TOKEN_DOCS_STATE, {"papers": int(papers_now or 0),
                                                   "tokens": int(tokens)}, now=now)
        finally:
            conn.execute(text("DROP TABLE IF EXISTS temp.fts_token_docs_new"))
            conn.commit()
    return StatsRefresh(int(tokens), int(papers_now or 0), time.perf_counter() - start)
