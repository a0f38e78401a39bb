"""Small pure helpers shared by the parsers: whitespace cleaning and timestamp parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime


def clean_text(text: str | None) -> str:
    """Collapse arXiv's hard line breaks and runs of whitespace into single spaces.

    LaTeX (`$...$`, `\\emph{}`) is kept as is: rendering it is the page's business.
    """
    if not text:
        return ""
    return " ".join(text.split())  # str.split() splits on any whitespace run; faster than re


def clean_optional(text: str | None) -> str | None:
    cleaned = clean_text(text)
    return cleaned or None


def parse_timestamp(value: object) -> datetime | None:
    """ISO-8601 text (with `Z`, an offset or none) as a naive UTC datetime; None if unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_day(value: object) -> date | None:
    """`YYYY-MM-DD` (or a timestamp starting with one) as a date; None if unusable."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_rfc2822(value: object) -> datetime | None:
    """`Mon, 2 Apr 2007 19:18:42 GMT` (arXiv version dates) as naive UTC; None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return parse_timestamp(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def start_of_day(value: object) -> datetime | None:
    """`YYYY-MM-DD` as midnight of that day; None if unusable."""
    day = parse_day(value)
    return datetime(day.year, day.month, day.day) if day else None


def split_author_names(text: str | None) -> list[str]:
    """arXiv's one-string author list ("A. B, C. D and E. F") as names, in order."""
    if not text:
        return []
    flat = clean_text(text).replace(", and ", ", ").replace(" and ", ", ")
    return [name for name in (part.strip() for part in flat.split(",")) if name]
