"""Saved searches delivered "in my digest": the section a member's digest copy adds.

A digest sender builds one `DigestAlerts` per run: it learns once which members have such
searches (and their addresses, so a subscription made without signing in still finds its
member), then for each of those members stamps the matches no mail carried yet with the
digest's edition and lists them. Stamping before rendering fixes the section's content: a
sender that takes over the delivery after a crash lists the same papers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from paperfeed.alerts.mail import AlertSection, sections
from paperfeed.config import Settings
from paperfeed.storage import alerts as store
from paperfeed.storage.db import write


class DigestAlerts:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        with engine.connect() as conn:
            self.members = store.digest_members(conn)  # {user_id: email}
        self.by_email = {email.lower(): uid for uid, email in self.members.items() if email}

    def member_for(self, user_id: int | None, email: str) -> int | None:
        if user_id is not None and user_id in self.members:
            return user_id
        return self.by_email.get((email or "").lower())

    def sections(
        self, user_id: int | None, email: str, edition: str, *, now: datetime
    ) -> tuple[AlertSection, ...]:
        uid = self.member_for(user_id, email)
        if uid is None:
            return ()
        # "d:" keeps digest stamps apart from alert-mail stamps of the same day, should a
        # search's delivery change between the two.
        label = f"d:{edition}"
        with write(self.engine) as conn:
            store.stamp(conn, user_id=uid, delivery="digest", edition=label, cut=now)
        with self.engine.connect() as conn:
            pairs = store.edition_matches(conn, user_id=uid, edition=label, delivery="digest")
        return sections(pairs, base_url=self.settings.base_url,
                        max_papers=self.settings.alerts_mail_max_papers)


__all__ = ["DigestAlerts"]
