"""Feeds (RSS 2.0 and Atom) through the real app, parsed back with feedparser as readers do:
ids, dates, links, readable math, hostile titles, conditional GET, discovery, private URLs."""

from __future__ import annotations

import html
import re
from datetime import date, datetime

import feedparser
import pytest

from paperfeed.accounts import signin
from paperfeed.storage.db import write
from paperfeed.storage.votes import add_vote
from tests.feed_factories import feature, paper
from tests.members_support import add_member

D = date(2025, 6, 16)
HOSTILE = 'Evil <script>alert("x")</script> & "quotes" \x00\x0b]]> </title>'


def text_of(summary: str, fmt: str) -> str:
    """What a reader shows: Atom summaries are text; RSS descriptions are HTML (tags dropped,
    entities decoded)."""
    return summary if fmt == "atom" else html.unescape(re.sub(r"<[^>]+>", "", summary))


@pytest.fixture
def day(engine):
    feature(engine, [
        paper("2506.00001", title="Scaling $\\mathcal{O}(n\\log n)$ attention to 360$^\\circ$ views",
              abstract="We save \\$1M with \\emph{sparse} $\\alpha$-blending.", upvotes=9,
              authors=["Ada Lovelace", "Alan Turing"]),
        paper("2506.00002", title="Plain title", upvotes=3),
    ], D)
    feature(engine, [paper("2506.00003", title="Older")], date(2025, 6, 13))
    return engine


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_day_feed_parses_with_stable_ids_dates_links_and_readable_math(client, day, fmt):
    r = client.get(f"/papers/date/2025-06-16.{fmt}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(f"application/{fmt}+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    assert parsed.feed.link == "http://testserver/papers/date/2025-06-16"
    assert [e.link for e in parsed.entries] == [
        "http://testserver/papers/2506.00001", "http://testserver/papers/2506.00002"]
    first = parsed.entries[0]
    assert first.id == "http://testserver/papers/2506.00001"
    assert first.title == "Scaling 𝒪(n log n) attention to 360° views"
    assert "$" not in first.title and "\\" not in first.title
    assert "We save $1M with sparse α-blending." in text_of(first.summary, fmt)
    assert "Ada Lovelace" in text_of(first.summary, fmt)
    # featured at 04:00 UTC that day (the factory's time): when it joined the list
    when = first.updated_parsed if fmt == "atom" else first.published_parsed  # <pubDate>
    assert when[:5] == (2025, 6, 16, 4, 0)
    if fmt == "atom":
        assert first.published_parsed[:3] == (2025, 6, 12)
        assert [a["name"] for a in first.authors] == ["Ada Lovelace", "Alan Turing"]
    assert [t.term for t in first.tags] == ["cs.LG"]
    # the same list renders to the same bytes: ids and ETag are stable
    again = client.get(f"/papers/date/2025-06-16.{fmt}")
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]


@pytest.mark.parametrize("path", ["/papers.atom", "/papers/trending.rss",
                                  "/papers/week/2025-W25.atom", "/papers/month/2025-06.rss"])
def test_every_list_has_a_feed(client, day, path):
    parsed = feedparser.parse(client.get(path).content)
    assert not parsed.bozo
    ids = [e.id for e in parsed.entries]
    assert "http://testserver/papers/2506.00001" in ids
    if "month" in path:
        assert "http://testserver/papers/2506.00003" in ids


def test_daily_feed_follows_the_latest_day(client, day):
    parsed = feedparser.parse(client.get("/papers.rss").content)
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries] == ["2506.00001", "2506.00002"]
    assert parsed.feed.link == "http://testserver/"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_hostile_titles_are_escaped_and_control_characters_dropped(client, engine, fmt):
    feature(engine, [paper("2506.00009", title=HOSTILE, abstract="<b>bold</b> & </summary>",
                           authors=["<img src=x onerror=alert(1)>"])], D)
    r = client.get(f"/papers/date/2025-06-16.{fmt}")
    assert r.status_code == 200
    assert b"<script>" not in r.content and b"<img" not in r.content
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    entry = parsed.entries[0]
    assert entry.title == 'Evil <script>alert("x")</script> & "quotes" ]]> </title>'
    assert "<b>bold</b> & </summary>" in text_of(entry.summary, fmt)
    assert "<img src=x onerror=alert(1)>" in text_of(entry.summary, fmt)


