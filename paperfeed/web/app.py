"""`create_app(settings)`: the FastAPI app with pages, JSON API, static files and error pages.

One error handler renders `PaperfeedError` (and HTTP errors) as JSON under /api and as an HTML
page elsewhere. The engine is created per app, never at import time.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError, RateLimited, public_message, shorten
from paperfeed.storage.db import check_schema, connect
from paperfeed.web import heap
from paperfeed.web.api_docs import install_api_docs
from paperfeed.web.csrf import CSRFCookieMiddleware
from paperfeed.web.head import HeadAsGetMiddleware
from paperfeed.web.headers import SecurityHeadersMiddleware
from paperfeed.web.limits import RequestLimitsMiddleware
from paperfeed.web.observe import ObserveMiddleware, request_id_of
from paperfeed.web.proxy import TrustedProxyMiddleware, parse_networks
from paperfeed.web.templating import make_templates

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings) -> FastAPI:
    single_threaded_math()
    heap.fewer_malloc_arenas()
    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description="Daily Papers: catalog, feeds, search. Hugging Face-compatible JSON API.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    engine = connect(settings, role="web")
    check_schema(engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.templates = make_templates(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    # Starlette runs the last added middleware first: proxy headers, then limits, then the rest.
    app.add_middleware(CSRFCookieMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestLimitsMiddleware)
    app.add_middleware(TrustedProxyMiddleware, trusted=parse_networks(settings.trusted_proxies))
    app.add_middleware(HeadAsGetMiddleware)  # every layer below sees a GET
    # outermost: a request id and metrics for every answer, the limits' 413s included
    app.add_middleware(ObserveMiddleware, access_log=settings.access_log)
    _install_error_handlers(app)
    install_api_docs(app)
    _include_routers(app)
    return app


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Started in the serving process (each forked worker), never in a supervisor that only
    builds an app before forking (web/preload.py): no thread of ours may run at a fork."""
    heap.start_trimming()
    collect_less()
    yield


_gc_tuned: int | None = None  # the pid whose collector was tuned (a forked child tunes its own)


def collect_less() -> None:
    """What a started worker holds is frozen out of the cyclic garbage collector (once per
    process).

    A started worker holds ~225k objects (modules, routes, templates, caches); a full
    collection walks all of them: ~200 ms in one request, every few hundred searches (a
    search allocates a few hundred thousand short-lived objects; bench/README, "what every
    search request pays outside the engine"). `gc.freeze()` moves them to a generation the
    collector never walks (reference counts still free them); the supervisor that forks the
    workers froze what it built already (web/preload.py), so this walks only what the worker
    made itself and copies no shared page. The young generation keeps CPython's threshold:
    10,000 instead of 700 saved ~0.3 ms of collections per search in-process but kept ~10 MB
    more per worker after a load (bench/serve_memory.py)."""
    global _gc_tuned
    pid = os.getpid()
    if _gc_tuned == pid:
        return
    _gc_tuned = pid
    gc.collect()
    gc.freeze()


def single_threaded_math() -> None:
    """One BLAS thread per web process. A worker runs many requests at once on its own threads,
    so a multi-threaded matrix product only makes them wait for each other, and OpenBLAS's
    helper threads busy-wait after each call: with them, a search's server CPU was twice its
    wall time (issue 11; 106 -> 57 ms of CPU in-process once limited). ONNX Runtime's query
    session is already single-threaded without spinning (search/hybrid.py), SQLite runs on the
    calling thread. `paperfeed serve` also sets OPENBLAS_NUM_THREADS=1 for its workers, so the
    helper threads are never started there; this covers other launchers (tests, gunicorn)."""
    import numpy  # noqa: F401 - loads OpenBLAS, so the limit below reaches it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _favicon() -> FileResponse:
    """Browsers, feed readers and bookmarks ask for /favicon.ico whatever the page says."""
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from `PAPERFEED_*` environment variables.

    Logging is configured here too when the process has none (a worker started by plain
    `uvicorn --factory`), so warnings such as the outbox's links are never lost."""
    from paperfeed.logs import ensure_configured

    ensure_configured()
    return create_app(Settings())


