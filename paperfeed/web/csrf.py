"""CSRF protection for HTML forms: a signed double-submit token.

A random `pf_csrf` cookie (HttpOnly, SameSite=Lax) is set on first visit; every form carries
`csrf_token` = HMAC(secret, cookie). A state-changing form route depends on `verify_csrf`,
which rejects (403) a missing or mismatched token. The JSON API uses Bearer tokens instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from markupsafe import Markup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.errors import Forbidden

COOKIE = "pf_csrf"
FIELD = "csrf_token"


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token for forms on this page (creates the cookie value on first use). Computed
    once per request: every form of the page carries the same token."""
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is not None:
        return token
    value = request.cookies.get(COOKIE) or getattr(request.state, "csrf_new_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.csrf_new_cookie = value
    token = request.state.csrf_token = _sign(request.app.state.settings.secret(), value)
    return token


def csrf_input(request: Request) -> Markup:
    """`{{ csrf_input(request) }}` in a template: the hidden form field."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token(request))


async def verify_csrf(request: Request) -> None:
    """Dependency for form POST routes: 403 unless the form's token matches the cookie."""
    form = await request.form()
    sent = form.get(FIELD)
    cookie = request.cookies.get(COOKIE)
    if not isinstance(sent, str) or not cookie:
        raise Forbidden("form expired or cookies disabled: reload the page and try again")
    expected = _sign(request.app.state.settings.secret(), cookie)
    if not hmac.compare_digest(sent, expected):
        raise Forbidden("form expired or cookies disabled: reload the page and try again")


class CSRFCookieMiddleware:
    """Pure ASGI middleware: sets the `pf_csrf` cookie when a page created one."""

    def __init__(self, app: ASGIApp, *, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: dict[str, Any] = scope.get("state", {})
                value = state.get("csrf_new_cookie")
                if value:
                    cookie = f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure:
                        cookie += "; Secure"
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
