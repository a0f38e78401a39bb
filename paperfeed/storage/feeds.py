"""Feed queries shared by the pages, the JSON API and the digests (featured papers by period).

A list is built in three small queries, never one per paper: (1) the period's featured rows
with just the sort inputs (uses ix_featured_day), ranked in Python with `feed.trending_score`
(portable: no SQL math functions needed; a month is ~1,500 light rows); (2) the full rows of
the requested page only; (3) the visible local comment counts of that page. Hidden papers and
removed featured rows never appear. In a week or month a paper featured on several days is
listed once, under its latest featured day in the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, false, func, select

from paperfeed.feed import FeedItem, SortKey, trending_score
from paperfeed.models import Author, Submitter
from paperfeed.storage.schema import comments, featured, papers, users

_EPOCH = datetime(1970, 1, 1)
_UPVOTES = (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes")


def _period_filter(start: date, end: date, submitter: str | None) -> list[Any]:
    conds: list[Any] = [
        featured.c.day >= start,
        featured.c.day <= end,
        featured.c.removed == false(),
        papers.c.hidden == false(),
    ]
    if submitter is not None:
        conds.append(
            featured.c.submitter_id.in_(select(users.c.id).where(users.c.username == submitter))
        )
    return conds


def _ranked(
    conn: Connection,
    *,
    start: date,
    end: date,
    submitter: str | None,
    sort: SortKey,
    now: datetime,
    half_life_hours: float,
    by_day: bool = False,
) -> list[tuple[int, float | None]]:
    """(featured row id, score) for every paper of the period, in list order."""
    rows = conn.execute(
        select(
            featured.c.id,
            featured.c.paper_id,
            featured.c.day,
            featured.c.submitted_at,
            papers.c.published_at,
            _UPVOTES,
        )
        .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
        .where(and_(*_period_filter(start, end, submitter)))
    ).all()
    latest: dict[str, Any] = {}
    for row in rows:  # one entry per paper: its latest featured day in the period
        kept = latest.get(row.paper_id)
        if kept is None or (row.day, row.submitted_at) > (kept.day, kept.submitted_at):
            latest[row.paper_id] = row
    items = list(latest.values())
    # by_day: newest featured day first, then the chosen order within each day
    day_key = (lambda r: -r.day.toordinal()) if by_day else (lambda r: 0)
    if sort == "trending":
        # Score at the period's (or, by day, the day's) end for past ones (see feed.py),
        # at `now` otherwise.
        ref = min(now, _day_after(end))
        scored = [
            (
                r,
                trending_score(
                    r.upvotes,
                    r.submitted_at,
                    min(now, _day_after(r.day)) if by_day else ref,
                    half_life_hours,
                ),
            )
            for r in items
        ]
        scored.sort(
            key=lambda x: (
                day_key(x[0]),
                -x[1],
                -x[0].upvotes,
                _neg_ts(x[0].submitted_at),
                x[0].paper_id,
            )
        )
        return [(r.id, s) for r, s in scored]
    items.sort(
        key=lambda r: (
            day_key(r),
            r.published_at is None,
            _neg_ts(r.published_at),
            _neg_ts(r.submitted_at),
            r.paper_id,
        )
    )
    return [(r.id, None) for r in items]


def _day_after(day: date) -> datetime:
    """Midnight after `day`; the last representable instant for 9999-12-31 (no overflow)."""
    try:
        return datetime.combine(day + timedelta(days=1), time())
    except OverflowError:
        return datetime.max


def _neg_ts(value: datetime | None) -> float:
    """Sort key for 'newest first' that tolerates None (sorted last by the caller)."""
    return -(value - _EPOCH).total_seconds() if value is not None else 0.0


@dataclass(slots=True)
class FeedPage:
    """One page of a list plus the period's total (so pages need no separate count query)."""

    items: list[FeedItem]
    total: int


def page_featured(
    conn: Connection,
    *,
    start: date,
    end: date,
    sort: SortKey = "trending",
    submitter: str | None = None,
    offset: int = 0,
    limit: int = 50,
    now: datetime,
    half_life_hours: float,
    by_day: bool = False,
) -> FeedPage:
    """`list_featured` and `count_featured` in one pass (three queries in all)."""
    ranked = _ranked(
        conn,
        start=start,
        end=end,
        submitter=submitter,
        sort=sort,
        now=now,
        half_life_hours=half_life_hours,
        by_day=by_day,
    )
    if limit <= 0 or offset < 0:
        return FeedPage([], len(ranked))
    page = ranked[offset : offset + limit]
    if not page:
        return FeedPage([], len(ranked))
    by_id = dict(load_items(conn, [fid for fid, _ in page]))
    out: list[FeedItem] = []
    for fid, score in page:
        item = by_id.get(fid)
        if item is not None:
            item.score = score
            out.append(item)
    return FeedPage(out, len(ranked))


def list_featured(
    conn: Connection,
    *,
    start: date,
    end: date,
    sort: SortKey = "trending",
    submitter: str | None = None,
    offset: int = 0,
    limit: int = 50,
    now: datetime,
    half_life_hours: float,
    by_day: bool = False,
) -> list[FeedItem]:
    """Featured papers of the days start..end (inclusive), sorted, one page.

    sort="trending": decayed upvotes (`feed.trending_score`), then upvotes, newest submission,
    id. sort="publishedAt": the paper's publication time, newest first (unknown last), then
    newest submission, id. `by_day`: newest featured day first, that order within a day.
    `submitter` filters by username. A page past the end is [].
    """
    if limit <= 0 or offset < 0:
        return []
    return page_featured(
        conn,
        start=start,
        end=end,
        sort=sort,
        submitter=submitter,
        offset=offset,
        limit=limit,
        now=now,
        half_life_hours=half_life_hours,
        by_day=by_day,
    ).items


