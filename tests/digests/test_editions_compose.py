"""Editions and digest composition: pure functions of their inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from paperfeed.digests.compose import author_line, compose, shorten
from paperfeed.digests.editions import (
    current_edition,
    parse_edition,
    period_end_utc,
    scheduled_edition,
)
from paperfeed.errors import BadRequest


@dataclass
class Item:
    paper_id: str
    title: str = "A title"
    abstract: str = "An abstract."
    authors: list[str] = field(default_factory=lambda: ["Ada"])
    upvotes: int = 1


@pytest.mark.parametrize(
    ("text", "frequency", "start", "end"),
    [
        ("2025-06-16", "daily", date(2025, 6, 16), date(2025, 6, 16)),
        ("2025-W25", "weekly", date(2025, 6, 16), date(2025, 6, 22)),
        ("2026-W01", "weekly", date(2025, 12, 29), date(2026, 1, 4)),
    ],
)
def test_edition_labels_parse_to_their_period(
    text: str, frequency: str, start: date, end: date
) -> None:
    edition = parse_edition(text)
    assert (edition.frequency, edition.start, edition.end, edition.label) == (
        frequency,
        start,
        end,
        text,
    )


@pytest.mark.parametrize("text", ["", "2025-13-01", "2025-W54", "2025-6-1", "yesterday"])
def test_invalid_edition_is_rejected_with_the_expected_form(text: str) -> None:
    with pytest.raises(BadRequest, match="YYYY-MM-DD"):
        parse_edition(text)


def test_edition_must_match_the_requested_frequency() -> None:
    with pytest.raises(BadRequest, match="weekly edition"):
        parse_edition("2025-W25", "daily")


def test_current_edition_follows_the_configured_timezone() -> None:
    now = datetime(2025, 6, 16, 23, 30)  # Monday 23:30 UTC = Tuesday in Tokyo
    assert current_edition("daily", now, "UTC").label == "2025-06-16"
    assert current_edition("daily", now, "Asia/Tokyo").label == "2025-06-17"
    assert current_edition("weekly", now, "UTC").label == "2025-W25"


def test_scheduled_daily_edition_skips_weekends_but_weekly_does_not() -> None:
    saturday = datetime(2025, 6, 21, 17, 0)
    assert scheduled_edition("daily", saturday, "UTC") is None
    assert scheduled_edition("weekly", saturday, "UTC") is not None
    friday = datetime(2025, 6, 20, 17, 0)
    edition = scheduled_edition("daily", friday, "UTC")
    assert edition is not None and edition.label == "2025-06-20"
    # Named explicitly, a Saturday edition is a normal edition.
    assert parse_edition("2025-06-21").is_weekend


def test_period_end_is_midnight_after_the_last_day_in_the_timezone() -> None:
    assert period_end_utc(parse_edition("2025-06-16"), "UTC") == datetime(2025, 6, 17)
    assert period_end_utc(parse_edition("2025-06-16"), "Europe/Paris") == datetime(2025, 6, 16, 22)


def test_compose_without_papers_is_none() -> None:
    assert (
        compose(parse_edition("2025-06-16"), [], base_url="http://x", site_name="s", max_papers=5)
        is None
    )


def test_compose_keeps_order_limit_and_links_to_our_paper_page() -> None:
    items = [Item("2501.00001", upvotes=9), Item("2501.00002"), Item("2501.00001"), Item("3")]
    digest = compose(
        parse_edition("2025-06-16"), items, base_url="https://p.org/", site_name="s", max_papers=2
    )
    assert digest is not None
    assert [p.id for p in digest.papers] == ["2501.00001", "2501.00002"]
    assert digest.papers[0].url == "https://p.org/papers/2501.00001"
    assert digest.edition_url == "https://p.org/papers/date/2025-06-16"
    assert "16 June 2025" in digest.subject


def test_shorten_collapses_line_breaks_and_cuts_at_a_word() -> None:
    text = "word " * 100 + "\nend"
    short = shorten(text, 50)
    assert len(short) <= 51 and short.endswith("…") and "\n" not in short
    assert shorten("  a\n  b  ") == "a b"


def test_author_line_names_the_first_authors_and_counts_the_rest() -> None:
    assert author_line(["A"]) == "A"
    assert author_line(["A", "B", "C"]) == "A, B and C"
    assert author_line([f"N{i}" for i in range(9)], limit=2) == "N0, N1 and 7 others"
    assert author_line([{"name": "D", "hf_user": None}]) == "D"


def test_fast_per_recipient_copy_equals_a_full_render(settings: object) -> None:
    from paperfeed.config import Settings
    from paperfeed.digests.render import Renderer

    assert isinstance(settings, Settings)
    digest = compose(
        parse_edition("2025-06-16"),
        [Item("2501.00001", title="<i>x</i> & y")],
        base_url="http://testserver",
        site_name="s",
        max_papers=5,
    )
    assert digest is not None
    renderer = Renderer(settings)
    for email in ("a@example.org", "o'neil&co<x>@example.org"):
        recipient = renderer.recipient(7, email)
        fast = renderer.digest_parts(digest, recipient)
        assert fast == renderer._render(digest, recipient)
        assert email in fast[1] and "o&#39;neil&amp;co&lt;x&gt;" not in fast[1]
    assert "o&#39;neil&amp;co&lt;x&gt;@example.org" in fast[0]
