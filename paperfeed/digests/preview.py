"""Digest preview: render an edition's HTML without sending (CLI and /digest/preview)."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import (
    Edition,
    current_edition,
    daily_edition,
    parse_edition,
    weekly_edition,
)
from paperfeed.digests.render import Renderer
from paperfeed.digests.send import load_digest
from paperfeed.errors import NotFound
from paperfeed.models import utcnow

PREVIEW_ADDRESS = "subscriber@example.invalid"


def latest_edition(engine: Engine, frequency: str) -> Edition | None:
    """The newest edition of `frequency` with papers: the latest day with a curated list or
    new arXiv papers (the rule of load_digest), or its ISO week."""
    from paperfeed.storage import arrivals, feeds

    with engine.connect() as conn:
        days = [d for d in (feeds.latest_featured_day(conn), arrivals.latest_day(conn)) if d]
    if not days:
        return None
    return daily_edition(max(days)) if frequency == "daily" else weekly_edition(max(days))


def preview_html(
    engine: Engine, settings: Settings, edition_label: str | None, *, frequency: str = "daily",
    how: str = "--edition {}",
) -> str:
    """The edition's HTML for a sample recipient; NotFound when the edition has no papers,
    naming the latest edition that has some (`how` says how to ask for it: the CLI's option
    or the page's query)."""
    now = utcnow()
    edition = (
        parse_edition(edition_label)
        if edition_label
        else current_edition(frequency, now, settings.timezone)
    )
    digest = load_digest(engine, settings, edition, now=now)
    if digest is None:
        latest = latest_edition(engine, edition.frequency)
        hint = (f"; the latest edition with papers is {latest.label} ({how.format(latest.label)})"
                if latest is not None and latest != edition else "")
        raise NotFound(
            f"digests: edition {edition.label} has no papers, so it would not be sent{hint}"
        )
    renderer = Renderer(settings)
    html, _text = renderer.digest_parts(digest, renderer.recipient(0, PREVIEW_ADDRESS))
    return html
