"""JSON API under /api, compatible with Hugging Face's papers endpoints.

One module per resource, each with its own router included here. Keep `papers` last: its
`/api/papers/{paper_id}` pattern must not shadow fixed paths like `/api/papers/search`.
"""

from fastapi import APIRouter

from paperfeed.web.api import (
    alerts,
    collections,
    daily_papers,
    foryou,
    members,
    own_data,
    papers,
    search,
    subscriptions,
    suggest,
)

router = APIRouter(prefix="/api")


@router.get("/health", tags=["meta"])
def health() -> dict[str, str]:
    """Liveness probe for load balancers."""
    return {"status": "ok"}


# Resource routers (add new ones above `papers`).
router.include_router(daily_papers.router)
router.include_router(members.router)
router.include_router(foryou.router)
router.include_router(collections.router)
router.include_router(own_data.router)
router.include_router(alerts.router)
router.include_router(search.router)  # before papers: /papers/search vs /papers/{id}
router.include_router(subscriptions.router)
router.include_router(suggest.router)
router.include_router(papers.router)
