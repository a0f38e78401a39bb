"""`/digest/preview?edition=`: the digest HTML of an edition as subscribers would see it.

Only in development for now (404 in production) until admin roles exist; the CLI
`paperfeed digest preview --edition ... --out FILE` works everywhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed.digests.preview import preview_html
from paperfeed.errors import NotFound

router = APIRouter(tags=["digests"])


@router.get("/digest/preview", response_class=HTMLResponse)
def digest_preview(request: Request, edition: str = Query("", max_length=20)) -> HTMLResponse:
    settings = request.app.state.settings
    if not settings.is_development:
        raise NotFound("Not found")
    html = preview_html(request.app.state.engine, settings, edition or None, frequency="daily")
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
