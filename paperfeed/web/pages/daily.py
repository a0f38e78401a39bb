"""Daily pages: the home page (today, or the latest day with papers) and /papers/date/D."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.feed import check_sort, day_period, local_today, parse_day
from paperfeed.models import utcnow
from paperfeed.web.pages.cache import shared_page
from paperfeed.web.pages.listing import home_day, period_page, render_period

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(
    request: Request,
    sort: str | None = Query(None, description="trending (default) or publishedAt"),
    p: int = Query(0, ge=0, le=100_000, description="0-based page"),
) -> Response:
    """Today's papers in PAPERFEED_TIMEZONE; before today's list exists, the latest day's.

    A day is the latest with a curated list or with new arXiv papers (an instance fed from
    arXiv alone shows the newest day's papers, labelled as such; see storage/arrivals.py)."""
    check_sort(sort)
    return await shared_page(request, lambda: _home(request, sort, p))


def _home(request: Request, sort: str | None, p: int) -> Response:
    settings = request.app.state.settings
    today = local_today(utcnow(), settings.timezone)
    with request.app.state.engine.connect() as conn:
        day = home_day(conn, today)
    if day is None:
        return request.app.state.templates.TemplateResponse(
            request, "empty_site.html", {"now": utcnow()}
        )
    return render_period(request, day_period(day), sort=sort, page=p, home=True)


@router.get("/papers/date/{day}", response_class=HTMLResponse, include_in_schema=False)
async def papers_of_day(
    request: Request,
    day: str,
    sort: str | None = Query(None),
    p: int = Query(0, ge=0, le=100_000),
) -> Response:
    return await period_page(request, day_period(parse_day(day)), sort=sort, page=p)
