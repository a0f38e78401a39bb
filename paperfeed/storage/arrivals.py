"""New papers by day: what a list page shows where no curated list exists.

An instance fed from arXiv alone (`ingest jsonl | arxiv | oai`) has papers but no featured
days until members submit or rules feature some. Its list pages then show the papers that
appeared on arXiv in the period, labelled as such. "Arrivals" are the papers whose first
source was an arXiv one (arXiv API, OAI-PMH, snapshot files); papers imported from Hugging
Face's daily lists are curated already and are not counted, so an instance fed from Hugging
Face keeps its lists (and its day-to-day navigation) as they are. A paper's day is the UTC
date of its `published_at` (the listing day for snapshot files, v1 for the API and OAI).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, false, func, select

from paperfeed.feed import FeedItem, SortKey
from paperfeed.storage.feeds import FeedPage, comment_counts, item_from_row
from paperfeed.storage.schema import papers

ARXIV_SOURCES = ("arxiv", "oai", "snapshot")
_UPVOTES = papers.c.upstream_upvotes + papers.c.member_upvotes


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _midnight_after(day: date) -> datetime:
    """Midnight after `day`; the last representable instant after 9999-12-31 (a day past it
    overflows, which answered 500 to /papers/date/9999-12-31)."""
    return _midnight(day + timedelta(days=1)) if day < date.max else datetime.max


def _arrived(start: date | None = None, end: date | None = None) -> list[Any]:
    conds: list[Any] = [papers.c.source.in_(ARXIV_SOURCES), papers.c.hidden == false(),
                        papers.c.published_at.is_not(None)]
    if start is not None:
        conds.append(papers.c.published_at >= _midnight(start))
    if end is not None:
        conds.append(papers.c.published_at < _midnight_after(end))
    return conds


def page_new(
    conn: Connection, *, start: date, end: date, sort: SortKey = "trending", offset: int = 0,
    limit: int = 50,
) -> FeedPage:
    """The papers that arrived on days start..end (inclusive), one page, plus the total.

    sort="trending": most upvoted first (within a day every paper has the same age, so the
    decayed score orders them alike), then newest; sort="publishedAt": newest first. Ties go
    to the higher (later) arXiv id."""
    conds = _arrived(start, end)
    total = int(conn.execute(select(func.count()).select_from(papers).where(*conds)).scalar_one())
    if total == 0 or limit <= 0 or offset < 0 or offset >= total:
        return FeedPage([], total)
    order = [papers.c.published_at.desc(), papers.c.id.desc()]
    if sort == "trending":
        order.insert(0, _UPVOTES.desc())
    rows = conn.execute(
        select(papers).where(*conds).order_by(*order).offset(offset).limit(limit)
    ).mappings().all()
    counts = comment_counts(conn, [r["id"] for r in rows])
    return FeedPage([_item(r, counts.get(r["id"], 0)) for r in rows], total)


def arrived_ids(conn: Connection, *, start: date, end: date, limit: int = 20_000) -> list[str]:
    """Ids of the papers that arrived on days start..end (inclusive), newest first: the
    candidates a member's "for you" digest section ranks where the period has no curated
    list."""
    return list(conn.execute(
        select(papers.c.id).where(*_arrived(start, end))
        .order_by(papers.c.published_at.desc(), papers.c.id.desc()).limit(limit)
    ).scalars())


def _item(r: Any, local_comments: int) -> FeedItem:
    row = dict(r)
    row.update(day=r["published_at"].date(), submitted_at=r["published_at"],
               featured_source="new", username=None, display_name=None, avatar_url=None,
               hf_id=None, user_id=None)
    return item_from_row(row, local_comments)


def top_categories(conn: Connection, *, start: date, end: date, limit: int = 5
                   ) -> tuple[list[str], int]:
    """The period's most common primary categories (most papers first) and how many distinct
    ones there are in all: "cs.CV, cs.CL, cs.AI and 9 more"."""
    rows = conn.execute(
        select(papers.c.primary_category, func.count().label("n"))
        .where(*_arrived(start, end), papers.c.primary_category.is_not(None))
        .group_by(papers.c.primary_category)
        .order_by(func.count().desc(), papers.c.primary_category)
    ).all()
    return [r.primary_category for r in rows[:limit]], len(rows)


def latest_day(conn: Connection, *, on_or_before: date | None = None) -> date | None:
    """The most recent day with new papers (optionally not after a date)."""
    conds = _arrived(None, on_or_before)
    value = conn.execute(select(func.max(papers.c.published_at)).where(*conds)).scalar_one()
    return _as_date(value)


def adjacent_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """(previous, next) days with new papers, or None at either end."""
    prev = conn.execute(
        select(func.max(papers.c.published_at)).where(
            *_arrived(), papers.c.published_at < _midnight(day))
    ).scalar_one()
    nxt = conn.execute(
        select(func.min(papers.c.published_at)).where(
            *_arrived(), papers.c.published_at >= _midnight_after(day))
    ).scalar_one()
    return _as_date(prev), _as_date(nxt)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()  # SQLite aggregates may come back as text
