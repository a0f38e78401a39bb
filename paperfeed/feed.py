"""Feeds, the pure part: the trending score, period parsing (day / ISO week / month), FeedItem.

Nothing here touches the database or the clock: callers pass `now`. The queries that build
lists live in `storage/feeds.py`; the pages, the JSON API and the digests share both.

Trending score (exponential decay, one half-life):

    age_hours = max(0, (now - featured_at) / 1 hour)
    score     = upvotes * 0.5 ** (age_hours / half_life_hours)

An upvote counts fully when the paper is featured and half as much `half_life_hours` later
(`PAPERFEED_TRENDING_HALF_LIFE_HOURS`, default 48). Because the decay is exponential, the
*order* of two papers never changes as `now` advances (both scores shrink by the same factor);
only new votes reorder a list. Storage scores a past period at its end (`min(now, end)`), so an
old month is ranked as it stood then and the factors never underflow to zero.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperfeed.errors import BadRequest, ConfigError
from paperfeed.models import Author, Submitter

SortKey = Literal["publishedAt", "trending"]
SORTS: tuple[str, ...] = ("publishedAt", "trending")
PeriodKind = Literal["day", "week", "month"]

DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MAX_UPVOTES = 10**15  # far beyond any real count; keeps float(upvotes) finite


def trending_score(
    upvotes: int, featured_at: datetime, now: datetime, half_life_hours: float
) -> float:
    """Upvotes decayed by the time since the paper was featured (see the module docstring).

    Monotone non-decreasing in `upvotes`, non-increasing in age, always finite and >= 0.
    Negative upvotes count as 0; a `featured_at` after `now` counts as age 0.
    """
    if not half_life_hours > 0 or math.isinf(half_life_hours):
        raise ConfigError(
            f"feed: trending half-life must be a positive number of hours, got {half_life_hours!r}"
        )
    votes = min(max(upvotes, 0), MAX_UPVOTES)
    age_hours = max(0.0, (now - featured_at).total_seconds() / 3600.0)
    return votes * 0.5 ** (age_hours / half_life_hours)


def check_sort(value: str | None, *, default: SortKey = "trending") -> SortKey:
    """Validate a `sort` parameter; None or "" gives `default`."""
    if not value:
        return default
    if value not in SORTS:
        raise BadRequest(f"feed: sort must be one of {', '.join(SORTS)}, got {value[:40]!r}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar span of featured days; `end` is inclusive (a day period has start == end)."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def label(self) -> str:
        """The canonical URL form: 2025-06-16, 2025-W25 or 2025-06."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def path(self) -> str:
        """The page URL of this period (Hugging Face's scheme)."""
        return f"/papers/{'date' if self.kind == 'day' else self.kind}/{self.label}"

    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, steps: int) -> Period | None:
        """The calendar period `steps` away (-1 previous, +1 next); None outside year 1..9999."""
        try:
            if self.kind == "day":
                return day_period(self.start + timedelta(days=steps))
            if self.kind == "week":
                return week_period(self.start + timedelta(weeks=steps))
            index = self.start.year * 12 + self.start.month - 1 + steps
            return month_period(index // 12, index % 12 + 1)
        except (OverflowError, ValueError):
            return None


def day_period(day: date) -> Period:
    return Period("day", day, day)


def week_period(day: date) -> Period:
    """The ISO week (Monday..Sunday) that contains `day`."""
    start = day - timedelta(days=day.isoweekday() - 1)
    # 9999-W52 would end in year 10000: clamp to the last representable day
    end = start + timedelta(days=6) if start <= date.max - timedelta(days=6) else date.max
    return Period("week", start, end)


def month_period(year: int, month: int) -> Period:
    start = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1) if year < 9999 or month < 12 else None
    end = nxt - timedelta(days=1) if nxt else date(9999, 12, 31)
    return Period("month", start, end)


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` -> date; BadRequest naming the expected form otherwise."""
    m = DAY_RE.match(text or "")
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise BadRequest(f"feed: invalid date {str(text)[:40]!r}; expected YYYY-MM-DD, e.g. 2025-06-16")


def parse_week(text: str) -> Period:
    """ISO week `YYYY-Www` (e.g. 2025-W25) -> its Monday..Sunday period."""
    m = WEEK_RE.match(text or "")
    if m:
        try:
            return week_period(date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError:
            pass
    raise BadRequest(
        f"feed: invalid week {str(text)[:40]!r}; expected an ISO week YYYY-Www, e.g. 2025-W25"
    )


def parse_month(text: str) -> Period:
    """`YYYY-MM` -> the month's first..last day."""
    m = MONTH_RE.match(text or "")
    if m and 1 <= int(m[2]) <= 12 and int(m[1]) >= 1:
        return month_period(int(m[1]), int(m[2]))
    raise BadRequest(f"feed: invalid month {str(text)[:40]!r}; expected YYYY-MM, e.g. 2025-06")


def parse_period(kind: str, text: str) -> Period:
    """Parse `text` as a `kind` ("day"/"date", "week", "month") period."""
    if kind in ("day", "date"):
        return day_period(parse_day(text))
    if kind == "week":
        return parse_week(text)
    if kind == "month":
        return parse_month(text)
    raise BadRequest(f"feed: unknown period kind {kind[:20]!r}; use date, week or month")


def local_today(now: datetime, timezone: str) -> date:
    """Today's date in `timezone` (settings.timezone) for a naive-UTC `now`."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"config: PAPERFEED_TIMEZONE={timezone!r} is not a known IANA timezone "
            "(e.g. UTC, Europe/Paris)"
        ) from exc
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).date()


def format_day(day: date | datetime | None, now: datetime) -> str:
    """'Jun 16' in the current year (of `now`), 'Jun 16, 2024' otherwise; '' for None."""
    if day is None:
        return ""
    text = f"{day.strftime('%b')} {day.day}"
    return text if day.year == now.year else f"{text}, {day.year}"


def count_label(n: int, noun: str) -> str:
    """'1 author', '7 authors'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(slots=True)
class FeedItem:
    """One featured paper as every list shows it: the paper, its featured day and submitter,
    and the live counts: upvotes = upstream + members'; `num_comments` = this site's visible
    comments (what the comment count always counts); `hf_comments` = the count imported from
    Hugging Face, shown as such with a link to that discussion."""

    paper_id: str
    title: str
    abstract: str
    authors: list[Author]
    day: date
    submitted_at: datetime
    upvotes: int
    num_comments: int
    version: int | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    github_repo: str | None = None
    project_page: str | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    organization: dict[str, Any] | None = None
    upstream_upvotes: int = 0
    member_upvotes: int = 0
    hf_comments: int = 0
    featured_source: str = "unknown"
    submitter: Submitter | None = None
    score: float | None = None  # trending score when sorted by trending

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.paper_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.paper_id}"

    @property
    def num_authors(self) -> int:
        return len(self.authors)
