"""One path after ingest: a member's submission (the real submit route) and the scheduler's
hourly import (the real `Scheduler` with its default jobs) leave new papers embedded, so
they are in semantic search and "Similar papers" at once, on SQLite and on PostgreSQL, as
`paperfeed ingest` does."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.jobs import Scheduler, default_jobs
from paperfeed.models import utcnow
from paperfeed.search.hybrid import SearchService
from paperfeed.search.indexing import index_papers
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import FIXTURES
from tests.members_support import add_member, token_for
from tests.search.conftest import real_papers

CATALOG = 12  # papers indexed before the new one arrives (small: the real model embeds them)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path / "data", environment="development",
                       secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                       base_url="http://testserver")
    else:
        yield request.getfixturevalue("pg_settings")


@pytest.fixture
def indexed(store_settings: Settings) -> Iterator[Engine]:
    """A migrated store with the first real papers stored and embedded."""
    store_settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(store_settings)
    migrate(engine)
    with write(engine) as conn:
        upsert_papers(conn, real_papers()[:CATALOG], now=utcnow())
    index_papers(engine, store_settings)
    yield engine
    engine.dispose()


def _embedded(engine: Engine) -> int:
    with engine.connect() as conn:
        return store.count_embeddings(conn)


def test_a_submitted_paper_is_in_semantic_search_and_similar_papers_at_once(
    store_settings: Settings, indexed: Engine
) -> None:
    new = dataclasses.replace(real_papers()[CATALOG], published_at=utcnow() - timedelta(days=1))
    with write(indexed) as conn:  # in the catalog (e.g. from an arXiv ingest) but not embedded
        upsert_papers(conn, [new], now=utcnow())
    assert _embedded(indexed) == CATALOG
    token = token_for(indexed, add_member(indexed, "ada@example.org", username="ada"))
    with TestClient(create_app(store_settings)) as client:
        r = client.post("/api/papers/submit", json={"id": new.id},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        assert _embedded(indexed) == CATALOG + 1  # embedded once the response was sent
        found = client.get("/api/papers/search", params={"q": new.title, "limit": 3}).json()
        assert found[0]["paper"]["id"] == new.id
        page = client.get(f"/papers/{new.id}").text
        assert "Similar papers" in page
        similar = re.findall(r'<a href="/papers/([0-9.]+)"', page[page.index("Similar papers"):])
        assert similar and new.id not in similar
    hits = SearchService(indexed, store_settings).search(new.title, mode="semantic", limit=3)
    assert hits.used == "semantic" and hits.hits[0].paper_id == new.id


def test_the_scheduler_import_embeds_what_it_imports(
    store_settings: Settings, indexed: Engine
) -> None:
    day = FIXTURES / "hf" / "2026-08-20.json"
    scheduler = Scheduler(indexed, store_settings, default_jobs(indexed, store_settings),
                          holder="test")
    with respx.mock:
        respx.get("https://huggingface.co/api/daily_papers").mock(
            return_value=httpx.Response(200, content=day.read_bytes())
        )
        assert "ingest-hf-daily" in scheduler.tick(utcnow())
    assert _embedded(indexed) == CATALOG + 15  # the 15 imported papers, embedded by the job
    title = json.loads(day.read_text("utf-8"))[0]["paper"]["title"]
    hits = SearchService(indexed, store_settings).search(title, mode="semantic", limit=3)
    assert hits.hits[0].paper_id == "2608.16590"
