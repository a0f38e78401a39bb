"""The pure feed functions: trending score properties, period parsing, date formatting."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed.errors import BadRequest, ConfigError
from paperfeed.feed import (
    check_sort,
    count_label,
    format_day,
    local_today,
    parse_day,
    parse_month,
    parse_period,
    parse_week,
    trending_score,
)

times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))
votes = st.integers(min_value=-10, max_value=10**18)
half_lives = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


@given(votes, votes, times, times, half_lives)
def test_trending_score_is_monotone_in_votes(a, b, featured, now, h):
    lo, hi = sorted((a, b))
    assert trending_score(lo, featured, now, h) <= trending_score(hi, featured, now, h)


@given(st.integers(0, 10**9), times, st.timedeltas(timedelta(0), timedelta(days=3650)), half_lives)
def test_trending_score_decays_with_age(v, featured, extra, h):
    now = featured + timedelta(hours=1)
    assert trending_score(v, featured, now + extra, h) <= trending_score(v, featured, now, h)


@given(votes, times, times, half_lives)
def test_trending_score_is_finite_and_non_negative(v, featured, now, h):
    s = trending_score(v, featured, now, h)
    assert math.isfinite(s) and s >= 0


def test_trending_score_halves_after_one_half_life():
    t = datetime(2025, 6, 16, 4)
    assert trending_score(40, t, t, 48) == 40
    assert trending_score(40, t, t + timedelta(hours=48), 48) == pytest.approx(20)
    assert trending_score(40, t, t + timedelta(hours=96), 48) == pytest.approx(10)


def test_trending_score_counts_future_featured_time_as_age_zero():
    t = datetime(2025, 6, 16, 4)
    assert trending_score(7, t + timedelta(days=1), t, 48) == 7


@given(st.integers(1, 1000), st.integers(1, 1000), times, st.integers(0, 100), st.integers(0, 5000))
def test_trending_order_does_not_change_as_time_passes(v1, v2, t1, gap_h, later_h):
    t2 = t1 + timedelta(hours=gap_h)
    now = t2
    later = now + timedelta(hours=later_h)
    before = trending_score(v1, t1, now, 48) < trending_score(v2, t2, now, 48)
    after = trending_score(v1, t1, later, 48) < trending_score(v2, t2, later, 48)
    # Exponential decay scales both scores by one factor (ties within float rounding aside).
    if abs(math.log2(v2) + gap_h / 48 - math.log2(v1)) > 1e-9:
        assert before == after


@pytest.mark.parametrize("h", [0, -1, float("nan"), float("inf")])
def test_trending_score_rejects_bad_half_life(h):
    with pytest.raises(ConfigError):
        trending_score(1, datetime(2025, 1, 1), datetime(2025, 1, 2), h)


def test_parse_day_accepts_iso_dates():
    assert parse_day("2025-06-16") == date(2025, 6, 16)
    assert parse_day("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize(
    "text", ["", "2025-6-16", "2025-02-30", "2025-13-01", "16-06-2025", "2025-06-16x", "abcd-ef-gh",
             "2025-06-16T00:00", "0000-01-01", " 2025-06-16"]
)
def test_parse_day_rejects_invalid_dates_with_bad_request(text):
    with pytest.raises(BadRequest, match="YYYY-MM-DD"):
        parse_day(text)


def test_parse_week_gives_monday_to_sunday():
    p = parse_week("2025-W25")
    assert (p.start, p.end) == (date(2025, 6, 16), date(2025, 6, 22))
    assert p.label == "2025-W25" and p.path == "/papers/week/2025-W25"
    # ISO week 1 of 2025 starts in 2024; 2020 has a week 53.
    assert parse_week("2025-W01").start == date(2024, 12, 30)
    assert parse_week("2020-W53").end == date(2021, 1, 3)


@pytest.mark.parametrize("text", ["2025-W00", "2025-W54", "2025-W53", "2025W25", "2025-w25", "2025-W5"])
def test_parse_week_rejects_invalid_weeks(text):
    with pytest.raises(BadRequest, match="YYYY-Www"):
        parse_week(text)


def test_parse_month_gives_first_to_last_day():
    assert (parse_month("2024-02").start, parse_month("2024-02").end) == (
        date(2024, 2, 1), date(2024, 2, 29))
    assert parse_month("2025-12").end == date(2025, 12, 31)
    assert parse_month("9999-12").end == date(9999, 12, 31)


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "2025-1", "0000-01", "2025-06-01"])
def test_parse_month_rejects_invalid_months(text):
    with pytest.raises(BadRequest, match="YYYY-MM"):
        parse_month(text)


@given(st.dates(min_value=date(1, 2, 1), max_value=date(9999, 11, 30)))
def test_periods_contain_their_day_and_shift_to_neighbours(d):
    for kind, text in (("date", d.isoformat()), ("month", f"{d.year:04d}-{d.month:02d}")):
        p = parse_period(kind, text)
        assert p.start <= d <= p.end
        nxt = p.shifted(1)
        assert nxt is not None and nxt.start == p.end + timedelta(days=1)
        assert parse_period(kind if kind != "date" else "day", p.label) == p


def test_period_shift_stops_at_the_calendar_edge():
    assert parse_month("9999-12").shifted(1) is None
    assert parse_period("day", "0001-01-01").shifted(-1) is None
    assert parse_week("2025-W01").shifted(-1) == parse_week("2024-W52")


def test_check_sort():
    assert check_sort(None) == "trending"
    assert check_sort("publishedAt") == "publishedAt"
    with pytest.raises(BadRequest, match="publishedAt, trending"):
        check_sort("votes")


def test_local_today_uses_the_configured_timezone():
    now = datetime(2025, 6, 16, 23, 30)  # UTC
    assert local_today(now, "UTC") == date(2025, 6, 16)
    assert local_today(now, "Asia/Tokyo") == date(2025, 6, 17)
    assert local_today(datetime(2025, 6, 16, 2), "America/New_York") == date(2025, 6, 15)
    with pytest.raises(ConfigError, match="PAPERFEED_TIMEZONE"):
        local_today(now, "Mars/Olympus")


def test_format_day_shows_year_only_outside_the_current_year():
    now = datetime(2026, 3, 1)
    assert format_day(date(2026, 2, 20), now) == "Feb 20"
    assert format_day(datetime(2023, 7, 30, 10), now) == "Jul 30, 2023"
    assert format_day(None, now) == ""


def test_count_label_singular_and_plural():
    assert count_label(1, "author") == "1 author"
    assert count_label(0, "author") == "0 authors"
    assert count_label(4, "author") == "4 authors"
