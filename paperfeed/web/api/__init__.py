"""JSON API under /api, compatible with Hugging Face's papers endpoints."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")


@router.get("/health", tags=["meta"])
def health() -> dict[str, str]:
    """Liveness probe for load balancers."""
    return {"status": "ok"}
