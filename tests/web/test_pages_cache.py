"""The anonymous page cache: shared HTML, per-visitor CSRF token, bypass for other cookies."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from paperfeed.web.app import create_app
from paperfeed.web.csrf import COOKIE, FIELD, _sign
from tests.feed_factories import feature, paper

D = date(2025, 6, 16)


def token(html: str) -> str:
    m = re.search(rf'name="{FIELD}" value="([0-9a-f]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def test_cached_list_keeps_each_visitors_csrf_token_valid(client, engine, settings):
    feature(engine, [paper("2506.00001", title="First title")], D)
    first = client.get("/papers/date/2025-06-16")
    feature(engine, [paper("2506.00002", title="Added later")], D)
    with TestClient(client.app) as other:
        second = other.get("/papers/date/2025-06-16")
    # Within the TTL the second visitor sees the cached list ...
    assert "Added later" not in second.text and "First title" in second.text
    # ... with a token made for its own cookie, not the first visitor's.
    assert token(first.text) != token(second.text)
    assert token(second.text) == _sign(settings.secret(), second.cookies[COOKIE], "")


def test_requests_with_other_cookies_bypass_the_cache(client, engine):
    feature(engine, [paper("2506.00001", title="First title")], D)
    client.get("/papers/date/2025-06-16")
    feature(engine, [paper("2506.00002", title="Added later")], D)
    client.cookies.set("pf_session", "someone")
    assert "Added later" in client.get("/papers/date/2025-06-16").text


def test_cache_can_be_disabled(settings, engine):
    settings.page_cache_seconds = 0
    with TestClient(create_app(settings)) as c:
        feature(engine, [paper("2506.00001", title="First title")], D)
        c.get("/")
        feature(engine, [paper("2506.00002", title="Added later", upvotes=5)], D)
        assert "Added later" in c.get("/").text


def test_paper_pages_are_cached_for_anonymous_visitors_only(client, engine):
    from sqlalchemy import update

    from paperfeed.storage.db import write
    from paperfeed.storage.schema import papers

    feature(engine, [paper("2506.00001", upvotes=3)], D)
    assert '<span class="upvote-count">3</span>' in client.get("/papers/2506.00001").text
    with write(engine) as conn:
        conn.execute(update(papers).values(upstream_upvotes=9))
    assert '<span class="upvote-count">3</span>' in client.get("/papers/2506.00001").text
    client.cookies.set("pf_session", "someone")
    assert '<span class="upvote-count">9</span>' in client.get("/papers/2506.00001").text
