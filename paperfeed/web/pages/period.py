"""Week and month pages: /papers/week/YYYY-Www and /papers/month/YYYY-MM."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.feed import parse_month, parse_week
from paperfeed.web.pages.listing import period_page

router = APIRouter()


@router.get("/papers/week/{week}", response_class=HTMLResponse, include_in_schema=False)
async def papers_of_week(
    request: Request,
    week: str,
    sort: str | None = Query(None),
    p: int = Query(0, ge=0, le=100_000),
) -> Response:
    return await period_page(request, parse_week(week), sort=sort, page=p)


@router.get("/papers/month/{month}", response_class=HTMLResponse, include_in_schema=False)
async def papers_of_month(
    request: Request,
    month: str,
    sort: str | None = Query(None),
    p: int = Query(0, ge=0, le=100_000),
) -> Response:
    return await period_page(request, parse_month(month), sort=sort, page=p)