def _include_routers(app: FastAPI) -> None:
    from paperfeed.web.api import router as api_router
    from paperfeed.web.health import router as health_router
    from paperfeed.web.pages import router as pages_router

    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(pages_router)
    _skip_api_routes_for_pages(app, api_router)


def _skip_api_routes_for_pages(app: FastAPI, api_router: object) -> None:
    """Pages do not try the JSON API's ~30 routes before their own.

    FastAPI (0.16x) matches a request against every route of the routers included before the
    one that answers, through a few layers of wrappers per route (~1.5 us each), and does so
    twice for the router that answers; a list page tried every /api route first: about a fifth
    of an anonymous list page's CPU (bench/pages.py). Every API route's path starts with
    /api/, so the API's included router answers "no match" at once for any other path (the
    routes, their order and the OpenAPI document stay FastAPI's)."""
    from starlette.routing import Match
    from starlette.types import Scope

    for route in app.router.routes:
        if getattr(route, "original_router", None) is not api_router:
            continue
        matches = route.matches

        def api_matches(scope: Scope, matches: Any = matches) -> tuple[Match, Scope]:
            if is_api_path(route_path(scope)):
                return matches(scope)  # type: ignore[no-any-return]
            return Match.NONE, {}

        route.matches = api_matches  # type: ignore[method-assign]


def route_path(scope: Mapping[str, Any]) -> str:
    """The request's path below the app's root path (`uvicorn --root-path`, a proxy's
    prefix): what routes are matched against. Starlette puts the root path inside `path`
    (1.x); when it is not there (older versions), `path` is already below it."""
    path = str(scope["path"])
    root = str(scope.get("root_path") or "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _wants_json(request: Request) -> bool:
    return is_api_path(route_path(request.scope))


# Feeds and citations are read by programs that show an error's body as text (a feed reader,
# a reference manager): their errors are one plain line, not the site's HTML page.
PLAIN_SUFFIXES = (".atom", ".rss", ".bib", ".ris")


def _wants_plain(request: Request) -> bool:
    return route_path(request.scope).endswith(PLAIN_SUFFIXES)


def error_response(request: Request, status: int, message: str) -> Response:
    """The error as JSON under /api, as a page elsewhere; both name the request id (also in
    the X-Request-ID header and in the log lines of the request), so a reported error can be
    found in the log."""
    rid = request_id_of(request)
    message = shorten(message)
    response: Response
    if _wants_json(request):
        body: dict[str, str] = {"error": message}
        if rid:
            body["request_id"] = rid
        response = JSONResponse(body, status_code=status)
    elif _wants_plain(request):
        line = " ".join((message or ("Not found" if status == 404 else f"Error {status}")).split())
        if rid and status >= 500:
            line += f" (request id {rid})"
        response = PlainTextResponse(line + "\n", status_code=status)
    else:
        templates = request.app.state.templates
        response = templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message, "request_id": rid},
            status_code=status,
        )
    if rid:  # a 500 is sent from outside the middlewares: set the header here too
        response.headers["X-Request-ID"] = rid
    return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PaperfeedError)
    async def _paperfeed_error(request: Request, exc: PaperfeedError) -> Response:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        message = str(exc) if _wants_json(request) else public_message(exc)
        response = error_response(request, exc.status, message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A 404 of the router has no message of its own: the page's heading says it all.
        message = str(exc.detail) if exc.status_code != 404 else ""
        if _wants_json(request) and not message:
            message = "Not found"
        response = error_response(request, exc.status_code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        message = "invalid parameters: " + "; ".join(parts)
        return error_response(request, 400,
                              message if _wants_json(request) else public_message(message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "Internal error; see the server log")


__all__ = ["create_app", "app_from_env", "error_response", "HTMLResponse"]
