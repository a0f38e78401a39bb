"""Hostile text in titles, abstracts, authors and submitters is escaped on every page."""

from __future__ import annotations

from datetime import date

from tests.feed_factories import feature, paper

EVIL = "<script>alert(1)</script>"
D = date(2025, 6, 16)


def test_hostile_text_is_escaped_everywhere(client, engine):
    feature(
        engine,
        [paper("2506.00001", title=f"Title {EVIL}", abstract=f"Abstract {EVIL}",
               authors=[f"Author {EVIL}", "Plain"], comment=f"Comment {EVIL}",
               journal_ref=EVIL, doi=f'10.1/"{EVIL}')],
        D,
        submitter=f"user{EVIL}",
        fullname=f"Full {EVIL}",
    )
    for url in ("/", "/papers/date/2025-06-16", "/papers/week/2025-W25",
                "/papers/month/2025-06", "/papers/2506.00001"):
        html = client.get(url).text
        assert "<script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    page = client.get("/papers/2506.00001").text
    assert "Author &lt;script&gt;" in page and "Full &lt;script&gt;" in page


def test_hostile_query_parameters_are_not_reflected_raw(client, engine):
    feature(engine, [paper("2506.00001")], D)
    for url in (f"/papers/date/{EVIL}", f"/papers/week/x{EVIL}", f"/?sort={EVIL}",
                f"/papers/{EVIL}"):
        r = client.get(url)
        assert 400 <= r.status_code < 500
        assert "<script>" not in r.text
