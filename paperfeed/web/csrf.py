"""CSRF protection for HTML forms: a signed double-submit token bound to the session.

A random `pf_csrf` cookie (HttpOnly, SameSite=Lax; `__Host-` and Secure over https, see
web/cookies.py) is set on first visit. Every form carries `csrf_token` = HMAC(secret, cookie,
session cookie), computed once per request and reused by every form on the page. Binding the
session in means a token read before signing in (or from another member's session) is
useless after it; signing in also rotates the cookie itself (`rotate`). A state-changing form
route depends on `verify_csrf`, which rejects (403) a missing or mismatched token. The JSON API
uses Bearer tokens instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from markupsafe import Markup
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.errors import BadRequest, Forbidden
from paperfeed.web import cookies

COOKIE = "pf_csrf"
COOKIE_NAMES = (COOKIE, cookies.HOST_PREFIX + COOKIE)
FIELD = "csrf_token"
SESSION_COOKIE = "pf_session"  # = accounts.signin.SESSION_COOKIE (kept free of that import)


def _sign(secret: str, value: str, session: str) -> str:
    message = f"csrf:{value}:{session}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _session(request: HTTPConnection) -> str:
    return cookies.read(request, SESSION_COOKIE) or ""


def csrf_token(request: Request) -> str:
    """The token for forms on this page, computed once per request (creates the cookie value
    on first use)."""
    cached: str | None = getattr(request.state, "csrf_token", None)
    if cached is not None:
        return cached
    value = getattr(request.state, "csrf_new_cookie", None) or cookies.read(request, COOKIE)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.csrf_new_cookie = value
    session = getattr(request.state, "csrf_session", None)
    token = _sign(request.app.state.settings.secret(), value,
                  _session(request) if session is None else session)
    request.state.csrf_token = token
    return token


def rotate(request: Request, *, session: str) -> None:
    """A new CSRF cookie for this browser (at sign-in and sign-out); `session` is the session
    cookie the response sets ("" when signing out), so any page rendered by this same request
    already carries the new token."""
    request.state.csrf_new_cookie = secrets.token_urlsafe(24)
    request.state.csrf_session = session
    request.state.csrf_token = None


def csrf_input(request: Request) -> Markup:
    """`{{ csrf_input(request) }}` in a template: the hidden form field."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token(request))


async def verify_csrf(request: Request) -> None:
    """Dependency for form POST routes: 403 unless the form's token matches the cookie and
    the session."""
    form = await request.form()
    if any(isinstance(v, str) and "\x00" in v for v in form.values()):
        raise BadRequest("invalid form: a field contains a NUL byte")
    sent = form.get(FIELD)
    cookie = cookies.read(request, COOKIE)
    if not isinstance(sent, str) or not cookie:
        raise Forbidden("form expired or cookies disabled: reload the page and try again")
    expected = _sign(request.app.state.settings.secret(), cookie, _session(request))
    if not hmac.compare_digest(sent, expected):
        raise Forbidden("form expired or cookies disabled: reload the page and try again")


class CSRFCookieMiddleware:
    """Pure ASGI middleware: sets the CSRF cookie when a page created or rotated one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: dict[str, Any] = scope.get("state", {})
                value = state.get("csrf_new_cookie")
                if value:
                    conn = HTTPConnection(scope)
                    headers = list(message.get("headers", []))
                    headers.append(
                        (b"set-cookie", cookies.header(conn, COOKIE, value).encode("latin-1"))
                    )
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
