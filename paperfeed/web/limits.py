"""Request limits applied before any route runs: body size caps per route, no NUL in URLs.

Nothing paperfeed accepts is large (a comment is at most 5,000 characters), yet a request body
used to be read whole before validation: a 100 MB JSON body grew a worker by ~250 MB. This
middleware answers 413 as soon as `Content-Length` says a body is over its route's cap, and
for chunked bodies counts bytes as they stream and stops at the cap, so a worker never holds
more than the cap of any one request. NUL bytes, which PostgreSQL text cannot store and no
parameter needs, are dropped from query strings and refused (400) in paths; `verify_csrf`
refuses them in form fields.
"""

from __future__ import annotations

import html

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
# (path prefix, cap in bytes): the first prefix that matches wins. Forms carry a comment of
# 5,000 characters at most, which url-encodes to well under 64 KiB.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/", 16 * KIB),
    ("/signin", 8 * KIB),
    ("/subscribe", 8 * KIB),
    ("/unsubscribe", 8 * KIB),
    ("/", 96 * KIB),
)


def body_limit(path: str) -> int:
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return BODY_LIMITS[-1][1]


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its cap. An HTTPException, so the
    body parsers (which turn other errors into 400) let it through to the 413 error page."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(limit))


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw = scope.get("raw_path") or path.encode()
        query: bytes = scope.get("query_string", b"")
        if b"\x00" in raw or b"%00" in raw:
            await _refuse(scope, send, 400, "invalid request: the URL contains a NUL byte")
            return
        if b"%00" in query or b"\x00" in query:  # never meaningful in a parameter: dropped
            scope["query_string"] = query.replace(b"%00", b"").replace(b"\x00", b"")
        limit = body_limit(path)
        length = _content_length(scope)
        if length is not None and length > limit:
            await _refuse(scope, send, 413, _too_large(limit))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, send, 413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"request body too large: at most {limit // KIB} KiB here"


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    """The answer every error gets (web/app.py `error_response`): JSON under /api naming the
    request id, the site's error page elsewhere, one plain line on feeds and citations; a
    bare page only if that cannot be built (no app in the scope)."""
    from paperfeed.errors import public_message

    if "app" in scope and hasattr(scope["app"].state, "templates"):
        from starlette.requests import Request

        from paperfeed.web.app import error_response, is_api_path, route_path

        request = Request(scope)
        shown = message if is_api_path(route_path(scope)) else public_message(message)
        response = error_response(request, status, shown)
        response.headers["connection"] = "close"
        await response(scope, _no_body, send)
        return
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Error "
        f"{status}</title><h1>Error {status}</h1><p>{html.escape(message)}</p></html>"
    ).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
