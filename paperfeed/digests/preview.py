"""Digest preview: render an edition's HTML without sending (CLI and /digest/preview)."""

from __future__ import annotations

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import current_edition, parse_edition
from paperfeed.digests.render import Renderer
from paperfeed.digests.send import load_digest
from paperfeed.errors import NotFound
from paperfeed.models import utcnow

PREVIEW_ADDRESS = "subscriber@example.invalid"


def preview_html(
    engine: Engine, settings: Settings, edition_label: str | None, *, frequency: str = "daily"
) -> str:
    """The edition's HTML for a sample recipient; NotFound when the edition has no papers."""
    now = utcnow()
    edition = (
        parse_edition(edition_label)
        if edition_label
        else current_edition(frequency, now, settings.timezone)
    )
    digest = load_digest(engine, settings, edition, now=now)
    if digest is None:
        raise NotFound(
            f"digests: edition {edition.label} has no featured papers, so it would not be sent"
        )
    renderer = Renderer(settings)
    html, _text = renderer.digest_parts(digest, renderer.recipient(0, PREVIEW_ADDRESS))
    return html
