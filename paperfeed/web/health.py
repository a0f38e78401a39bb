"""`/healthz`, `/readyz` and `/metrics`: what a load balancer, an orchestrator and Prometheus ask.

- `/healthz`: the process answers (no database call), so a liveness probe never restarts a
  worker because the database is down.
- `/readyz`: this worker can serve: the database is reachable, in place and at the schema the
  code needs, and the search backend is loaded (the first probe loads the embedding model and
  the vector index, so the first visitor's search does not pay for it). 503 with the reason
  otherwise, and while the server shuts down.
- `/metrics`: Prometheus text format, off unless `PAPERFEED_METRICS_ENABLED`, behind a bearer
  token when `PAPERFEED_METRICS_TOKEN` is set (see docs/operations.md).

None of them touches sessions, CSRF or the page cache.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed import metrics
from paperfeed.errors import NotFound, Unauthorized
from paperfeed.storage.health import check_database, instance_counts

router = APIRouter(include_in_schema=False)
READY_TIMEOUT = 5.0  # seconds a readiness check may take before it answers 503


@router.get("/healthz")
async def healthz() -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    state = request.app.state
    checks: dict[str, str] = {}
    ready = True
    if getattr(state, "shutting_down", False):
        ready, checks["server"] = False, "shutting down"
    try:
        db = await asyncio.wait_for(
            run_in_threadpool(check_database, state.engine, head=_head(state)), READY_TIMEOUT
        )
        ready = ready and db.ok
        checks["database"] = db.detail if db.ok else f"failing: {db.detail}"
    except TimeoutError:
        ready, checks["database"] = False, f"failing: no answer within {READY_TIMEOUT:.0f} s"
    if ready:
        try:
            search = await asyncio.wait_for(
                run_in_threadpool(_warm_search, request), READY_TIMEOUT * 6
            )
            checks["search"] = search
        except TimeoutError:
            ready, checks["search"] = False, "failing: still loading the search backend"
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503,
                        headers={"Cache-Control": "no-store"})


def _head(state: Any) -> str | None:
    """The code's newest schema revision (read once per app: the code does not change)."""
    head = getattr(state, "schema_head", None)
    if head is None:
        from paperfeed.storage.db import head_revision

        head = state.schema_head = head_revision(state.engine)
    return head  # type: ignore[no-any-return]


def _warm_search(request: Request) -> str:
    """Load the app's search backend; say what answers searches. Keyword-only (no model, no
    vectors) is a steady state, not a failure: searches still answer."""
    from paperfeed.web.searching import search_service

    service = search_service(request)
    load = getattr(service, "semantic_backend", None) or getattr(service, "embedder", None)
    semantic = load() if callable(load) else None
    return "hybrid (keywords and meaning)" if semantic is not None else "keywords only"


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.metrics_enabled:
        raise NotFound("Not found")
    token = settings.metrics_token.get_secret_value()
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise Unauthorized("metrics: send Authorization: Bearer <PAPERFEED_METRICS_TOKEN>")
    body, content_type = await run_in_threadpool(metrics.render, [_collector(request)])
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def _collector(request: Request) -> metrics.InstanceCollector:
    state = request.app.state
    collector = getattr(state, "instance_collector", None)
    if collector is None:
        engine, settings = state.engine, state.settings

        def read() -> dict[str, float]:
            try:
                from paperfeed.search.embed import model_info

                model_id: str | None = model_info(settings.embedding_model).model_id
            except Exception:  # noqa: BLE001 - no model: the queue is not measured
                model_id = None
            return instance_counts(engine, model_id)

        collector = state.instance_collector = metrics.InstanceCollector(read)
    return collector
