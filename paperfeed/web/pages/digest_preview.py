"""`/digest/preview?edition=`: an edition's digest HTML as subscribers would receive it.

For admins (signed in); in development also for anyone, so a fresh `serve --demo` can show
it. `paperfeed digest preview --edition ... --out FILE` does the same from the CLI.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed.accounts.guards import require_admin
from paperfeed.digests.preview import preview_html
from paperfeed.errors import Unauthorized
from paperfeed.web.deps import load_member
from paperfeed.web.headers import EMAIL_PREVIEW_CSP

router = APIRouter(tags=["digests"])


@router.get("/digest/preview", response_class=HTMLResponse)
def digest_preview(
    request: Request,
    edition: str = Query("", max_length=20, description="YYYY-MM-DD or YYYY-Www"),
) -> HTMLResponse:
    settings = request.app.state.settings
    if not settings.is_development:
        member = load_member(request)
        if member is None:
            raise Unauthorized("digests: sign in as an admin to preview digests (/signin)")
        require_admin(member)
    html = preview_html(request.app.state.engine, settings, edition or None)
    # An email's HTML has inline styles (mail clients need them); it has no scripts.
    return HTMLResponse(html, headers={"Cache-Control": "no-store",
                                       "Content-Security-Policy": EMAIL_PREVIEW_CSP})
