"""Following and reading on a real PostgreSQL (pgserver): feeds, private feed tokens, people
and organisation pages, citations answer as on SQLite."""

from __future__ import annotations

import re
from datetime import date, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.accounts import signin
from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.votes import add_vote
from paperfeed.web.app import create_app
from tests.feed_factories import feature, paper
from tests.members_support import add_member

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_settings: Settings):
    engine = connect(pg_settings)
    migrate(engine)
    feature(engine, [paper("2506.00001", title="Scaling $\\mathcal{O}(n)$ attention", upvotes=4,
                           authors=["Ada Lovelace", "Alan Turing"]),
                     paper("2506.00002", title="Second", authors=["Alan Turing"])],
            date(2025, 6, 16))
    with TestClient(create_app(pg_settings)) as client:
        yield client, engine
    engine.dispose()


def test_feeds_and_private_feeds_on_postgresql(pg, pg_settings) -> None:
    client, engine = pg
    parsed = feedparser.parse(client.get("/papers/date/2025-06-16.atom").content)
    assert not parsed.bozo
    assert parsed.entries[0].title == "Scaling 𝒪(n) attention"
    etag = client.get("/papers.rss").headers["etag"]
    assert client.get("/papers.rss", headers={"If-None-Match": etag}).status_code == 304

    member = add_member(engine, "pg@example.org")
    with write(engine) as conn:
        add_vote(conn, user_id=member.id, paper_id="2506.00002", now=datetime(2025, 6, 17))
    client.cookies.set(signin.SESSION_COOKIE,
                       signin.start_session(engine, pg_settings, member, now=datetime.now()))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").text)[1]
    client.post("/settings/feeds", data={"kind": "upvotes", "csrf_token": token})
    # twice: still one feed (unique per member and kind)
    client.post("/settings/feeds", data={"kind": "upvotes", "csrf_token": token})
    page = client.get("/settings").text
    urls = re.findall(r'href="(http://testserver/feeds/private/[^"]+\.atom)"', page)
    assert len(urls) == 1
    client.cookies.clear()
    private = feedparser.parse(client.get(urls[0]).content)
    assert [e.link.rsplit("/", 1)[1] for e in private.entries] == ["2506.00002"]


def test_people_suggestions_citations_and_calendar_on_postgresql(pg) -> None:
    client, engine = pg
    from paperfeed.sources.hf_daily import import_path
    from tests.conftest import FIXTURES

    assert import_path(engine, FIXTURES / "hf" / "2026-08-20.json").rejected == 0
    author = client.get("/authors/alan%20turing")
    assert author.status_code == 200 and author.text.count('class="paper-card"') == 2
    assert client.get("/organizations/UCSanDiego").status_code == 200
    assert "UCSanDiego" in client.get("/organizations").text
    data = client.get("/api/suggest", params={"q": "unsupervised reas"}).json()
    assert data["papers"][0]["id"] == "2608.17253"
    people = client.get("/api/suggest", params={"q": "Turi"}).json()["authors"]
    assert people[0]["name"] == "Alan Turing" and people[0]["papers"] == 2
    for hostile in ["'", "a & b", "x:*", "!", "(", "\\"]:
        assert client.get("/api/suggest", params={"q": hostile}).status_code == 200
    assert "@misc{lovelace2025scaling," in client.get("/papers/2506.00001.bib").text
    cal = client.get("/calendar/2025-06").text
    assert re.findall(r'href="/papers/date/(2025-06-\d\d)"', cal) == ["2025-06-16"]
    cover = client.get("/thumbs/2506.00001")
    assert cover.headers["content-type"].startswith("image/svg+xml")


def test_collection_citations_on_postgresql(pg) -> None:
    client, engine = pg
    from paperfeed import library

    owner = add_member(engine, "lib@example.org")
    cid = library.create_collection(engine, owner, name="Group", description="", public=True,
                                    now=datetime(2025, 6, 17))
    for pid in ("2506.00002", "2506.00001"):
        library.save_paper(engine, owner, pid, collection_id=cid, now=datetime(2025, 6, 17))
    text = client.get(f"/collections/{cid}.bib").text
    assert text.index("eprint={2506.00002}") < text.index("eprint={2506.00001}")
    assert client.get(f"/collections/{cid}.ris").text.count("ER  - ") == 2
