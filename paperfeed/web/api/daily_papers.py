"""`GET /api/daily_papers`: the featured papers of a day, ISO week or month, as huggingface.co
answers it (same parameters, same JSON), so `HfApi.list_daily_papers` works unchanged.

Without `date`/`week`/`month` the list is every featured paper, newest featured day first (by
`sort` within a day), `limit` per page and `p` paging back through all of them, as
huggingface.co answers it (`?limit=100` gives 100 papers across the latest days). Identical
queries within
`PAPERFEED_API_CACHE_SECONDS` share one serialized answer (see `json.py`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paperfeed.errors import BadRequest
from paperfeed.feed import Period, check_sort, parse_day, parse_month, parse_week
from paperfeed.models import utcnow
from paperfeed.storage.feeds import list_featured
from paperfeed.web.api.json import ResponseCache, body_response
from paperfeed.web.api.schemas import ERROR_RESPONSES, DailyPaper
from paperfeed.web.api.serialize import feed_item_json
from paperfeed.web.pages.cache import page_cache

router = APIRouter(tags=["daily papers"])

MAX_PAGE = 100_000  # keeps p * limit a sane SQL offset


def requested_period(date_: str | None, week: str | None, month: str | None) -> Period | None:
    """The one period asked for, or None; 400 when several are given or one is malformed."""
    given = [(k, v) for k, v in (("date", date_), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        names = " and ".join(k for k, _ in given)
        raise BadRequest(f"api: give at most one of date, week, month (got {names})")
    if not given:
        return None
    kind, text = given[0]
    if kind == "date":
        day = parse_day(text)
        return Period("day", day, day)
    return parse_week(text) if kind == "week" else parse_month(text)


def _cache(request: Request) -> ResponseCache:
    cache = getattr(request.app.state, "daily_papers_cache", None)
    if cache is None:
        cache = ResponseCache(ttl=request.app.state.settings.api_cache_seconds)
        request.app.state.daily_papers_cache = cache
        page_cache(request).linked.append(cache)  # cleared with it after member writes
    return cache


def _build(
    request: Request,
    period: Period | None,
    submitter: str | None,
    sort: str,
    offset: int,
    limit: int,
) -> list[dict[str, Any]]:
    settings = request.app.state.settings
    # no period: every day, newest day first (the most recent daily papers, paged back)
    start, end = (period.start, period.end) if period is not None else (date.min, date.max)
    with request.app.state.engine.connect() as conn:
        items = list_featured(
            conn,
            start=start,
            end=end,
            sort=check_sort(sort),
            submitter=submitter,
            offset=offset,
            limit=limit,
            now=utcnow(),
            half_life_hours=settings.trending_half_life_hours,
            by_day=period is None,
        )
    return [feed_item_json(item) for item in items]


@router.get(
    "/daily_papers",
    response_model=list[DailyPaper],
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Daily papers (huggingface_hub `list_daily_papers`)",
)
async def daily_papers(
    request: Request,
    date: Annotated[
        str | None,
        Query(description="A day, YYYY-MM-DD. Default: every day, the most recent first."),
    ] = None,
    week: Annotated[str | None, Query(description="An ISO week, YYYY-Www (e.g. 2025-W09).")] = None,
    month: Annotated[str | None, Query(description="A month, YYYY-MM.")] = None,
    submitter: Annotated[
        str | None, Query(max_length=128, description="Only papers submitted by this username.")
    ] = None,
    sort: Annotated[
        str, Query(description="`publishedAt` (newest paper first) or `trending`.")
    ] = "publishedAt",
    p: Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, 0-based.")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Papers per page.")] = 50,
) -> Response:
    """Featured papers of one day, ISO week or month (at most one of them), newest first or
    by trending score; paginated with `p` and `limit`. Without a period: the most recent daily
    papers across days, newest day first (`sort` orders each day). A page past the end is
    `[]`."""
    period = requested_period(date, week, month)
    submitter = submitter or None
    sort_key = check_sort(sort, default="publishedAt")
    key = (period, submitter, sort_key, p, limit)
    cache = _cache(request)
    body = cache.get(key)  # a hit is answered on the event loop, without a thread hop
    if body is None:
        body = await run_in_threadpool(
            cache.get_or_build,
            key,
            lambda: _build(request, period, submitter, sort_key, p * limit, limit),
        )
    return body_response(body)
