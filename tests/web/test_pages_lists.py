"""The list pages (home, day, week, month) through the real app: contents, order, navigation,
sorting, paging and bad input."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from paperfeed.models import utcnow
from tests.feed_factories import feature, paper

D = date(2025, 6, 16)


def titles(html: str) -> list[str]:
    return re.findall(r'class="paper-title"[^>]*><a href="[^"]+">([^<]+)</a>', html)


def test_home_shows_the_latest_day_with_heading_tagline_and_subscribe_box(client, engine):
    feature(engine, [paper("2506.00001", title="Older day paper")], date(2025, 6, 13))
    feature(engine, [paper("2506.00002", title="Latest day paper", upvotes=12,
                           authors=["A One", "B Two", "C Three"])], D)
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert "<h1>Daily Papers</h1>" in html
    assert "by AK and the research community" in html
    assert "Get trending papers in your email inbox!" in html
    assert re.search(r'<form method="post" action="/subscribe"[^>]*>\s*<input type="hidden" '
                     r'name="csrf_token"', html)
    assert 'name="frequency"' in html and ">Subscribe</button>" in html
    assert 'id="list-heading">Jun 16, 2025</h2>' in html
    assert titles(html) == ["Latest day paper"]
    assert "3 authors" in html
    assert '<span class="upvote-count">12</span>' in html
    assert 'href="/papers/2506.00002"' in html


def test_home_prefers_today_in_the_configured_timezone(client, engine):
    today = utcnow().date()
    feature(engine, [paper("2506.00001", title="Yesterday")], date(2025, 6, 13))
    feature(engine, [paper("2506.00002", title="Today")], today)
    assert titles(client.get("/").text) == ["Today"]


def test_home_on_an_empty_site_explains_how_to_load_papers(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "No papers yet" in r.text and "paperfeed ingest" in r.text
    assert "Daily Papers" in r.text and "/subscribe" in r.text


def test_daily_list_is_ordered_by_trending_then_by_published_at(client, engine):
    feature(engine, [
        paper("2506.00001", title="Few votes new", upvotes=2, published=datetime(2025, 6, 14)),
        paper("2506.00002", title="Many votes old", upvotes=30, published=datetime(2025, 6, 10)),
        paper("2506.00003", title="Some votes mid", upvotes=9, published=datetime(2025, 6, 12)),
    ], D)
    html = client.get("/papers/date/2025-06-16").text
    assert titles(html) == ["Many votes old", "Some votes mid", "Few votes new"]
    html = client.get("/papers/date/2025-06-16?sort=publishedAt").text
    assert titles(html) == ["Few votes new", "Some votes mid", "Many votes old"]
    assert '<a href="/papers/date/2025-06-16?sort=publishedAt" aria-current="true">Newest</a>' in html


def test_day_page_links_to_the_previous_and_next_days_that_have_papers(client, engine):
    feature(engine, [paper("2506.00001")], date(2025, 6, 12))
    feature(engine, [paper("2506.00002")], date(2025, 6, 13))
    feature(engine, [paper("2506.00003")], D)
    html = client.get("/papers/date/2025-06-13").text
    assert 'href="/papers/date/2025-06-12" rel="prev"' in html
    assert 'href="/papers/date/2025-06-16" rel="next"' in html
    first = client.get("/papers/date/2025-06-12").text
    assert 'rel="prev"' not in first and 'href="/papers/date/2025-06-13" rel="next"' in first
    # the sort choice travels with the navigation
    sorted_nav = client.get("/papers/date/2025-06-13?sort=publishedAt").text
    assert 'href="/papers/date/2025-06-16?sort=publishedAt" rel="next"' in sorted_nav


def test_a_day_without_papers_is_an_empty_list_with_navigation(client, engine):
    feature(engine, [paper("2506.00001")], date(2025, 6, 13))
    feature(engine, [paper("2506.00002")], D)
    r = client.get("/papers/date/2025-06-14")
    assert r.status_code == 200
    assert "No papers were featured on this day" in r.text
    assert 'href="/papers/date/2025-06-13"' in r.text and 'href="/papers/date/2025-06-16"' in r.text


def test_week_and_month_pages_list_their_papers_once(client, engine):
    feature(engine, [paper("2506.00001", title="Monday paper", upvotes=5)], D)
    feature(engine, [paper("2506.00001", title="Monday paper", upvotes=5),
                     paper("2506.00002", title="Sunday paper", upvotes=1)], date(2025, 6, 22))
    feature(engine, [paper("2506.00003", title="Next week paper")], date(2025, 6, 23))
    feature(engine, [paper("2507.00001", title="July paper")], date(2025, 7, 1))
    week = client.get("/papers/week/2025-W25")
    assert week.status_code == 200
    assert titles(week.text) == ["Monday paper", "Sunday paper"]
    assert "Week 25 · Jun 16 – Jun 22, 2025" in week.text
    assert "Week 24, 2025</a>" in week.text and "Week 26, 2025" in week.text
    assert 'href="/papers/week/2025-W24" rel="prev"' in week.text
    assert 'href="/papers/week/2025-W26" rel="next"' in week.text
    month = client.get("/papers/month/2025-06?sort=publishedAt")
    assert sorted(titles(month.text)) == ["Monday paper", "Next week paper", "Sunday paper"]
    assert "June 2025" in month.text
    assert 'href="/papers/month/2025-07?sort=publishedAt" rel="next"' in month.text


def test_long_lists_are_paged(client, engine, settings):
    n = settings.page_size + 3
    feature(engine, [paper(f"2506.{i:05d}", title=f"P{i:03d}", upvotes=i) for i in range(n)], D)
    first = client.get("/papers/date/2025-06-16")
    assert len(titles(first.text)) == settings.page_size
    assert "Page 1 of 2" in first.text and 'href="/papers/date/2025-06-16?p=1" rel="next"' in first.text
    second = client.get("/papers/date/2025-06-16?p=1")
    assert titles(second.text) == ["P002", "P001", "P000"]
    assert '<ol class="paper-list" aria-labelledby="list-heading" start="51">' in second.text
    past = client.get("/papers/date/2025-06-16?p=7")
    assert past.status_code == 200 and "past the end" in past.text


@pytest.mark.parametrize(
    "url",
    [
        "/papers/date/2025-02-30",
        "/papers/date/2025-6-1",
        "/papers/date/yesterday",
        "/papers/date/99999-01-01",
        "/papers/week/2025-W54",
        "/papers/week/2025-25",
        "/papers/month/2025-13",
        "/papers/month/june",
        "/?sort=votes",
        "/?p=-1",
        "/?p=abc",
        "/papers/date/2025-06-16?p=99999999999999999999999",
        "/papers/week/2025-W25?sort=%3Cscript%3E",
    ],
)
def test_invalid_periods_and_parameters_are_4xx_never_5xx(client, engine, url):
    feature(engine, [paper("2506.00001")], D)
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)
    assert "<script>" not in r.text
    assert "Daily Papers" in r.text  # the HTML error page, not a bare body


def test_publication_dates_show_the_year_only_outside_the_current_year(client, engine):
    year = utcnow().year
    feature(engine, [
        paper("2506.00001", title="This year", published=datetime(year, 2, 20, 9)),
        paper("2506.00002", title="Older", published=datetime(2023, 7, 30, 9)),
    ], D)
    html = client.get("/papers/date/2025-06-16").text
    assert f'<time datetime="{year}-02-20">Feb 20</time>' in html
    assert '<time datetime="2023-07-30">Jul 30, 2023</time>' in html


def test_one_author_is_singular(client, engine):
    feature(engine, [paper("2506.00001", authors=["Solo Writer"])], D)
    html = client.get("/papers/date/2025-06-16").text
    assert "1 author<" in html and "1 authors" not in html
