"""One path after ingest: a member's submission (the real submit route) and the scheduler's
hourly import (the real `Scheduler` with its default jobs) leave new papers embedded, so
they are in semantic search and "Similar papers" at once, on SQLite and on PostgreSQL, as
`paperfeed ingest` does."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts import signin
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

SUBMITTED = "2206.06921"  # tests/fixtures/arxiv/query_doc.xml
SUBMITTED_TITLE = "Attainable forms of Assouad spectra"
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


def test_a_paper_submitted_through_the_web_form_is_embedded_and_found(
    store_settings: Settings, indexed: Engine
) -> None:
    """The path a member takes on the site: /submit's form (session cookie + CSRF token) on a
    real server, the paper's metadata from arXiv (a recorded answer replayed on loopback); the
    post-ingest step runs after the response, so the test waits for the vector to appear."""
    from tests.members_support import CSRF_RE, replay_server
    from tests.web.conftest import serve

    arxiv, arxiv_url = replay_server(FIXTURES / "arxiv" / "query_doc.xml")
    settings = store_settings.model_copy(update={
        "arxiv_api_url": arxiv_url, "arxiv_delay_seconds": 0, "http_retries": 0,
        "submission_max_age_days": 100_000,  # the recorded paper is from 2022
    })
    member = add_member(indexed, "ada@example.org", username="ada")
    cookie = signin.start_session(indexed, settings, member, now=utcnow())
    try:
        with serve(settings) as url, httpx.Client(
            base_url=url, cookies={signin.SESSION_COOKIE: cookie}, timeout=60, follow_redirects=True
        ) as client:
            form = client.get("/submit")
            assert form.status_code == 200
            csrf = CSRF_RE.search(form.text)
            assert csrf
            r = client.post("/submit", data={"paper": SUBMITTED, "csrf_token": csrf.group(1)})
            assert r.status_code == 200 and SUBMITTED in r.text, r.text[:500]
            deadline = time.monotonic() + 60
            while _embedded(indexed) < CATALOG + 1 and time.monotonic() < deadline:
                time.sleep(0.05)  # polling the background task's result, not a fixed wait
            assert _embedded(indexed) == CATALOG + 1
            found = client.get("/api/papers/search", params={"q": SUBMITTED_TITLE}).json()
            assert found[0]["paper"]["id"] == SUBMITTED
            page = client.get(f"/papers/{SUBMITTED}").text
            assert "Similar papers" in page
            similar = re.findall(r'<a href="/papers/([0-9.]+)"',
                                 page[page.index("Similar papers"):])
            assert similar and SUBMITTED not in similar
    finally:
        arxiv.shutdown()
    meaning = SearchService(indexed, settings).search(
        "dimension spectra of fractal sets", mode="semantic", limit=3)
    assert meaning.used == "semantic" and SUBMITTED in [h.paper_id for h in meaning.hits]
