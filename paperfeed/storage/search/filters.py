"""Search filters and the catalog look-ups every search backend shares (SQLAlchemy Core, so
the same SQL runs on SQLite and PostgreSQL; only the JSON category test differs).

Hidden papers never pass: every clause list starts with `hidden IS FALSE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, not_, select
from sqlalchemy.sql.elements import ColumnElement

from paperfeed.storage.schema import featured, papers

CHUNK = 500  # ids per IN (...) list


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


def filter_clauses(conn: Connection, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """WHERE clauses on `papers` for the filters (visible papers only)."""
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
        else:  # PostgreSQL: JSON array of strings
            je = func.json_array_elements_text(papers.c.categories).table_valued("value")
        clauses.append(exists().select_from(je).where(func.lower(je.c.value).in_(cats)))
    return clauses


def allowed_ids(
    conn: Connection, filters: SearchFilters, *, within: Sequence[str] | None = None, limit: int
) -> list[str] | None:
    """Ids passing `filters` (and inside `within` when given), or None when more than `limit`
    pass (the caller then post-filters instead of restricting the vector search)."""
    stmt = select(papers.c.id).where(*filter_clauses(conn, filters))
    if within is not None:
        found: list[str] = []
        ids = list(within)
        for i in range(0, len(ids), CHUNK):
            found.extend(conn.execute(stmt.where(papers.c.id.in_(ids[i : i + CHUNK]))).scalars())
        return found if len(found) <= limit else None
    rows = list(conn.execute(stmt.limit(limit + 1)).scalars())
    return rows if len(rows) <= limit else None


def passing(conn: Connection, ids: Sequence[str], filters: SearchFilters) -> list[str]:
    """`ids` (order kept) that are visible and pass the filters."""
    if not ids:
        return []
    keep: set[str] = set()
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i : i + CHUNK])
        stmt = select(papers.c.id).where(papers.c.id.in_(chunk), *filter_clauses(conn, filters))
        keep.update(conn.execute(stmt).scalars())
    return [i for i in ids if i in keep]


def count_passing(conn: Connection, filters: SearchFilters, *, limit: int) -> int:
    """How many visible papers pass `filters`, counting at most `limit + 1`."""
    inner = select(papers.c.id).where(*filter_clauses(conn, filters)).limit(limit + 1)
    return int(conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one())


def latest_ids(
    conn: Connection, filters: SearchFilters, *, limit: int, within: Sequence[str] | None = None
) -> list[str]:
    """Newest papers passing the filters (a query made only of filters lists these), among
    `within` when given."""
    stmt = (
        select(papers.c.id)
        .where(*filter_clauses(conn, filters))
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    if within is None:
        return list(conn.execute(stmt).scalars())
    return sorted_newest(conn, passing(conn, list(within), filters))[:limit]


def sorted_newest(conn: Connection, ids: Sequence[str]) -> list[str]:
    """`ids` newest first (published date, then id)."""
    rows: list[tuple[str, datetime | None]] = []
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i : i + CHUNK])
        rows.extend((r[0], r[1]) for r in conn.execute(
            select(papers.c.id, papers.c.published_at).where(papers.c.id.in_(chunk))))
    rows.sort(key=lambda r: (r[1] or datetime.min, r[0]), reverse=True)
    return [r[0] for r in rows]


def papers_by_ids(
    conn: Connection, ids: Sequence[str], *, columns: Sequence[str] | None = None
) -> dict[str, Mapping[Any, Any]]:
    """Paper rows by id (visible ones only); callers keep their own order. With `columns`
    (names of `papers` columns; "id" is always read) the rows hold only those: a search page
    shows 50 cards and needs a third of a row (no ai_keywords JSON to decode, no comment,
    journal or hash text to fetch), and gets them as plain dicts read from tuples."""
    if columns is not None:  # plain dicts, read as tuples (storage/search/rows.py)
        from paperfeed.storage.search.rows import paper_rows

        return paper_rows(conn, ids, columns)
    out: dict[str, Mapping[Any, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i : i + CHUNK])
        stmt = select(papers).where(papers.c.id.in_(chunk), not_(papers.c.hidden))
        for row in conn.execute(stmt).mappings():
            out[row["id"]] = row
    return out


def titles_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Titles of the visible papers among `ids`."""
    if not ids:
        return {}
    stmt = select(papers.c.id, papers.c.title).where(
        papers.c.id.in_(list(ids)), papers.c.hidden.is_(False))
    return {r[0]: r[1] for r in conn.execute(stmt)}


def texts_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Title and abstract (one string) of the visible papers among `ids` (the hybrid fusion's
    coverage and phrase checks: two per search, up to twenty for bare keywords)."""
    if not ids:
        return {}
    stmt = select(papers.c.id, papers.c.title, papers.c.abstract).where(
        papers.c.id.in_(list(ids)), papers.c.hidden.is_(False))
    return {r[0]: f"{r[1] or ''}\n{r[2] or ''}" for r in conn.execute(stmt)}


def visible_id(conn: Connection, paper_id: str) -> str | None:
    stmt = select(papers.c.id).where(papers.c.id == paper_id, papers.c.hidden.is_(False))
    return conn.execute(stmt).scalar_one_or_none()
