"""HEAD on every GET route: the GET response's status and headers, without its body.

Link checkers, feed readers, uptime monitors and `curl -I` ask with HEAD. Starlette's plain
`Route` answers HEAD for a GET endpoint, but FastAPI's `APIRoute` only lists the methods it
was declared with, so `@router.get` pages answered 405. Declaring `methods=["GET", "HEAD"]`
on every route would also put a HEAD operation for each of them into the OpenAPI document
(and be forgotten on the next route), so one middleware runs HEAD as GET instead and drops the
body. Headers, Content-Length included, stay those of the GET response, as RFC 9110 asks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
