"""Search SQL: keyword (BM25) hits, filters and candidate lookups. The only search module that
talks to the database.

SQLite uses the FTS5 table `papers_fts(paper_id UNINDEXED, title, authors, abstract)` kept in
step with `papers` by triggers; its MATCH expressions come from `search.query.fts_match`, which
quotes every user token. On PostgreSQL the FTS5-only helpers raise a clear error;
`pg_keyword_hits` is the keyword path there (the weighted `search_vector` tsvector, with
plainto/phraseto_tsquery on bound parameters).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    column,
    exists,
    func,
    literal_column,
    not_,
    select,
    table,
    text,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from paperfeed.errors import PaperfeedError
from paperfeed.storage.schema import featured, papers

# bm25() column weights: paper_id (unindexed), title, authors, abstract.
DEFAULT_WEIGHTS = (3.0, 2.0, 1.0)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions every search mode applies (hidden papers are always left out)."""

    date_from: date | None = None  # published on or after
    date_to: date | None = None  # published on or before
    categories: tuple[str, ...] = ()  # any of these (a paper's categories, case-insensitive)
    featured_only: bool = False
    has_code: bool = False

    @property
    def active(self) -> bool:
        return bool(
            self.date_from or self.date_to or self.categories or self.featured_only
            or self.has_code
        )


def _require_sqlite(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        raise PaperfeedError(
            "search: keyword search on PostgreSQL is not implemented yet; use the SQLite "
            "default (unset PAPERFEED_DATABASE_URL) or search with --mode semantic"
        )


def _filter_clauses(conn: Connection, filters: SearchFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [papers.c.hidden.is_(False)]
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time())
        clauses.append(papers.c.published_at >= start)
    if filters.date_to:
        end = datetime.combine(filters.date_to, datetime.max.time())
        clauses.append(papers.c.published_at <= end)
    if filters.has_code:
        clauses.append(papers.c.github_repo.is_not(None))
        clauses.append(papers.c.github_repo != "")
    if filters.featured_only:
        clauses.append(
            exists().where(and_(featured.c.paper_id == papers.c.id, featured.c.removed.is_(False)))
        )
    if filters.categories:
        cats = [c.lower() for c in filters.categories]
        if conn.dialect.name == "sqlite":
            je = func.json_each(papers.c.categories).table_valued("value")
            clauses.append(exists().select_from(je).where(func.lower(je.c.value).in_(cats)))
        else:  # PostgreSQL: JSON array of strings
            je = func.json_array_elements_text(papers.c.categories).table_valued("value")
            clauses.append(exists().select_from(je).where(func.lower(je.c.value).in_(cats)))
    return clauses


# Rank FTS rowids first, then read `paper_id` for the top k only: `paper_id` lives in the FTS
# content row (beside the abstract), so selecting it in the ranked query read that row for every
# matching paper; and ordering by the `s` alias evaluates bm25 once per row, not twice. Same
# scores and order as ranking `paper_id` directly; ~2x faster at 75k papers (bench/README.md).
# Each top hit's `hidden` flag comes along (one round trip, not a second query).
_SQLITE_TOP = (
    "SELECT f.paper_id, -t.s AS score, p.hidden FROM ("
    "SELECT rowid AS r, bm25(papers_fts, 0.0, :wt, :wa, :wb) AS s FROM papers_fts "
    "WHERE papers_fts MATCH :q ORDER BY s LIMIT :k"
    ") AS t JOIN papers_fts AS f ON f.rowid = t.r LEFT JOIN papers AS p ON p.id = f.paper_id "
    "ORDER BY t.s"
)


def keyword_hits(
    conn: Connection,
    match: str,
    filters: SearchFilters,
    *,
    limit: int,
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
) -> list[tuple[str, float]]:
    """(paper id, BM25 score — higher is better) for a MATCH expression, best first.

    Without filters the FTS index is ranked on its own (oversampled a little, then hidden papers
    dropped); with filters the ranked hits are joined to `papers` before the limit.
    """
    _require_sqlite(conn)
    params: dict[str, Any] = {"q": match, "wt": weights[0], "wa": weights[1], "wb": weights[2]}
    if not filters.active:
        params["k"] = limit + 16
        rows = conn.execute(text(_SQLITE_TOP), params).all()
        return [(r[0], float(r[1])) for r in rows if not r[2]][:limit]
    fts = table("papers_fts", column("paper_id"))
    rank = func.bm25(literal_column("papers_fts"), 0.0, *weights)
    stmt = (
        select(fts.c.paper_id, (-rank).label("score"))
        .select_from(fts.join(papers, papers.c.id == fts.c.paper_id))
        .where(text("papers_fts MATCH :q").bindparams(q=match), *_filter_clauses(conn, filters))
        .order_by(rank)
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    return [(r[0], float(r[1])) for r in rows]


def matching_ids(conn: Connection, match: str, *, limit: int) -> set[str]:
    """Ids of papers matching a MATCH expression (unranked), at most `limit`."""
    _require_sqlite(conn)
    rows = conn.execute(
        text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q LIMIT :k"),
        {"q": match, "k": limit},
    ).scalars()
    return set(rows)


def allowed_ids(
    conn: Connection, filters: SearchFilters, *, within: set[str] | None = None, limit: int
) -> list[str] | None:
    """Ids passing `filters` (and inside `within` when given), or None when more than `limit`
    pass (the caller then post-filters instead of restricting the vector search)."""
    stmt = select(papers.c.id).where(*_filter_clauses(conn, filters))
    if within is not None:
        found: list[str] = []
        ids = list(within)
        for i in range(0, len(ids), _CHUNK):
            found.extend(conn.execute(stmt.where(papers.c.id.in_(ids[i : i + _CHUNK]))).scalars())
        return found if len(found) <= limit else None
    rows = list(conn.execute(stmt.limit(limit + 1)).scalars())
    return rows if len(rows) <= limit else None


def keep_passing(
    conn: Connection, ids: Sequence[str], filters: SearchFilters, *, exclude: str | None = None
) -> list[str]:
    """`ids` (order kept) that pass the filters and do not match the `exclude` MATCH expression."""
    if not ids:
        return []
    passing: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        stmt = select(papers.c.id).where(papers.c.id.in_(chunk), *_filter_clauses(conn, filters))
        passing.update(conn.execute(stmt).scalars())
    if exclude:
        _require_sqlite(conn)
        placeholders = ", ".join(f":i{n}" for n in range(len(passing)))
        if placeholders:
            params: dict[str, Any] = {f"i{n}": v for n, v in enumerate(passing)}
            params["q"] = exclude
            bad = set(
                conn.execute(
                    text(
                        "SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q "
                        f"AND paper_id IN ({placeholders})"
                    ),
                    params,
                ).scalars()
            )
            passing -= bad
    return [i for i in ids if i in passing]


def latest_ids(conn: Connection, filters: SearchFilters, *, limit: int) -> list[str]:
    """Newest papers passing the filters (a query made only of filters lists these)."""
    stmt = (
        select(papers.c.id)
        .where(*_filter_clauses(conn, filters))
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars())


def papers_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, RowMapping]:
    """Paper rows by id (visible ones only); callers keep their own order."""
    out: dict[str, RowMapping] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        stmt = select(papers).where(papers.c.id.in_(chunk), not_(papers.c.hidden))
        for row in conn.execute(stmt).mappings():
            out[row["id"]] = row
    return out


def titles_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    stmt = select(papers.c.id, papers.c.title).where(papers.c.id.in_(list(ids)))
    return {r[0]: r[1] for r in conn.execute(stmt)}


def visible_id(conn: Connection, paper_id: str) -> str | None:
    stmt = select(papers.c.id).where(papers.c.id == paper_id, papers.c.hidden.is_(False))
    return conn.execute(stmt).scalar_one_or_none()


def abstracts_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) by id, for pseudo-relevance feedback."""
    if not ids:
        return {}
    stmt = select(papers.c.id, papers.c.title, papers.c.abstract).where(
        papers.c.id.in_(list(ids))
    )
    return {r[0]: (r[1], r[2]) for r in conn.execute(stmt)}



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
    out (`search.keyword.select_terms`), never which papers match."""
    _require_sqlite(conn)
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


