"""Per-request observation: a request id, metrics by route template, an optional access log.

A pure ASGI middleware (no response buffering, streaming untouched):

- the request id is the client's `X-Request-ID` when it looks like one (a proxy's or load
  balancer's, so one id follows the request across hops), else a fresh random one; it goes in
  `request.state.request_id`, in the `X-Request-ID` response header, in every log line written
  while the request runs (`logs.request_id`), and in error pages and JSON errors, so a user's
  screenshot of an error finds its traceback in the log;
- metrics are labelled by the matched route's template (`/papers/{paper_id}`), never the raw
  path, so label cardinality stays bounded whatever URLs clients invent (`<unmatched>` for
  404s outside any route); latency runs until the last body byte is sent (background tasks
  after the response are not the client's wait);
- with `PAPERFEED_ACCESS_LOG`, one `paperfeed.access` line per request.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import metrics
from paperfeed.logs import request_id

log = logging.getLogger("paperfeed.access")
HEADER = "x-request-id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
UNMATCHED = "<unmatched>"
_CONVERTOR = re.compile(r"\{(\w+):[^}]+\}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's full path template (`/api/papers/{arxiv_id}`), `<unmatched>` when
    no route matched.

    The route object only knows its path within its router (`/papers/{arxiv_id}` under the
    `/api` router), so the template is rebuilt from the request path by putting each path
    parameter's name back in place of its value; it must end with the route's own template,
    else (a converter changed the value's spelling) the route's own template is used: never
    the raw path, so the metric's labels stay bounded.
    """
    route = scope.get("route")
    own = getattr(route, "path", None)
    if isinstance(route, Mount) or (not own and scope.get("root_path", "") != root_path):
        mounted = own or str(scope.get("root_path", ""))[len(root_path):]
        return str(mounted).rstrip("/") + "/{path}"  # static files and other mounted apps
    if not own:
        return UNMATCHED
    own = _CONVERTOR.sub(r"{\1}", str(own))  # {raw:path} -> {raw}
    path = str(scope.get("path", ""))
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        at = path.rfind("/" + text) if text else -1
        if at < 0:
            return own
        path = f"{path[:at]}/{{{name}}}{path[at + 1 + len(text):]}"
    return path if path.endswith(own) else own


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, HEADER)
        rid = given if given and _GOOD_ID.fullmatch(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        request_id.set(rid)  # each request runs in its own task: no reset needed
        root_path = str(scope.get("root_path", ""))
        start = time.perf_counter()
        status = 500
        finished: float | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = (finished or time.perf_counter()) - start
            route = route_template(scope, root_path)
            method = str(scope.get("method", "GET"))
            metrics.observe_request(method, route, status, seconds)
            if self.access_log:
                log.info(
                    "%s %s %d %.1f ms", method, scope.get("path", ""), status, seconds * 1000,
                    extra={"route": route, "status": status,
                           "duration_ms": round(seconds * 1000, 2)},
                )


def _header(scope: Scope, name: str) -> str | None:
    raw = name.encode()
    for key, value in scope.get("headers", []):
        if key == raw:
            try:
                return str(value.decode("latin-1"))
            except Exception:  # noqa: BLE001
                return None
    return None


def request_id_of(request: Any) -> str | None:
    """The id ObserveMiddleware gave this request (None outside it)."""
    return getattr(getattr(request, "state", None), "request_id", None)
