"""Author, organisation and member pages; "submitted by" on cards; the calendar; suggestions.
Real HF data (organisations, submitters) through the real app."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from pathlib import Path

import feedparser
import pytest

from paperfeed.accounts import signin
from paperfeed.models import Author, Paper
from paperfeed.sources.hf_daily import import_path
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.votes import add_vote
from tests.conftest import FIXTURES
from tests.feed_factories import feature, paper
from tests.members_support import add_member


@pytest.fixture
def hf_day(engine, tmp_path: Path):
    src = tmp_path / "hf"
    src.mkdir()
    shutil.copy(FIXTURES / "hf" / "2026-08-20.json", src / "2026-08-20.json")
    assert import_path(engine, src).rejected == 0
    return engine


def test_cards_show_submitter_organisation_and_linked_authors(client, hf_day):
    html = client.get("/papers/date/2026-08-20").text
    card = html[html.index('data-paper="2608.17253"'):]
    card = card[: card.index("</article>")]
    assert '<a class="org-chip" href="/organizations/UCSanDiego">' in card
    assert "University of California at San Diego" in card
    assert re.search(r'Submitted by <a href="/users/[^"]+">[^<]+</a>', card)
    assert '<a href="/authors/Yunhao%20Yang">Yunhao Yang</a>' in card
    assert re.search(r'<span class="avatar avatar-sm av-h\d+" aria-hidden="true">[A-Z?]{1,2}</span>',
                     card)
    # no picture from another host anywhere on the page
    assert not re.search(r'<img[^>]+src="(https?:)?//', html)
    assert "cdn-avatars.huggingface.co" not in html


def test_author_page_lists_papers_newest_first_with_a_feed(client, engine):
    with write(engine) as conn:
        upsert_papers(conn, [
            Paper(id="2401.00001", title="Old", abstract="a", source="t",
                  authors=[Author("Yann LeCun")], published_at=datetime(2024, 1, 2)),
            Paper(id="2501.00002", title="New", abstract="b", source="t",
                  authors=[Author("Someone Else"), Author("yann  lecun")],
                  published_at=datetime(2025, 1, 2)),
            Paper(id="2501.00003", title="Not theirs", abstract="c", source="t",
                  authors=[Author("Yann Le Cun")], published_at=datetime(2025, 1, 3)),
        ], now=datetime(2025, 1, 5))
    r = client.get("/authors/Yann%20LeCun")
    assert r.status_code == 200
    titles = re.findall(r'class="paper-title"[^>]*><a href="[^"]+">([^<]+)</a>', r.text)
    assert titles == ["New", "Old"]  # case and spacing do not split an author
    assert "2 papers in this catalog" in r.text
    assert 'href="http://testserver/authors/Yann%20LeCun.atom"' in r.text
    feed = feedparser.parse(client.get("/authors/Yann%20LeCun.atom").content)
    assert [e.title for e in feed.entries] == ["New", "Old"]
    dotted = client.get("/authors/J.%20R.%20R.%20Tolkien")
    assert dotted.status_code == 404 and "No papers by" in dotted.text
    # an author renamed upstream leaves the old name's page
    with write(engine) as conn:
        upsert_papers(conn, [Paper(id="2401.00001", title="Old", abstract="a", source="t",
                                   authors=[Author("Y. LeCun")])], now=datetime(2025, 2, 1))
    renamed = feedparser.parse(client.get("/authors/Yann%20LeCun.atom").content)
    assert [e.title for e in renamed.entries] == ["New"]


def test_organisation_pages_from_stored_hf_data(client, hf_day):
    r = client.get("/organizations/UCSanDiego")
    assert r.status_code == 200
    assert "<h1>University of California at San Diego</h1>" in r.text
    assert "Co-RL: Unsupervised Reasoning" in r.text
    feed = feedparser.parse(client.get("/organizations/UCSanDiego.rss").content)
    assert feed.entries[0].link == "http://testserver/papers/2608.17253"
    assert client.get("/organizations/ucsandiego").status_code == 200  # case-insensitive
    listing = client.get("/organizations").text
    assert 'href="/organizations/UCSanDiego"' in listing
    assert client.get("/organizations/nobody-here").status_code == 404


def test_member_profile_shows_submissions_and_upvotes_only_when_allowed(
        client, engine, settings):
    member = add_member(engine, "pat@example.org", username="pat")
    feature(engine, [paper("2506.00001", title="Pat's pick")], date(2025, 6, 16),
            submitter=None)
    with write(engine) as conn:
        from sqlalchemy import update

        from paperfeed.storage.schema import featured
        conn.execute(update(featured).values(submitter_id=member.id))
        add_vote(conn, user_id=member.id, paper_id="2506.00001", now=datetime(2025, 6, 16))
    page = client.get("/users/pat").text
    assert "Pat&#39;s pick" in page or "Pat's pick" in page
    assert "Upvoted papers" not in page and "pat@example.org" not in page
    client.cookies.set(signin.SESSION_COOKIE,
                       signin.start_session(engine, settings, member, now=datetime.now()))
    settings_page = client.get("/settings").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', settings_page).group(1)
    assert client.post("/settings/privacy", data={"public_upvotes": "1"}).status_code == 403
    r = client.post("/settings/privacy", data={"public_upvotes": "1", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    from paperfeed import library

    library.create_collection(engine, member, name="Shared reading", description="",
                              public=True, now=datetime(2025, 6, 17))
    library.create_collection(engine, member, name="Secret pile", description="",
                              public=False, now=datetime(2025, 6, 17))
    page = client.get("/users/pat").text
    assert "Upvoted papers" in page and "1 upvote" in page
    assert "Shared reading" in page and "Secret pile" not in page
    assert client.get("/users/nobody").status_code == 404


def test_calendar_marks_days_with_papers(client, engine):
    feature(engine, [paper("2506.00001")], date(2025, 6, 16))
    feature(engine, [paper("2506.00002")], date(2025, 6, 3))
    page = client.get("/calendar/2025-06").text
    days = re.findall(r'<a href="/papers/date/(2025-06-\d\d)" class="cal-day', page)
    assert days == ["2025-06-03", "2025-06-16"]
    assert 'href="/calendar/2025-05"' in page and 'href="/calendar/2025-07"' in page
    fragment = client.get("/calendar/2025-06?fragment=1").text
    assert fragment.lstrip().startswith("{#") is False and "<html" not in fragment
    day = client.get("/papers/date/2025-06-16").text
    assert 'aria-current="date">16</a>' in day
    assert client.get("/calendar/2025-13").status_code == 400


def test_suggestions_from_the_keyword_index(client, hf_day):
    r = client.get("/api/suggest", params={"q": "unsupervised reas"})
    data = r.json()
    assert data["papers"][0]["id"] == "2608.17253"
    assert data["papers"][0]["url"] == "/papers/2608.17253"
    people = client.get("/api/suggest", params={"q": "Yunhao"}).json()["authors"]
    assert people[0] == {"name": "Yunhao Yang", "papers": 1, "url": "/authors/Yunhao%20Yang"}
    for hostile in ['"', "-", "*", "title:", "AND OR NOT", "(", "a\x00b", "é" * 150, "x"]:
        assert client.get("/api/suggest", params={"q": hostile}).status_code == 200
    assert client.get("/api/suggest", params={"q": "x"}).json()["papers"] == []
