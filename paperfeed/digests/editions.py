"""Digest editions: which period an edition label names, and which edition is current.

A daily edition is a day (`2025-06-16`) and lists the papers featured that day; a weekly
edition is an ISO week (`2025-W25`, Monday..Sunday). The label is also the `edition` key of
the deliveries table, so the two kinds never collide. Pure functions: callers pass `now`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from paperfeed.errors import BadRequest
from paperfeed.feed import local_today

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[str, ...] = ("daily", "weekly")
DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
# An edition's end is computed as the next day's midnight in the site's timezone, which must
# stay inside Python's dates (year 1..9999) whatever the timezone.
MIN_YEAR, MAX_YEAR = 2, 9998


@dataclass(frozen=True, slots=True)
class Edition:
    """One issue of the digest: `start`..`end` are the featured days it covers (inclusive)."""

    frequency: Frequency
    label: str
    start: date
    end: date

    @property
    def is_weekend(self) -> bool:
        return self.frequency == "daily" and self.start.isoweekday() >= 6

    @property
    def title(self) -> str:
        """Human name: 'Monday, 16 June 2025' or 'week 25 of 2025 (16-22 June)'."""
        if self.frequency == "daily":
            return f"{self.start:%A}, {self.start.day} {self.start:%B %Y}"
        year, week, _ = self.start.isocalendar()
        span = f"{self.start.day} {self.start:%b} - {self.end.day} {self.end:%b}"
        return f"week {week} of {year} ({span})"


def check_frequency(value: str) -> Frequency:
    if value not in FREQUENCIES:
        raise BadRequest(f"digests: frequency must be daily or weekly, got {value[:20]!r}")
    return value  # type: ignore[return-value]


def daily_edition(day: date) -> Edition:
    return Edition("daily", day.isoformat(), day, day)


def weekly_edition(day: date) -> Edition:
    """The ISO week that contains `day`."""
    start = day - timedelta(days=day.isoweekday() - 1)
    year, week, _ = start.isocalendar()
    return Edition("weekly", f"{year:04d}-W{week:02d}", start, start + timedelta(days=6))


def parse_edition(text: str, frequency: str | None = None) -> Edition:
    """`YYYY-MM-DD` -> daily edition, `YYYY-Www` -> weekly; BadRequest if it does not parse or
    does not match `frequency` when one is given."""
    raw = (text or "").strip()
    edition: Edition | None = None
    year = raw[:4]
    if year.isdigit() and not MIN_YEAR <= int(year) <= MAX_YEAR:
        raise BadRequest(
            f"digests: edition {raw[:40]!r} is out of range; years {MIN_YEAR}-{MAX_YEAR}"
        )
    m = DAY_RE.match(raw)
    if m:
        try:
            edition = daily_edition(date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            edition = None
    m = WEEK_RE.match(raw)
    if m:
        try:
            edition = weekly_edition(date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError:
            edition = None
    if edition is None:
        raise BadRequest(
            f"digests: invalid edition {raw[:40]!r}; expected a day YYYY-MM-DD (daily) "
            "or an ISO week YYYY-Www (weekly), e.g. 2025-06-16 or 2025-W25"
        )
    if frequency is not None and edition.frequency != check_frequency(frequency):
        raise BadRequest(
            f"digests: edition {raw!r} is a {edition.frequency} edition, not {frequency}"
        )
    return edition


def current_edition(frequency: str, now: datetime, timezone: str) -> Edition:
    """Today's daily edition or this week's weekly edition, in `timezone`."""
    today = local_today(now, timezone)
    if check_frequency(frequency) == "daily":
        return daily_edition(today)
    return weekly_edition(today)


def scheduled_edition(frequency: str, now: datetime, timezone: str) -> Edition | None:
    """The edition a scheduled run sends now: the current one, but no daily edition on
    Saturdays and Sundays (None). An edition named explicitly is always sent."""
    edition = current_edition(frequency, now, timezone)
    return None if edition.is_weekend else edition


def period_end_utc(edition: Edition, timezone: str) -> datetime:
    """The first instant after the edition's last day, as naive UTC (ranking is scored here
    for past editions, so an old edition ranks as it stood when it closed)."""
    tz = ZoneInfo(timezone)
    end = datetime.combine(edition.end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
