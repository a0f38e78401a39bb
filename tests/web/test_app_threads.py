"""Web processes run numpy's BLAS on one thread (no helper threads busy-waiting beside requests)."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from paperfeed.config import Settings
from paperfeed.web.app import create_app


def test_app_limits_blas_to_one_thread(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    create_app(settings)
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
