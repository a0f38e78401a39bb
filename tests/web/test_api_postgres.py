"""The HF-compatible API on a real PostgreSQL (pgserver): same answers as on SQLite."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.sources.hf_daily import import_path
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app
from tests.conftest import FIXTURES

pytestmark = pytest.mark.postgres


def test_api_daily_papers_and_paper_pages_work_on_postgresql(pg_settings: Settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    for day in ("2025-06-16", "2026-08-20"):
        assert import_path(engine, FIXTURES / "hf" / f"{day}.json").rejected == 0
    with TestClient(create_app(pg_settings)) as client:
        day = client.get("/api/daily_papers", params={"date": "2025-06-16", "sort": "trending"})
        assert day.status_code == 200 and len(day.json()) == 9
        assert day.json()[0]["paper"]["id"] == "2506.11924"
        month = client.get("/api/daily_papers", params={"month": "2026-08", "limit": 100})
        assert len(month.json()) == 15
        one = client.get("/api/papers/2608.17253").json()
        assert one["submittedOnDailyAt"].startswith("2026-08-20") and one["organization"]["name"]
        seen: list[str] = []
        url: str | None = "/api/papers?limit=10"
        while url:
            r = client.get(url)
            seen += [x["id"] for x in r.json()]
            link = r.headers.get("link")
            url = link.split(";")[0].strip("<>") if link else None
        assert len(seen) == len(set(seen)) == 24
        stamps = [client.get(f"/api/papers/{pid}").json()["publishedAt"] for pid in seen[:3]]
        assert stamps == sorted(stamps, reverse=True)
    engine.dispose()
