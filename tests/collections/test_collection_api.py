"""The collections JSON API as a client uses it (Bearer token): create, save with notes, order,
read marks, privacy, public view, errors; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts import profile
from paperfeed.config import Settings
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.collections.conftest import new_member
from tests.feed_factories import paper

IDS = ["2507.20001", "2507.20002", "2507.20003"]


@pytest.fixture(scope="module")
def api(backend: Settings, db: Engine) -> Iterator[TestClient]:
    with write(db) as conn:
        upsert_papers(conn, [paper(pid, title=f"API paper {pid}") for pid in IDS],
                      now=datetime(2025, 7, 1))
    with TestClient(create_app(backend)) as c:
        yield c


def client_for(api: TestClient, db: Engine) -> TestClient:
    m = new_member(db, "api")
    token = profile.create_api_token(db, m, name="t", now=datetime(2025, 7, 1))
    return TestClient(api.app, headers={"Authorization": f"Bearer {token}"})


def test_api_round_trip_create_save_order_read_and_share(api: TestClient, db: Engine) -> None:
    c = client_for(api, db)
    r = c.post("/api/me/collections", json={"name": "Agents", "description": "LLM agents"})
    assert r.status_code == 201, r.text
    made = r.json()
    cid = made["id"]
    assert made["public"] is False and made["numPapers"] == 0 and made["papers"] == []
    assert made["url"].endswith(f"/collections/{cid}")
    for pid in IDS:
        r = c.put(f"/api/me/collections/{cid}/papers/{pid}", json={"note": f"note {pid}"})
        assert r.status_code == 200 and r.json() == {"collection": cid, "paper": pid, "added": True}
    again = c.put(f"/api/me/collections/{cid}/papers/arXiv:{IDS[0]}v3")
    assert again.json()["added"] is False
    r = c.put(f"/api/me/collections/{cid}/order", json={"papers": [IDS[2], IDS[0]]})
    assert r.json()["papers"] == [IDS[2], IDS[1], IDS[0]]
    assert c.put(f"/api/me/read/{IDS[1]}").json() == {"paper": IDS[1], "read": True, "changed": True}
    listed = c.get("/api/me/collections").json()
    assert [p["id"] for p in listed[0]["papers"]] == [IDS[2], IDS[0]]
    assert listed[0]["papers"][1]["note"] == f"note {IDS[0]}"
    full = c.get(f"/api/me/collections/{cid}", params={"include_read": "true"}).json()
    assert [(p["id"], p["read"]) for p in full["papers"]] == [
        (IDS[2], False), (IDS[1], True), (IDS[0], False)
    ]
    # Private: the public endpoint answers 404 until the collection is made public.
    assert api.get(f"/api/collections/{cid}").status_code == 404
    assert c.patch(f"/api/me/collections/{cid}", json={"public": True}).json()["public"] is True
    public = api.get(f"/api/collections/{cid}").json()
    assert [p["id"] for p in public["papers"]] == [IDS[2], IDS[1], IDS[0]]
    assert all(p["read"] is False for p in public["papers"])  # read marks are private
    assert c.delete(f"/api/me/collections/{cid}/papers/{IDS[1]}").status_code == 204
    assert c.delete(f"/api/me/collections/{cid}/papers/{IDS[1]}").status_code == 204  # idempotent
    assert c.delete(f"/api/me/collections/{cid}").status_code == 204
    assert c.get(f"/api/me/collections/{cid}").status_code == 404


def test_api_errors_are_one_line_json_with_4xx(api: TestClient, db: Engine) -> None:
    c = client_for(api, db)
    other = client_for(api, db)
    cid = c.post("/api/me/collections", json={"name": "Mine"}).json()["id"]
    cases = [
        (api.get("/api/me/collections"), 401),
        (c.post("/api/me/collections", json={"name": "mine"}), 409),
        (c.post("/api/me/collections", json={"name": ""}), 400),
        (c.post("/api/me/collections", json={"name": "x" * 500}), 400),
        (c.put(f"/api/me/collections/{cid}/papers/2999.99999"), 404),
        (c.put(f"/api/me/collections/{cid}/papers/not-an-id"), 404),
        (c.put(f"/api/me/collections/{cid}/order", json={"papers": []}), 400),
        (c.put(f"/api/me/collections/{cid}/order", json={"papers": ["2507.20001"]}), 400),
        (other.get(f"/api/me/collections/{cid}"), 404),
        (other.put(f"/api/me/collections/{cid}/papers/{IDS[0]}"), 404),
        (other.delete(f"/api/me/collections/{cid}"), 404),
        (c.get("/api/me/collections/18446744073709551616"), 404),
        (c.get("/api/collections/-1"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert set(response.json()) == {"error", "request_id"}  # ops: errors name their request
    assert c.get(f"/api/me/collections/{cid}").json()["papers"] == []


def test_api_lists_without_papers_when_asked(api: TestClient, db: Engine) -> None:
    c = client_for(api, db)
    cid = c.post("/api/me/collections", json={"name": "Light", "public": True}).json()["id"]
    c.put(f"/api/me/collections/{cid}/papers/{IDS[0]}")
    listed = c.get("/api/me/collections", params={"include_papers": "false"}).json()
    assert listed == [{**listed[0], "papers": None}] and listed[0]["numPapers"] == 1
