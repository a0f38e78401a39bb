"""Search on a real PostgreSQL (pgserver): keyword path over the weighted tsvector, filters,
pinning, hostile queries, and the search page/API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.hybrid import SearchService
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app
from tests.search.conftest import CODE_ID, load_catalog

pytestmark = pytest.mark.postgres


def test_search_on_postgresql(pg_settings: Settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    load_catalog(engine, utcnow())
    service = SearchService(engine, pg_settings)
    ids = lambda text, **kw: [h.paper_id for h in service.search(text, mode="keyword", **kw).hits]  # noqa: E731
    assert ids("voice cloning benchmark")[0] == CODE_ID
    assert ids("zooplankton") == []
    assert ids('"voice cloning"') == [CODE_ID]
    assert CODE_ID not in ids("voice cloning -benchmark")
    assert all(p.startswith("25") for p in ids("benchmark year:2025", limit=50))
    assert service.search("arXiv:2504.20581", mode="keyword").hits[0].pinned
    for hostile in ['"', "-", "NEAR(", "*", "x" * 10_000, "a\x00b", "a & b | !c <-> d", "author:"]:
        service.search(hostile, mode="keyword")
    with TestClient(create_app(pg_settings)) as client:
        assert client.get("/search", params={"q": "voice cloning"}).status_code == 200
        r = client.get("/api/papers/search", params={"q": "voice & cloning | !"})
        assert r.status_code == 200
    engine.dispose()
