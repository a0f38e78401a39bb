"""A member's own data: "download my data" and "delete my account" (settings page, API, CLI).

Both walk `storage.member_data.MEMBER_TABLES`, so a table a feature registers there is
covered without changes here. Deletion asks the member to confirm with their username and to
choose what happens to their votes and comments: `keep` them as anonymous (they stay, under an
emptied account named `deleted-xxxxxxxxxx`) or `remove` them (counts are kept exact).
Sign-in links, sessions, tokens and subscriptions always go.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import BadRequest
from paperfeed.models import Member
from paperfeed.storage import member_data
from paperfeed.storage.db import write

log = logging.getLogger(__name__)
CONTENT_CHOICES = ("keep", "remove")


def export_data(
    engine: Engine, settings: Settings, member: Member, *, now: datetime
) -> dict[str, Any]:
    with engine.connect() as conn:
        return member_data.export_member(conn, member.id, now=now,
                                         site=settings.base_url.rstrip("/"))


def check_content(value: str) -> member_data.Content:
    choice = (value or "").strip().lower()
    if choice not in CONTENT_CHOICES:
        raise BadRequest(
            "accounts: choose what happens to your votes and comments: 'keep' them as "
            "anonymous or 'remove' them"
        )
    return choice  # type: ignore[return-value]


def delete_account(
    engine: Engine, member: Member, *, content: str, confirm: str | None, now: datetime
) -> str:
    """Delete `member`'s account; `confirm` must be their username (None: the caller, the
    admin CLI, confirmed otherwise). Returns the anonymous name their kept content shows."""
    choice = check_content(content)
    if confirm is not None and confirm.strip().lower() != member.username.lower():
        raise BadRequest(
            f"accounts: type your username ({member.username}) to confirm the deletion"
        )
    with write(engine) as conn:
        anonymous = member_data.delete_member(conn, member.id, content=choice, now=now)
    log.info("accounts: member %s deleted their account (%s content)", member.id, choice)
    return anonymous
