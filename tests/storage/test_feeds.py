"""Feed queries against a real SQLite file: membership, order, dedup, hidden/removed, counts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update

from paperfeed.storage import feeds
from paperfeed.storage.db import write
from paperfeed.storage.schema import comments, featured, papers, users
from tests.feed_factories import NOW, feature, paper

D = date(2025, 6, 16)


def _list(conn, start=D, end=D, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("half_life_hours", 48.0)
    return feeds.list_featured(conn, start=start, end=end, **kw)


def test_daily_feed_lists_only_that_days_papers_by_trending(engine):
    feature(engine, [paper("2506.00001", upvotes=3), paper("2506.00002", upvotes=20),
                     paper("2506.00003", upvotes=7)], D)
    feature(engine, [paper("2506.00009", upvotes=99)], date(2025, 6, 13))
    with engine.connect() as conn:
        items = _list(conn, sort="trending")
    assert [i.paper_id for i in items] == ["2506.00002", "2506.00003", "2506.00001"]
    assert items[0].upvotes == 20 and items[0].day == D
    assert items[0].submitter is not None and items[0].submitter.name == "alice"
    assert items[0].score is not None and items[0].score > items[1].score


def test_daily_feed_sorted_by_published_at_newest_first_unknown_last(engine):
    feature(engine, [
        paper("2506.00001", published=datetime(2025, 6, 10)),
        paper("2506.00002", published=datetime(2025, 6, 13)),
        paper("2506.00003", published=datetime(2025, 6, 11)),
    ], D)
    with write(engine) as conn:
        conn.execute(update(papers).where(papers.c.id == "2506.00001").values(published_at=None))
    with engine.connect() as conn:
        items = _list(conn, sort="publishedAt")
    assert [i.paper_id for i in items] == ["2506.00002", "2506.00003", "2506.00001"]


def test_trending_prefers_recent_votes_over_old_ones_in_a_month(engine):
    feature(engine, [paper("2506.00001", upvotes=40)], date(2025, 6, 2))
    feature(engine, [paper("2506.00002", upvotes=10)], date(2025, 6, 16))
    with engine.connect() as conn:
        trending = _list(conn, start=date(2025, 6, 1), end=date(2025, 6, 30), sort="trending")
        by_votes = _list(conn, start=date(2025, 6, 1), end=date(2025, 6, 30), half_life_hours=1e9)
    # 14 days at a 48 h half-life: 40 * 2**-7 < 10
    assert [i.paper_id for i in trending] == ["2506.00002", "2506.00001"]
    assert [i.paper_id for i in by_votes] == ["2506.00001", "2506.00002"]


def test_old_periods_keep_a_meaningful_trending_order(engine):
    feature(engine, [paper("2406.00001", upvotes=5), paper("2406.00002", upvotes=50)],
            date(2024, 6, 3))
    with engine.connect() as conn:
        items = _list(conn, start=date(2024, 6, 3), end=date(2024, 6, 3),
                      now=datetime(2035, 1, 1), half_life_hours=1.0)
    assert [i.paper_id for i in items] == ["2406.00002", "2406.00001"]
    assert items[0].score > 0


def test_week_lists_a_paper_featured_twice_once_under_its_latest_day(engine):
    feature(engine, [paper("2506.00001", upvotes=1)], date(2025, 6, 16))
    feature(engine, [paper("2506.00001", upvotes=1), paper("2506.00002")], date(2025, 6, 18))
    with engine.connect() as conn:
        items = _list(conn, start=date(2025, 6, 16), end=date(2025, 6, 22))
        n = feeds.count_featured(conn, start=date(2025, 6, 16), end=date(2025, 6, 22))
    assert sorted(i.paper_id for i in items) == ["2506.00001", "2506.00002"]
    assert {i.paper_id: i.day for i in items}["2506.00001"] == date(2025, 6, 18)
    assert n == 2


def test_hidden_papers_and_removed_featured_rows_are_left_out(engine):
    feature(engine, [paper("2506.00001"), paper("2506.00002"), paper("2506.00003")], D)
    with write(engine) as conn:
        conn.execute(update(papers).where(papers.c.id == "2506.00001").values(hidden=True))
        conn.execute(update(featured).where(featured.c.paper_id == "2506.00002")
                     .values(removed=True))
    with engine.connect() as conn:
        assert [i.paper_id for i in _list(conn)] == ["2506.00003"]
        assert feeds.count_featured(conn, start=D, end=D) == 1
        assert feeds.latest_featured_day(conn) == D


def test_pagination_offset_limit_and_past_the_end(engine):
    feature(engine, [paper(f"2506.{i:05d}", upvotes=i) for i in range(1, 8)], D)
    with engine.connect() as conn:
        first = _list(conn, offset=0, limit=3)
        second = _list(conn, offset=3, limit=3)
        past = _list(conn, offset=50, limit=3)
    assert [i.upvotes for i in first] == [7, 6, 5]
    assert [i.upvotes for i in second] == [4, 3, 2]
    assert past == []


def test_submitter_filter(engine):
    feature(engine, [paper("2506.00001")], D, submitter="alice")
    feature(engine, [paper("2506.00002")], D, submitter="bob")
    with engine.connect() as conn:
        assert [i.paper_id for i in _list(conn, submitter="bob")] == ["2506.00002"]
        assert _list(conn, submitter="nobody") == []
        assert feeds.count_featured(conn, start=D, end=D, submitter="alice") == 1


def test_upvotes_add_upstream_and_local_counts_comments_count_local_ones(engine):
    feature(engine, [paper("2506.00001", upvotes=4, comments=2)], D)
    with write(engine) as conn:
        conn.execute(update(papers).values(member_upvotes=3))
        uid = conn.execute(users.select()).first().id
        for hidden, deleted in ((False, False), (True, False), (False, True), (False, False)):
            conn.execute(comments.insert().values(
                paper_id="2506.00001", user_id=uid, body="x", created_at=NOW,
                hidden=hidden, deleted=deleted))
    with engine.connect() as conn:
        (item,) = _list(conn)
    assert item.upvotes == 7 and item.upstream_upvotes == 4 and item.member_upvotes == 3
    assert item.num_comments == 2  # the visible local ones
    assert item.hf_comments == 2  # imported from Hugging Face, shown apart


def test_adjacent_and_latest_days_skip_empty_days(engine):
    for d in (date(2025, 6, 12), date(2025, 6, 13), date(2025, 6, 16)):
        feature(engine, [paper(f"2506.{d.day:05d}")], d)
    with engine.connect() as conn:
        assert feeds.adjacent_days(conn, date(2025, 6, 13)) == (date(2025, 6, 12), date(2025, 6, 16))
        assert feeds.adjacent_days(conn, date(2025, 6, 14)) == (date(2025, 6, 13), date(2025, 6, 16))
        assert feeds.adjacent_days(conn, date(2025, 6, 12)) == (None, date(2025, 6, 13))
        assert feeds.adjacent_days(conn, date(2025, 6, 16)) == (date(2025, 6, 13), None)
        assert feeds.latest_featured_day(conn) == date(2025, 6, 16)
        assert feeds.latest_featured_day(conn, on_or_before=date(2025, 6, 15)) == date(2025, 6, 13)


def test_empty_database_has_no_days(engine):
    with engine.connect() as conn:
        assert feeds.latest_featured_day(conn) is None
        assert feeds.adjacent_days(conn, D) == (None, None)
        assert _list(conn) == []


def test_featured_days_of_a_paper(engine):
    feature(engine, [paper("2506.00001")], date(2025, 6, 13), submitter="bob")
    feature(engine, [paper("2506.00001")], D, submitter="alice")
    with engine.connect() as conn:
        days = feeds.featured_days_of(conn, "2506.00001")
    assert [(d, s.name if s else None) for d, s in days] == [
        (date(2025, 6, 13), "bob"), (D, "alice")]


def test_page_featured_returns_the_page_and_the_total(engine):
    feature(engine, [paper(f"2506.{i:05d}", upvotes=i) for i in range(1, 6)], D)
    with engine.connect() as conn:
        page = feeds.page_featured(conn, start=D, end=D, offset=2, limit=2, now=NOW,
                                   half_life_hours=48.0)
    assert page.total == 5
    assert [i.upvotes for i in page.items] == [3, 2]