def test_conditional_get_answers_304_until_the_list_changes(client, day, engine):
    r = client.get("/papers/date/2025-06-16.atom")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert modified == "Mon, 16 Jun 2025 04:01:00 GMT"  # the newest entry's featured time
    assert client.get("/papers/date/2025-06-16.atom",
                      headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/papers/date/2025-06-16.atom",
                      headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/papers/date/2025-06-16.atom",
                      headers={"If-Modified-Since": "Sun, 15 Jun 2025 00:00:00 GMT"}
                      ).status_code == 200
    assert client.get("/papers/date/2025-06-16.atom",
                      headers={"If-None-Match": '"other"'}).status_code == 200
    # garbage validators are ignored, not errors
    assert client.get("/papers/date/2025-06-16.atom",
                      headers={"If-Modified-Since": "yesterday-ish"}).status_code == 200
    feature(engine, [paper("2506.00004", title="A new one")], D,
            at=datetime(2025, 6, 16, 9, 30))
    changed = client.get("/papers/date/2025-06-16.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_list_and_search_pages_let_readers_discover_their_feeds(client, day):
    html = client.get("/papers/date/2025-06-16").text
    links = re.findall(r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)">', html)
    assert ("application/atom+xml", "http://testserver/papers/date/2025-06-16.atom") in links
    assert ("application/rss+xml", "http://testserver/papers/date/2025-06-16.rss") in links
    home = client.get("/").text
    assert 'href="http://testserver/papers.atom"' in home
    assert 'href="http://testserver/papers/trending.rss"' in home
    assert '<a href="/papers.rss"' in home  # a visible link too
    search = client.get("/search", params={"q": "attention & <x>"}).text
    assert 'href="http://testserver/search.atom?q=attention+%26+%3Cx%3E"' in search


def test_search_page_cards_keep_their_highlights(client, day):
    html = client.get("/search", params={"q": "plain"}).text
    assert "<mark>plain</mark>" in html.lower() and "&lt;mark&gt;" not in html
    # a title with math keeps both its highlights and its math (texmath.marked_html)
    math = client.get("/search", params={"q": "attention"}).text
    assert '<span class="tex" data-tex="\\mathcal{O}(n\\log n)">' in math
    assert "<mark>attention</mark>" in math.lower()


def test_search_feed_lists_matches(client, day):
    parsed = feedparser.parse(client.get("/search.atom", params={"q": "attention"}).content)
    assert not parsed.bozo
    assert parsed.entries[0].link == "http://testserver/papers/2506.00001"
    assert parsed.feed.title.startswith("Search: attention")
    empty = feedparser.parse(client.get("/search.rss").content)
    assert not empty.bozo and empty.entries == []


def test_search_feed_cuts_an_overlong_query_as_the_page_does(client, day):
    """A 5,000-character query (a pasted abstract) is cut to the engine's 4,000 on the search
    page; its feed answered an HTML 400 page a feed reader cannot show."""
    long_q = "attention " * 500
    page = client.get("/search", params={"q": long_q})
    assert page.status_code == 200
    r = client.get("/search.atom", params={"q": long_q})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo and parsed.entries[0].link == "http://testserver/papers/2506.00001"


@pytest.mark.parametrize("path", ["/search.atom?cat=" + "x" * 300, "/search.rss?from=" + "9" * 50,
                                  "/papers/date/2025-13-01.atom", "/papers/week/2025-W99.rss",
                                  "/feeds/private/nope.atom", "/papers/2401.99999.bib"])
def test_feed_and_citation_errors_are_one_plain_line_not_a_page(client, day, path):
    """A feed reader or a reference manager shows the body of an error as text: one line,
    not the site's HTML page."""
    r = client.get(path)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("text/plain")
    assert "<" not in r.text and r.text.count("\n") <= 1 and r.text.strip()


def test_unknown_feed_format_is_404(client, day):
    assert client.get("/papers/date/2025-06-16.json").status_code == 404
    assert client.get("/papers/date/2025-13-01.atom").status_code == 400


def _sign_in(client, engine, settings, email="reader@example.org"):
    member = add_member(engine, email)
    cookie = signin.start_session(engine, settings, member, now=datetime.now())
    client.cookies.set(signin.SESSION_COOKIE, cookie)
    return member


def test_private_feed_by_secret_url_then_revoked(client, engine, settings, day):
    member = _sign_in(client, engine, settings)
    with write(engine) as conn:
        add_vote(conn, user_id=member.id, paper_id="2506.00002", now=datetime(2025, 6, 17, 8))
        add_vote(conn, user_id=member.id, paper_id="2506.00003", now=datetime(2025, 6, 17, 9))
    page = client.get("/settings").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/settings/feeds", data={"kind": "upvotes", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/settings").text
    url = re.search(r'href="(http://testserver/feeds/private/[^"]+\.atom)"', page).group(1)
    # a feed reader has no cookies
    client.cookies.clear()
    reader = client.get(url)
    assert reader.status_code == 200
    assert reader.headers["cache-control"].startswith("private")
    parsed = feedparser.parse(reader.content)
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries] == ["2506.00003", "2506.00002"]
    assert any(link.href == url for link in parsed.feed.links if link.rel == "self")
    # a forged token and another member's id with this MAC are both plain 404s
    forged = re.sub(r"-[0-9a-f]+\.atom$", "-" + "0" * 32 + ".atom", url)
    assert client.get(forged).status_code == 404
    # revoke
    _sign_in(client, engine, settings, email="reader@example.org") if False else None
    cookie = signin.start_session(engine, settings, member, now=datetime.now())
    client.cookies.set(signin.SESSION_COOKIE, cookie)
    page = client.get("/settings").text
    feed_id = re.search(r'action="/settings/feeds/(\d+)/revoke"', page).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/settings/feeds/{feed_id}/revoke", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert client.get(url).status_code == 404
    assert client.get(url.replace(".atom", ".rss")).status_code == 404


def test_revoke_needs_csrf_and_only_touches_own_feeds(client, engine, settings, day):
    from paperfeed.storage import feed_tokens

    other = add_member(engine, "other@example.org")
    with write(engine) as conn:
        row = feed_tokens.ensure(conn, user_id=other.id, kind="upvotes", now=datetime.now())
    _sign_in(client, engine, settings)
    assert client.post(f"/settings/feeds/{row['id']}/revoke").status_code == 403
    page = client.get("/settings").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(f"/settings/feeds/{row['id']}/revoke", data={"csrf_token": token})
    with engine.connect() as conn:
        assert feed_tokens.get(conn, row["id"]) is not None


def test_feeds_answer_head_requests_like_get(client, day):
    get = client.get("/papers/date/2025-06-16.atom")
    head = client.head("/papers/date/2025-06-16.atom")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert client.head("/papers/2506.00001.bib").status_code == 200
    assert client.head("/thumbs/2506.00001").status_code == 200