def count_featured(
    conn: Connection, *, start: date, end: date, submitter: str | None = None
) -> int:
    """How many distinct papers list_featured would list for the period (for pagination)."""
    return int(
        conn.execute(
            select(func.count(func.distinct(featured.c.paper_id)))
            .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
            .where(and_(*_period_filter(start, end, submitter)))
        ).scalar_one()
    )


def load_items(conn: Connection, featured_ids: Sequence[int]) -> list[tuple[int, FeedItem]]:
    """Full FeedItems for featured row ids (two queries: rows + visible comment counts)."""
    if not featured_ids:
        return []
    rows = conn.execute(
        select(
            featured.c.id.label("featured_id"),
            featured.c.day,
            featured.c.submitted_at,
            featured.c.source.label("featured_source"),
            papers,
            users.c.id.label("user_id"),
            users.c.username,
            users.c.display_name,
            users.c.avatar_url,
            users.c.hf_id,
        )
        .select_from(
            featured.join(papers, papers.c.id == featured.c.paper_id).outerjoin(
                users, users.c.id == featured.c.submitter_id
            )
        )
        .where(featured.c.id.in_(list(featured_ids)))
    ).mappings().all()
    counts = comment_counts(conn, [r["id"] for r in rows])
    return [(r["featured_id"], _item(r, counts.get(r["id"], 0))) for r in rows]


def comment_counts(conn: Connection, paper_ids: Sequence[str]) -> dict[str, int]:
    """Visible (not hidden, not deleted) local comments per paper."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(comments.c.paper_id, func.count())
        .where(
            comments.c.paper_id.in_(list(paper_ids)),
            comments.c.hidden == false(),
            comments.c.deleted == false(),
        )
        .group_by(comments.c.paper_id)
    ).all()
    return {pid: int(n) for pid, n in rows}


def _authors(raw: Any) -> list[Author]:
    return [Author.from_json(a) for a in raw or [] if isinstance(a, dict)]


def _item(r: Any, local_comments: int) -> FeedItem:
    submitter = None
    if r["username"] is not None:
        submitter = Submitter(
            name=r["username"],
            fullname=r["display_name"],
            avatar_url=r["avatar_url"],
            hf_id=r["hf_id"],
            user_id=r["user_id"],
        )
    upstream, member = int(r["upstream_upvotes"] or 0), int(r["member_upvotes"] or 0)
    return FeedItem(
        paper_id=r["id"],
        title=r["title"],
        abstract=r["abstract"],
        authors=_authors(r["authors"]),
        day=r["day"],
        submitted_at=r["submitted_at"],
        upvotes=upstream + member,
        num_comments=local_comments,
        hf_comments=int(r["upstream_comments"] or 0),
        version=r["version"],
        categories=list(r["categories"] or []),
        primary_category=r["primary_category"],
        published_at=r["published_at"],
        updated_at=r["updated_at"],
        comment=r["comment"],
        journal_ref=r["journal_ref"],
        doi=r["doi"],
        github_repo=r["github_repo"],
        project_page=r["project_page"],
        github_stars=r["github_stars"],
        ai_summary=r["ai_summary"],
        ai_keywords=r["ai_keywords"],
        organization=r["organization"],
        upstream_upvotes=upstream,
        member_upvotes=member,
        featured_source=r["featured_source"],
        submitter=submitter,
    )


def item_from_row(r: Any, local_comments: int) -> FeedItem:
    """A FeedItem from a row holding the papers columns, the featured row's day,
    submitted_at and featured_source, and the submitter's user columns (or None)."""
    return _item(r, local_comments)


def latest_featured_day(conn: Connection, *, on_or_before: date | None = None) -> date | None:
    """The most recent day with a visible featured paper (optionally not after a date)."""
    conds = [featured.c.removed == false(), papers.c.hidden == false()]
    if on_or_before is not None:
        conds.append(featured.c.day <= on_or_before)
    return conn.execute(
        select(func.max(featured.c.day))
        .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
        .where(and_(*conds))
    ).scalar_one_or_none()


def adjacent_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """(previous, next) days that have visible featured papers, or None at either end."""
    base = featured.join(papers, papers.c.id == featured.c.paper_id)
    visible = [featured.c.removed == false(), papers.c.hidden == false()]
    prev = conn.execute(
        select(func.max(featured.c.day)).select_from(base).where(featured.c.day < day, *visible)
    ).scalar_one_or_none()
    nxt = conn.execute(
        select(func.min(featured.c.day)).select_from(base).where(featured.c.day > day, *visible)
    ).scalar_one_or_none()
    return prev, nxt


def featured_days_of(conn: Connection, paper_id: str) -> list[tuple[date, Submitter | None]]:
    """Every (visible) day a paper was featured, oldest first, with its submitter."""
    rows = conn.execute(
        select(featured.c.day, users.c.id, users.c.username, users.c.display_name,
               users.c.avatar_url, users.c.hf_id)
        .select_from(featured.outerjoin(users, users.c.id == featured.c.submitter_id))
        .where(featured.c.paper_id == paper_id, featured.c.removed == false())
        .order_by(featured.c.day)
    ).all()
    out: list[tuple[date, Submitter | None]] = []
    for day, uid, username, display, avatar, hf_id in rows:
        sub = (
            Submitter(name=username, fullname=display, avatar_url=avatar, hf_id=hf_id, user_id=uid)
            if username is not None
            else None
        )
        out.append((day, sub))
    return out


__all__ = [
    "adjacent_days",
    "comment_counts",
    "count_featured",
    "featured_days_of",
    "item_from_row",
    "latest_featured_day",
    "list_featured",
    "page_featured",
    "FeedPage",
    "load_items",
]
