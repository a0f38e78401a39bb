"""What a search answer reads of its results after ranking, in one statement of plain tuples.

`entry_rows` (the search API), `card_rows` (a page's cards with their comment counts) and
`paper_rows` (`papers_by_ids` with columns).

The search API answers each of its (up to 120) results as a daily-list entry: the paper's
columns that entry shows, its latest featured day that was not removed (when, how, by whom)
and its count of visible local comments. Read through `papers_by_ids`, `featured_facts` and
`comment_counts` that is three statements whose rows SQLAlchemy turns into mappings column by
column (its JSON and SQLite datetime processors): ~1.8 ms of a ~20 ms API search at 75k
papers (bench/README, "what every search request pays outside the engine"). Here one text
statement returns bare tuples and the few typed columns are decoded here: on SQLite JSON is
text and timestamps ISO text, on PostgreSQL the driver already returns Python values.

The answers are the same as those three functions' (tests/web/test_search_api_entries.py
compares the API's JSON byte for byte).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, DateTime, bindparam, text

from paperfeed.storage.schema import papers

CHUNK = 500  # ids per IN (...) list

# the columns of `papers` a daily entry shows (web/api/serialize.py `paper_json`)
ENTRY_COLUMNS = ("id", "title", "abstract", "authors", "published_at", "upstream_upvotes",
                 "member_upvotes", "project_page", "github_repo", "github_stars",
                 "ai_summary", "ai_keywords", "organization")
_JSON = ("authors", "ai_keywords", "organization")
# the featured fact's keys, as `storage.catalog.featured_facts` names them
FACT_COLUMNS = ("submitted_at", "featured_source", "user_id", "username", "display_name",
                "avatar_url", "hf_id")

# The latest visible featured day of each paper (featured is unique on (paper_id, day)),
# its submitter, and the visible comments, for the visible papers among :ids.
_ENTRIES = text(
    "SELECT " + ", ".join(f"p.{c}" for c in ENTRY_COLUMNS) + ","
    " f.submitted_at, f.source, u.id, u.username, u.display_name, u.avatar_url, u.hf_id,"
    " (SELECT count(*) FROM comments c"
    "   WHERE c.paper_id = p.id AND NOT c.hidden AND NOT c.deleted)"
    " FROM papers p"
    " LEFT JOIN featured f ON f.paper_id = p.id AND NOT f.removed AND f.day = ("
    "   SELECT max(f2.day) FROM featured f2 WHERE f2.paper_id = p.id AND NOT f2.removed)"
    " LEFT JOIN users u ON u.id = f.submitter_id"
    " WHERE p.id IN :ids AND NOT p.hidden"
).bindparams(bindparam("ids", expanding=True))

Entry = tuple[dict[str, Any], dict[str, Any] | None, int]


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def entry_rows(conn: Connection, ids: Sequence[str]) -> dict[str, Entry]:
    """For each visible paper among `ids`: (its entry columns, its latest featured fact or None,
    its visible local comments). Callers keep their own order."""
    decode: Callable[[Any], Any] | None = None
    when: Callable[[Any], Any] | None = None
    if conn.dialect.name == "sqlite":  # JSON is text there, timestamps ISO text
        decode, when = _json, _when
    n = len(ENTRY_COLUMNS)
    out: dict[str, Entry] = {}
    for i in range(0, len(ids), CHUNK):
        for row in conn.execute(_ENTRIES, {"ids": list(ids[i : i + CHUNK])}).all():
            paper = dict(zip(ENTRY_COLUMNS, row[:n], strict=True))
            fact = None
            if row[n] is not None:  # submitted_at is NOT NULL: a featured day was joined
                fact = dict(zip(FACT_COLUMNS, row[n : n + 7], strict=True))
            if decode is not None and when is not None:
                for key in _JSON:
                    paper[key] = decode(paper[key])
                paper["published_at"] = when(paper["published_at"])
                if fact is not None:
                    fact["submitted_at"] = when(fact["submitted_at"])
            out.setdefault(paper["id"], (paper, fact, int(row[n + 7])))
    return out


def _decoder(name: str) -> Callable[[Any], Any] | None:
    """How a SQLite value of `papers.<name>` becomes what SQLAlchemy would have returned."""
    kind = papers.c[name].type
    if isinstance(kind, JSON):
        return _json
    if isinstance(kind, DateTime):
        return _when
    if isinstance(kind, Boolean):
        return lambda v: None if v is None else bool(v)
    return None


def paper_rows(
    conn: Connection, ids: Sequence[str], columns: Sequence[str]
) -> dict[str, Mapping[Any, Any]]:
    """`columns` of the visible papers among `ids` ("id" always), as dicts, by id: what
    `papers_by_ids(..., columns=)` returns, read as plain tuples (a search page's 50 cards:
    SQLAlchemy's mapping rows and their per-column processors were most of that read)."""
    names = ["id", *(c for c in columns if c != "id")]
    for name in names:
        papers.c[name]  # noqa: B018 - only names of the table reach the SQL (KeyError)
    stmt = text(
        "SELECT " + ", ".join(names) + " FROM papers WHERE id IN :ids AND NOT hidden"
    ).bindparams(bindparam("ids", expanding=True))
    decoders: list[tuple[int, Callable[[Any], Any]]] = []
    if conn.dialect.name == "sqlite":  # JSON is text there, timestamps ISO text, booleans 0/1
        decoders = [(i, d) for i, name in enumerate(names) if (d := _decoder(name)) is not None]
    out: dict[str, Mapping[Any, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        for row in conn.execute(stmt, {"ids": list(ids[i : i + CHUNK])}).all():
            values = list(row)
            for k, decode in decoders:
                values[k] = decode(values[k])
            out[values[0]] = dict(zip(names, values, strict=True))
    return out


# What a result card shows of its paper (web/card_cache.py `_shell`, `searching.items_for`),
# in this order, and its visible local comments: one statement for a page's cards, where the
# rows and their comment counts were two (and dicts built per row).
CARD_ROW = ("id", "title", "abstract", "authors", "published_at", "organization",
            "upstream_upvotes", "member_upvotes", "upstream_comments")
_CARDS = text(
    "SELECT " + ", ".join(f"p.{c}" for c in CARD_ROW) + ","
    " (SELECT count(*) FROM comments c"
    "   WHERE c.paper_id = p.id AND NOT c.hidden AND NOT c.deleted)"
    " FROM papers p WHERE p.id IN :ids AND NOT p.hidden"
).bindparams(bindparam("ids", expanding=True))

CardRow = tuple[str, str, str, list[Any], datetime | None, Any, int, int, int, int]


def card_rows(conn: Connection, ids: Sequence[str]) -> dict[str, CardRow]:
    """For each visible paper among `ids`: its `CARD_ROW` columns (authors and organization
    decoded, `published_at` a datetime, counts 0 for NULL) and its visible local comments
    (what `comment_counts` counts), as one plain tuple. Callers keep their own order."""
    sqlite = conn.dialect.name == "sqlite"  # JSON is text there, timestamps ISO text
    loads = orjson.loads
    out: dict[str, CardRow] = {}
    for i in range(0, len(ids), CHUNK):
        for (pid, title, abstract, authors, published, org, up, member_up, hf,
             comments) in conn.execute(_CARDS, {"ids": list(ids[i : i + CHUNK])}).all():
            if sqlite:
                authors = loads(authors) if authors else authors
                org = loads(org) if isinstance(org, str) else org
                if isinstance(published, str):
                    published = datetime.fromisoformat(published)
            out[pid] = (pid, title, abstract, authors or [], published, org, up or 0,
                        member_up or 0, hf or 0, comments)
    return out
