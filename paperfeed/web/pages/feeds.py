"""Feed routes: the daily list, trending, a day / week / month, a search, private feeds.

URLs mirror the pages they follow, with `.atom` or `.rss` on the end: `/papers.atom` (the
latest daily list, as the home page), `/papers/trending.rss`, `/papers/date/2025-06-16.atom`,
`/papers/week/2025-W25.rss`, `/papers/month/2025-06.atom`, `/search.atom?q=...`, and
`/feeds/private/{token}.atom`. Author and organisation feeds live with their pages
(`people.py`). Include this router before `daily`/`period`, whose `{day}` would match
`2025-06-16.atom`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed.feed import (
    Period,
    day_period,
    local_today,
    parse_day,
    parse_month,
    parse_week,
)
from paperfeed.models import Member, utcnow
from paperfeed.storage import arrivals, feed_tokens, feeds, people
from paperfeed.storage.db import write
from paperfeed.storage.users import get_by_id
from paperfeed.syndication import FeedDoc, entries_from_items, entries_from_rows
from paperfeed.web.feeds import (
    check_format,
    feed_response,
    private_provider,
    register_private_feed,
    resolve_token,
)
from paperfeed.web.pages.listing import home_day, period_heading
from paperfeed.web.searching import filters_from, search_service

router = APIRouter()
READ = ["GET", "HEAD"]  # feed readers and link checkers ask with HEAD too
TRENDING_DAYS = 7
FEED_SIZE = 50


def _featured_doc(request: Request, period: Period, *, title: str, page_path: str,
                  self_path: str, sort: str = "trending") -> FeedDoc:
    """The period's curated list; where there is none, the papers that appeared on arXiv in
    it, labelled as such (the rule of the list pages, listing.py), so an instance fed from
    arXiv alone has feeds as well as pages."""
    settings = request.app.state.settings
    heading = period_heading(period, utcnow())
    subtitle = f"Papers featured by the community, {heading}"
    with request.app.state.engine.connect() as conn:
        result = feeds.page_featured(
            conn, start=period.start, end=period.end, sort=sort,  # type: ignore[arg-type]
            offset=0, limit=FEED_SIZE, now=utcnow(),
            half_life_hours=settings.trending_half_life_hours,
        )
        if result.total == 0:
            result = arrivals.page_new(conn, start=period.start, end=period.end,
                                       sort=sort, offset=0, limit=FEED_SIZE)  # type: ignore[arg-type]
            if result.total:
                subtitle = (f"New on arXiv, {heading}: no one has put a list together yet, so "
                            "these are the papers that appeared on arXiv, most upvoted first")
    return FeedDoc(title=title, subtitle=subtitle, page_path=page_path, self_path=self_path,
                   entries=entries_from_items(result.items))


def latest_day_doc(request: Request) -> FeedDoc:
    """The daily list the home page shows (today's, or the latest day with papers)."""
    settings = request.app.state.settings
    today = local_today(utcnow(), settings.timezone)
    with request.app.state.engine.connect() as conn:
        day = home_day(conn, today)
    period = day_period(day or today)
    doc = _featured_doc(request, period, title="Daily Papers", page_path="/",
                        self_path="/papers")
    if not doc.subtitle.startswith("New on arXiv"):
        doc.subtitle = "Today's papers, featured and upvoted by the research community"
    return doc


@router.api_route("/papers.{fmt}", methods=READ, include_in_schema=False)
def daily_feed(request: Request, fmt: str) -> Response:
    return feed_response(request, latest_day_doc(request), check_format(fmt))


@router.api_route("/papers/trending.{fmt}", methods=READ, include_in_schema=False)
def trending_feed(request: Request, fmt: str) -> Response:
    today = local_today(utcnow(), request.app.state.settings.timezone)
    with request.app.state.engine.connect() as conn:  # a quiet site still trends something
        end = home_day(conn, today) or today
    period = Period("week", end - timedelta(days=TRENDING_DAYS - 1), end)
    doc = _featured_doc(request, period, title="Trending papers", page_path="/",
                        self_path="/papers/trending")
    doc.subtitle = f"The most upvoted papers of the last {TRENDING_DAYS} days"
    return feed_response(request, doc, check_format(fmt))


def period_doc(request: Request, period: Period) -> FeedDoc:
    heading = period_heading(period, utcnow())
    return _featured_doc(request, period, title=f"Daily Papers: {heading}",
                         page_path=period.path, self_path=period.path)


@router.api_route("/papers/date/{day}.{fmt}", methods=READ, include_in_schema=False)
def day_feed(request: Request, day: str, fmt: str) -> Response:
    fmt = check_format(fmt)
    return feed_response(request, period_doc(request, day_period(parse_day(day))), fmt)


@router.api_route("/papers/week/{week}.{fmt}", methods=READ, include_in_schema=False)
def week_feed(request: Request, week: str, fmt: str) -> Response:
    fmt = check_format(fmt)
    return feed_response(request, period_doc(request, parse_week(week)), fmt)


@router.api_route("/papers/month/{month}.{fmt}", methods=READ, include_in_schema=False)
def month_feed(request: Request, month: str, fmt: str) -> Response:
    fmt = check_format(fmt)
    return feed_response(request, period_doc(request, parse_month(month)), fmt)


def search_doc(
    request: Request, q: str, *, cat: str = "", date_from: str = "", date_to: str = "",
    featured: bool = False, code: bool = False,
) -> FeedDoc:
    """The best matches of a search (the same engine as /search), as a feed."""
    from urllib.parse import urlencode

    filters = filters_from(date_from=date_from, date_to=date_to, cat=cat, featured=featured,
                           code=code)
    params = {k: v for k, v in {"q": q, "cat": cat, "from": date_from, "to": date_to,
                                "featured": "1" if featured else "",
                                "code": "1" if code else ""}.items() if v}
    query = "?" + urlencode(params) if params else ""
    entries = []
    if q.strip() or filters.active:
        result = search_service(request).search(q, filters=filters, limit=FEED_SIZE)
        from paperfeed.storage.search import papers_by_ids

        with request.app.state.engine.connect() as conn:
            rows = papers_by_ids(conn, [h.paper_id for h in result.hits])
        entries = entries_from_rows([dict(rows[h.paper_id]) for h in result.hits
                                     if h.paper_id in rows])
    label = q.strip()[:120] or "filters"
    return FeedDoc(title=f"Search: {label}", subtitle=f"Papers matching {label}",
                   page_path=f"/search{query}", self_path="/search", entries=entries,
                   query=query)


@router.api_route("/search.{fmt}", methods=READ, include_in_schema=False)
def search_feed(
    request: Request,
    fmt: str,
    q: str = "",  # cut to the engine's 4,000 characters (search/query.py), as on the page
    cat: Annotated[str, Query(max_length=200)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    featured: Annotated[bool, Query()] = False,
    code: Annotated[bool, Query()] = False,
) -> Response:
    fmt = check_format(fmt)
    doc = search_doc(request, q, cat=cat, date_from=date_from, date_to=date_to,
                     featured=featured, code=code)
    return feed_response(request, doc, fmt)


@router.api_route("/feeds/private/{token}.{fmt}", methods=READ, include_in_schema=False)
def private_feed(request: Request, token: str, fmt: str) -> Response:
    """A member's private feed; 404 once its token is revoked or the member is banned."""
    fmt = check_format(fmt)
    row = resolve_token(request, token)
    with request.app.state.engine.connect() as conn:
        member = get_by_id(conn, int(row["user_id"]))
    if member is None or member.banned:
        from paperfeed.errors import NotFound

        raise NotFound("feeds: this private feed URL is not valid (revoked or mistyped)")
    doc = private_provider(row["kind"])(request, member, row["arg"])
    doc.self_path, doc.query = f"/feeds/private/{token}", ""
    now = utcnow()
    if row["last_used_at"] is None or now - row["last_used_at"] > timedelta(hours=1):
        with write(request.app.state.engine) as conn:  # at most one write an hour per feed
            feed_tokens.touch(conn, int(row["id"]), now=now)
    return feed_response(request, doc, fmt, private=True)


def upvotes_doc(request: Request, member: Member, _arg: str) -> FeedDoc:
    """Built-in private feed: the papers the member upvoted, latest vote first."""
    with request.app.state.engine.connect() as conn:
        rows = people.upvoted_papers(conn, member.id, limit=FEED_SIZE)
    entries = entries_from_rows([dict(r) for r in rows])
    for entry, row in zip(entries, rows, strict=True):
        entry.updated = row["voted_at"]
    return FeedDoc(title=f"Upvoted by {member.display_name or member.username}",
                   subtitle="Papers you upvoted, latest first", page_path="/settings",
                   self_path="/feeds/private/upvotes", entries=entries)


register_private_feed("upvotes", "Papers I upvoted", upvotes_doc)
