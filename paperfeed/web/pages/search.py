"""The search page: /search?q=...&cat=&from=&to=&featured=1&code=1&p= (works without JavaScript).

Filters are plain GET parameters from a small form; the query stays in the box; a whole pasted
abstract is a fine query (keywords are cut to the first informative words, the semantic side
embeds the text).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.models import utcnow
from paperfeed.search.hybrid import MAX_LIMIT
from paperfeed.web.feeds import alternates
from paperfeed.web.pages.cache import cached_page
from paperfeed.web.searching import CARD_COLUMNS, filters_from, items_for, shared_search

router = APIRouter()
MAX_PAGE_QUERY = 20_000  # longer input is cut before parsing (the parser keeps 4,000)


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    q: Annotated[str, Query()] = "",
    cat: Annotated[str, Query(max_length=200)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    featured: Annotated[bool, Query()] = False,
    code: Annotated[bool, Query()] = False,
    p: Annotated[int, Query(ge=0, le=50)] = 0,
) -> Response:
    """Identical searches within a few seconds share one rendered page (per worker, recorded
    when a query is asked for the second time), with each visitor's own upvote state and CSRF
    token filled in (pages/cache.py)."""
    return cached_page(
        request, lambda: _render(request, q, cat, date_from, date_to, featured, code, p),
        record_first=False,
    )


def _render(
    request: Request, q: str, cat: str, date_from: str, date_to: str, featured: bool,
    code: bool, p: int,
) -> HTMLResponse:
    settings = request.app.state.settings
    q = q[:MAX_PAGE_QUERY]
    filters = filters_from(
        date_from=date_from, date_to=date_to, cat=cat, featured=featured, code=code
    )
    size = settings.page_size
    context: dict[str, Any] = {
        "q": q,
        "cat": cat,
        "date_from": date_from,
        "date_to": date_to,
        "featured": featured,
        "code": code,
        "now": utcnow(),
        "items": [],
        "searched": False,
        "used": None,
        "notes": [],
        "total": 0,
        "total_exact": True,
        "first_rank": p * size + 1,
        "prev_page_url": None,
        "next_page_url": None,
    }
    if q.strip() or filters.active:
        wanted = min((p + 1) * size + 1, MAX_LIMIT + 1)
        result = shared_search(request, q, filters=filters, limit=wanted)
        with request.app.state.engine.connect() as conn:
            page_items = items_for(conn, result, hits=result.hits[p * size : (p + 1) * size],
                                   columns=CARD_COLUMNS)
        params = {
            k: v
            for k, v in {
                "q": q, "cat": cat, "from": date_from, "to": date_to,
                "featured": "1" if featured else "", "code": "1" if code else "",
            }.items()
            if v
        }

        def url(page: int) -> str:
            return "/search?" + urlencode({**params, **({"p": page} if page else {})})

        context.update(
            items=page_items,
            searched=True,
            used=result.used,
            total=max(result.total, len(result.hits)),
            total_exact=result.total_exact,
            notes=[n for n in result.notes if "semantic" not in n],
            feeds=alternates("/search", f"Search: {q.strip()[:60]}",
                             "?" + urlencode(params)),
            prev_page_url=url(p - 1) if p > 0 else None,
            next_page_url=url(p + 1) if len(result.hits) > (p + 1) * size else None,
        )
    return request.app.state.templates.TemplateResponse(request, "search.html", context)