TOKEN_DOCS_STATE = "search:token_docs"


@dataclass(frozen=True, slots=True)
class TokenDocsRefresh:
    tokens: int  # distinct tokens stored
    papers: int  # indexed papers at the refresh
    seconds: float


def refresh_token_docs(engine: Engine, *, now: datetime) -> TokenDocsRefresh:
    """Rebuild `fts_token_docs` from the FTS vocabulary (SQLite only); run after bulk changes.

    The slow part (fts5vocab reads every posting list: ~2.6 s at 75k papers) copies a snapshot
    into a TEMP table inside a read transaction, so writers are not held up; only the swap
    (DELETE + INSERT from that copy) holds the write lock. Records the paper count and time of
    the refresh in job_state[TOKEN_DOCS_STATE]."""
    from paperfeed.storage.db import write_on
    from paperfeed.storage.jobs import set_state

    start = time.perf_counter()
    with engine.connect() as conn:
        _require_sqlite(conn)
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
    return TokenDocsRefresh(int(tokens), int(papers_now or 0), time.perf_counter() - start)


def pg_keyword_hits(
    conn: Connection,
    *,
    words: Sequence[str],
    phrases: Sequence[str],
    authors: Sequence[str],
    excluded: Sequence[str],
    filters: SearchFilters,
    limit: int,
) -> list[tuple[str, float]]:
    """PostgreSQL keyword search over the weighted `search_vector` (title A, authors B,
    abstract C): any of `words`, all `phrases` and `authors`, none of `excluded`; ranked by
    ts_rank (weights 1.0 / 0.4 / 0.2). User text only enters as bound parameters of
    plainto_tsquery / phraseto_tsquery, which treat it as plain text."""
    parts: list[Any] = []
    if words:
        any_word = func.plainto_tsquery("english", words[0])
        for w in words[1:]:
            any_word = func.tsquery_or(any_word, func.plainto_tsquery("english", w))
        parts.append(any_word)
    parts += [func.phraseto_tsquery("english", p) for p in phrases]
    parts += [func.plainto_tsquery("simple", a) for a in authors]
    if not parts:
        return []
    tsq = parts[0]
    for part in parts[1:]:
        tsq = func.tsquery_and(tsq, part)
    for x in excluded:
        tsq = func.tsquery_and(tsq, func.tsquery_not(func.plainto_tsquery("english", x)))
    vector: Any = literal_column("papers.search_vector")
    rank = func.ts_rank(vector, tsq)
    stmt = (
        select(papers.c.id, rank.label("score"))
        .where(vector.op("@@")(tsq), *_filter_clauses(conn, filters))
        .order_by(rank.desc(), papers.c.id)
        .limit(limit)
    )
    return [(r[0], float(r[1])) for r in conn.execute(stmt)]
