"""Rendering shared by the list pages (home, day, week, month): one period, sorted, paged.

Per request: three feed queries (+ one for the day's neighbours), one template render. The
route modules (daily.py, period.py) only parse the URL and pick the period.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from paperfeed.feed import Period, SortKey, check_sort, day_period, format_day, week_period
from paperfeed.feed import month_period as _month_period
from paperfeed.models import utcnow
from paperfeed.storage import arrivals, feeds
from paperfeed.web.feeds import alternates
from paperfeed.web.pages.cache import cached_page, shared_page
from paperfeed.web.pages.calendar import month_grid

DEFAULT_SORT: SortKey = "trending"
SORT_LABELS: dict[str, str] = {"trending": "Trending", "publishedAt": "Newest"}


def list_url(path: str, *, sort: str = DEFAULT_SORT, page: int = 0) -> str:
    """`path` with ?sort= (when not the default) and ?p= (when not the first page)."""
    params: dict[str, Any] = {}
    if sort != DEFAULT_SORT:
        params["sort"] = sort
    if page:
        params["p"] = page
    return f"{path}?{urlencode(params)}" if params else path


def period_heading(period: Period, now: datetime) -> str:
    """'Jun 16' / 'Week 25 · Jun 16 – Jun 22' / 'June 2025' (years shown outside this year)."""
    if period.kind == "day":
        return format_day(period.start, now)
    if period.kind == "week":
        week = period.start.isocalendar()[1]
        start, end = period.start, period.end
        if start.year == end.year:
            span = f"{start.strftime('%b')} {start.day} – {format_day(end, now)}"
        else:
            span = f"{format_day(start, now)} – {format_day(end, now)}"
        return f"Week {week} · {span}"
    return period.start.strftime("%B %Y")


def nav_label(period: Period, now: datetime) -> str:
    """Short label of a neighbouring period: 'Jun 13', 'Week 24', 'May 2025'."""
    if period.kind == "week":
        year, week, _ = period.start.isocalendar()
        return f"Week {week}" if year == now.year else f"Week {week}, {year}"
    return period_heading(period, now)


def period_tabs(anchor: date, kind: str) -> list[dict[str, Any]]:
    """Day / Week / Month links for the period around `anchor`."""
    return [
        {"label": "Day", "url": day_period(anchor).path, "current": kind == "day"},
        {"label": "Week", "url": week_period(anchor).path, "current": kind == "week"},
        {
            "label": "Month",
            "url": _month_period(anchor.year, anchor.month).path,
            "current": kind == "month",
        },
        {"label": "For you", "url": "/for-you", "current": False},
    ]


def render_period(
    request: Request,
    period: Period,
    *,
    sort: str | None,
    page: int,
    home: bool = False,
) -> Response:
    """The list page for `period` (the home page passes home=True: canonical URL is /).

    Shared by every visitor and filled per visitor (see cache.py)."""
    sort_key = check_sort(sort, default=DEFAULT_SORT)
    return cached_page(
        request, lambda: _render(request, period, sort_key=sort_key, page=page, home=home)
    )


async def period_page(request: Request, period: Period, *, sort: str | None, page: int) -> Response:
    """`render_period` for the `async` list routes (day, week, month): an anonymous hit is
    served without the hop to the thread pool (cache.shared_page)."""
    sort_key = check_sort(sort, default=DEFAULT_SORT)
    return await shared_page(
        request, lambda: _render(request, period, sort_key=sort_key, page=page, home=False)
    )


def _render(
    request: Request, period: Period, *, sort_key: SortKey, page: int, home: bool
) -> Response:
    settings = request.app.state.settings
    engine = request.app.state.engine
    now = utcnow()
    size = settings.page_size
    with engine.connect() as conn:
        result = feeds.page_featured(
            conn,
            start=period.start,
            end=period.end,
            sort=sort_key,
            offset=page * size,
            limit=size,
            now=now,
            half_life_hours=settings.trending_half_life_hours,
        )
        arrivals_note = None
        if result.total == 0:  # no curated list: the period's new papers, labelled as such
            result = arrivals.page_new(conn, start=period.start, end=period.end,
                                       sort=sort_key, offset=page * size, limit=size)
            if result.total:
                arrivals_note = arrivals.top_categories(conn, start=period.start,
                                                        end=period.end)
        if period.kind == "day":
            prev_day, next_day = _adjacent_days(conn, period.start)
            prev_p = day_period(prev_day) if prev_day else None
            next_p = day_period(next_day) if next_day else None
        else:
            prev_p, next_p = period.shifted(-1), period.shifted(1)
    path = "/" if home else period.path
    pages = max(1, -(-result.total // size))
    context = {
        "period": period,
        "heading": period_heading(period, now),
        "new_papers": arrivals_note is not None,
        "categories": arrivals_note[0] if arrivals_note else [],
        "more_categories": arrivals_note[1] - len(arrivals_note[0]) if arrivals_note else 0,
        "items": result.items,
        "total": result.total,
        "first_rank": page * size + 1,
        "sort": sort_key,
        "now": now,
        "home": home,
        "tabs": period_tabs(period.start, period.kind),
        "sorts": [
            {"label": label, "url": list_url(path, sort=key), "current": key == sort_key}
            for key, label in SORT_LABELS.items()
        ],
        "prev": _nav(prev_p, sort_key, now),
        "next": _nav(next_p, sort_key, now),
        "page": page,
        "pages": pages,
        "prev_page_url": list_url(path, sort=sort_key, page=page - 1) if page > 0 else None,
        "next_page_url": (
            list_url(path, sort=sort_key, page=page + 1) if page + 1 < pages else None
        ),
        "canonical": list_url(period.path, sort=sort_key, page=page),
        "feeds": _feeds(period, now, home=home),
        "cal": month_grid(request, period.start.year, period.start.month,
                          selected=period.start if period.kind == "day" else None),
    }
    return request.app.state.templates.TemplateResponse(request, "daily.html", context)


def home_day(conn: Connection, today: date) -> date | None:
    """The day the home page (and its feed, /papers.rss) shows: the latest up to today with a
    curated list or with new arXiv papers (an instance fed from arXiv alone shows its newest
    day's papers; a member's submission weeks ago does not pin the page to that day); if
    everything is dated after today (a clock or timezone skew), the latest of all."""
    days = [d for d in (feeds.latest_featured_day(conn, on_or_before=today),
                        arrivals.latest_day(conn, on_or_before=today)) if d is not None]
    if not days:
        days = [d for d in (feeds.latest_featured_day(conn), arrivals.latest_day(conn))
                if d is not None]
    return max(days) if days else None


def _adjacent_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """The nearest days before and after `day` with a curated list or new papers."""
    prev_f, next_f = feeds.adjacent_days(conn, day)
    prev_a, next_a = arrivals.adjacent_days(conn, day)
    prevs = [d for d in (prev_f, prev_a) if d is not None]
    nexts = [d for d in (next_f, next_a) if d is not None]
    return (max(prevs) if prevs else None, min(nexts) if nexts else None)


def _feeds(period: Period, now: datetime, *, home: bool) -> list[dict[str, str]]:
    """Feeds readers discover on this page: the period's own, and on the home page the daily
    list (which moves on each day) and trending."""
    own = alternates(period.path, f"Daily Papers: {period_heading(period, now)}")
    if not home:
        return own
    return (alternates("/papers", "Daily Papers") + alternates("/papers/trending", "Trending")
            + own)


def _nav(period: Period | None, sort: str, now: datetime) -> dict[str, str] | None:
    if period is None:
        return None
    return {"url": list_url(period.path, sort=sort), "label": nav_label(period, now)}
