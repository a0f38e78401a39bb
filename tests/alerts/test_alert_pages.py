"""Saved-search pages, forms, feeds, the one-click unsubscribe link and the JSON API, through
the real app in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts import profile
from paperfeed.accounts.signin import SESSION_COOKIE, start_session
from paperfeed.alerts.mail import AlertLinks
from paperfeed.alerts.run import match_new_papers
from paperfeed.config import Settings
from paperfeed.models import Author, Member, Paper, utcnow
from paperfeed.storage import alerts as astore
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.collections.conftest import new_member

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
OLD = "2504.00001"


@pytest.fixture(scope="module")
def app_client(backend: Settings, db: Engine) -> Iterator[TestClient]:
    with write(db) as conn:
        upsert_papers(conn, [Paper(id=OLD, title="An old paper on graph kernels",
                                   abstract="Kernels.", authors=[Author("Ada")],
                                   categories=["cs.LG"], source="t")], now=datetime(2025, 4, 1))
    with TestClient(create_app(backend)) as c:
        yield c


def signed_in(app_client: TestClient, backend: Settings, db: Engine) -> tuple[TestClient, Member]:
    m = new_member(db, "al", now=utcnow() - timedelta(days=1))
    c = TestClient(app_client.app)
    c.cookies.set(SESSION_COOKIE, start_session(db, backend, m, now=utcnow()))
    return c, m


def post(c: TestClient, path: str, data: dict[str, str], page: str = "/alerts"):  # noqa: ANN201
    token = CSRF_RE.search(c.get(page).text)
    assert token, page
    return c.post(path, data={**data, "csrf_token": token.group(1)}, follow_redirects=False)


def arrive(db: Engine, backend: Settings, pid: str, title: str) -> None:
    """A new paper is stored and the matcher runs, as after an ingest."""
    with write(db) as conn:
        upsert_papers(conn, [Paper(id=pid, title=title, abstract="Abstract.",
                                   authors=[Author("Bo")], categories=["cs.CL"], source="t")],
                      now=utcnow())
    match_new_papers(db, backend)


def test_save_from_search_page_see_matches_change_and_delete(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = signed_in(app_client, backend, db)
    search = c.get("/search", params={"q": "zebrafish", "cat": "cs.CL"})
    assert 'action="/alerts"' in search.text and 'value="zebrafish cat:cs.CL"' in search.text
    r = post(c, "/alerts", {"query": "zebrafish cat:cs.CL", "delivery": "weekly"},
             page="/search?q=zebrafish")
    assert r.status_code == 303
    page_url = r.headers["location"].split("?")[0]
    assert "No new paper has matched yet" in c.get(page_url).text
    arrive(db, backend, "2601.10001", "Zebrafish embryos and language")
    arrive(db, backend, "2601.10002", "Horses and language")
    view = c.get(page_url).text
    assert "Zebrafish embryos and language" in view and "Horses" not in view
    listing = c.get("/alerts").text
    assert "zebrafish cat:cs.CL" in listing and "Weekly email" in listing
    post(c, f"{page_url}/edit", {"name": "Fish", "query": "horses", "delivery": "none"},
         page=page_url)
    arrive(db, backend, "2601.10003", "More horses")
    view = c.get(page_url).text
    assert "<h1 id=\"alert-title\">Fish</h1>" in view and "More horses" in view
    post(c, f"{page_url}/delete", {}, page=page_url)
    assert c.get(page_url).status_code == 404


def test_like_this_paper_from_the_paper_page(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, m = signed_in(app_client, backend, db)
    page = c.get(f"/papers/{OLD}").text
    assert f'name="like" value="{OLD}"' in page
    r = post(c, "/alerts", {"like": OLD, "delivery": "daily"}, page=f"/papers/{OLD}")
    assert r.status_code == 303
    with db.connect() as conn:
        (row,) = astore.list_for_user(conn, m.id)
    assert row.like_paper_id == OLD and row.name.startswith("Papers like: An old paper")


def test_private_feed_of_a_saved_search_parses_and_is_404_after_revoking(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = signed_in(app_client, backend, db)
    r = post(c, "/alerts", {"query": '"Kraken <script>"', "delivery": "none"})
    url = r.headers["location"].split("?")[0]
    arrive(db, backend, "2601.20001", "Kraken <script> tentacles")
    post(c, f"{url}/feed", {}, page=url)
    link = re.search(r'href="http://testserver(/feeds/private/[^"]+\.atom)"', c.get(url).text)
    assert link
    anon = TestClient(app_client.app)
    parsed = feedparser.parse(anon.get(link.group(1)).content)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["Kraken <script> tentacles"]
    token_id = re.search(r'action="/settings/feeds/(\d+)/revoke"', c.get("/settings").text)
    assert token_id
    post(c, f"/settings/feeds/{token_id.group(1)}/revoke", {}, page="/settings")
    assert anon.get(link.group(1)).status_code == 404


def test_one_click_unsubscribe_turns_that_frequency_off_only(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, m = signed_in(app_client, backend, db)
    post(c, "/alerts", {"query": "otters", "delivery": "daily"})
    post(c, "/alerts", {"query": "beavers", "delivery": "weekly"})
    url = AlertLinks(backend).unsubscribe_url(m.id, m.email or "", "daily")
    path = url.split("testserver", 1)[1]
    anon = TestClient(app_client.app)
    assert "Stop daily alert emails" in anon.get(path).text
    with db.connect() as conn:
        assert {s.delivery for s in astore.list_for_user(conn, m.id)} == {"daily", "weekly"}
    r = anon.post(path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no CSRF
    assert r.status_code == 200 and "alert emails are off" in r.text
    with db.connect() as conn:
        assert sorted(s.delivery for s in astore.list_for_user(conn, m.id)) == ["none", "weekly"]
    assert anon.post("/alerts/unsubscribe?token=forged").status_code == 400


def test_forms_refuse_bad_input_with_a_clear_4xx(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = signed_in(app_client, backend, db)
    for data, status in [
        ({"query": "the of and"}, 400),  # stopwords only: would match everything
        ({"query": ""}, 400),
        ({"query": "x" * 1001}, 400),
        ({"query": "graphs", "delivery": "hourly"}, 400),
        ({"like": "2999.99999"}, 404),
        ({"like": "javascript:alert(1)"}, 404),
    ]:
        r = post(c, "/alerts", data)
        assert r.status_code == status, (data, r.status_code)
    assert c.get("/alerts/99999999999999999999").status_code == 404
    assert c.get("/alerts/abc").status_code == 404
    r = c.post("/alerts", data={"query": "graphs"}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    assert TestClient(app_client.app).get("/alerts").status_code == 401


def test_api_creates_lists_changes_and_reads_matches(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    m = new_member(db, "api", now=utcnow() - timedelta(days=1))
    token = profile.create_api_token(db, m, name="t", now=utcnow())
    c = TestClient(app_client.app, headers={"Authorization": f"Bearer {token}"})
    r = c.post("/api/me/alerts", json={"query": "walrus", "delivery": "weekly"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    arrive(db, backend, "2601.30001", "Walrus tusks")
    assert c.get(f"/api/me/alerts/{sid}").json()["numMatches"] == 1
    matches = c.get(f"/api/me/alerts/{sid}/matches").json()
    assert [(x["id"], x["via"]) for x in matches] == [("2601.30001", "words")]
    assert c.patch(f"/api/me/alerts/{sid}", json={"delivery": "digest"}).json()["delivery"] == "digest"
    assert [a["id"] for a in c.get("/api/me/alerts").json()] == [sid]
    other = new_member(db, "api2")
    other_c = TestClient(app_client.app, headers={
        "Authorization": f"Bearer {profile.create_api_token(db, other, name='t', now=utcnow())}"})
    assert other_c.get(f"/api/me/alerts/{sid}").status_code == 404
    assert other_c.delete(f"/api/me/alerts/{sid}").status_code == 404
    assert c.post("/api/me/alerts", json={"query": "x", "delivery": "sometimes"}).status_code == 400
    assert c.delete(f"/api/me/alerts/{sid}").status_code == 204
    assert c.get(f"/api/me/alerts/{sid}").status_code == 404
