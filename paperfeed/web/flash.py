"""One-shot messages across a redirect, so every form follows POST-redirect-GET.

A form handler that succeeded answers 303 to a page and leaves what that page should say in a
short-lived signed cookie; the page shows it once and clears it. A reload then repeats the
GET, never the POST (no second subscription request, no second token), and the page can still
name what happened: the address a confirmation went to, the token created a moment ago (the
cookie is HttpOnly, lives two minutes at most and is deleted by the page that shows it).
Each message is addressed to one path, so it is never shown on another page.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "pf_flash"
MAX_AGE_SECONDS = 120


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret(), salt="paperfeed.flash")


def redirect(request: Request, url: str, **message: Any) -> RedirectResponse:
    """303 to `url` (a local path, optionally with a query and #fragment) carrying `message`
    (JSON-able values) for the page at that path."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    response = RedirectResponse(url, status_code=303)
    value = _serializer(request).dumps({"path": path, **message})
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE_SECONDS, path="/", httponly=True, samesite="lax",
        secure=settings.base_url.startswith("https://"),
    )
    return response


def take(request: Request) -> dict[str, Any]:
    """The message left for this page ({} when none, expired, forged or for another page)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return {}
    if not isinstance(data, dict) or data.get("path") != request.url.path:
        return {}
    request.state.flash_taken = True
    return data


def consumed(request: Request, response: Response) -> Response:
    """Clear the cookie on the response of the page that showed the message."""
    if getattr(request.state, "flash_taken", False):
        response.delete_cookie(COOKIE, path="/")
        response.headers["Cache-Control"] = "no-store"
    return response
