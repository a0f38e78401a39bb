"""Alert emails, exactly once: one message per (member, edition) listing the new matches of
the member's searches with that delivery (daily or weekly), sent through the digest
machinery (`digests.send.EditionSender`: claims, SMTP retries, takeover of dead senders)
on its own ledger, `alert_deliveries`.

Claiming a member stamps their matches that no mail carried yet with the edition, in the
claim's transaction (`storage.alerts.claim_new`): the message's content is fixed by the
claim, so a sender that takes over a dead one's claim sends the same papers, and the matches
found after the claim wait for the next edition. Members without new matches get nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.alerts.mail import AlertRenderer, alert_message_id, sections
from paperfeed.config import Settings
from paperfeed.digests.editions import Edition
from paperfeed.digests.send import BATCH, EditionSender, SendReport
from paperfeed.mail import Mailer
from paperfeed.models import utcnow
from paperfeed.storage import alerts as astore
from paperfeed.storage import deliveries as dstore
from paperfeed.storage.db import write
from paperfeed.storage.users import get_by_id

log = logging.getLogger(__name__)


class AlertReport(SendReport):
    def line(self) -> str:
        waiting = sum(self.statuses.get(s, 0) for s in ("claimed", "sending", "deferred"))
        text = (
            f"alerts {self.edition}: {self.sent} sent, {self.failed} failed, "
            f"{self.deferred} deferred, {self.skipped} skipped, "
            f"{self.taken_over} taken over from stopped senders"
        )
        if waiting:
            text += f"; {waiting} not finished yet (held by other senders or deferred: re-run)"
        return text


class AlertSender(EditionSender):
    """Sends one alert edition (daily: a day, weekly: an ISO week) to every member with new
    matches in searches of that frequency."""

    ledger = dstore.ALERTS

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        edition: Edition,
        *,
        mailer: Mailer | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH,
        sleep: Callable[[float], None] | None = None,
        progress: Callable[[], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        super().__init__(engine, settings, edition, mailer=mailer, clock=clock,
                         batch_size=batch_size, progress=progress, **extra)
        self.alerts = AlertRenderer(settings)
        self.report = AlertReport(edition.label)

    def _load(self) -> Any:
        return True  # each member's message is built from their own matches

    def _claim_new(self, conn: Connection, now: datetime, limit: int) -> int:
        return astore.claim_new(
            conn,
            edition=self.edition.label,
            frequency=self.edition.frequency,
            claimer=self.claimer,
            now=now,
            limit=limit,
            message_id=lambda uid: alert_message_id(self.settings, uid, self.edition.label),
            after_id=self._cursor,
        )

    def _my_claims(self, conn: Connection) -> list[dstore.Claim]:
        return astore.my_claims(conn, edition=self.edition.label, claimer=self.claimer)

    def _deliver(self, mailer: Mailer, _content: object, claim: dstore.Claim) -> None:
        label, me, uid = self.edition.label, self.claimer, claim.subscription_id
        ledger = self.ledger
        with self.engine.connect() as conn:
            pairs = astore.edition_matches(conn, user_id=uid, edition=label)
            member = get_by_id(conn, uid)
        found = sections(pairs, base_url=self.settings.base_url,
                         max_papers=self.settings.alerts_mail_max_papers)
        reason = ""
        if claim.status != "confirmed":
            reason = f"member {claim.status}"
        elif not found:
            reason = "nothing to send (the searches were deleted or the papers hidden)"
        if reason:
            with write(self.engine) as conn:
                dstore.mark_skipped(conn, uid, label, me, reason, ledger=ledger)
            self.report.skipped += 1
            return
        mail = self.alerts.mail(
            user_id=uid, email=claim.email, name=member.name if member else "",
            frequency=self.edition.frequency, edition=label, found=found, now=self.clock(),
        )
        self.report.papers += sum(len(s.papers) for s in found)
        with write(self.engine) as conn:
            if not dstore.start_sending(conn, uid, label, me, self.clock(), ledger=ledger):
                self.report.lost += 1
                return
        outcome = self._send(mailer, mail, uid)
        with write(self.engine) as conn:
            if outcome.status == "sent":
                dstore.mark_sent(conn, uid, label, me, self.clock(), ledger=ledger)
            else:
                dstore.mark_failed(conn, uid, label, me, error=outcome.error,
                                   status=outcome.status, ledger=ledger)
        if outcome.status == "sent":
            self.report.sent += 1
            self._deferred_in_a_row = 0
        elif outcome.status == "failed":
            self.report.failed += 1
            self._deferred_in_a_row = 0
            log.warning("alerts %s to member %d failed: %s", label, uid, outcome.error)
        else:
            self.report.deferred += 1
            self._deferred_in_a_row += 1
            if self._deferred_in_a_row >= 3:
                from paperfeed.digests.send import DigestSendError

                raise DigestSendError(
                    f"alerts: {self._deferred_in_a_row} messages in a row failed transiently "
                    f"(last: {outcome.error}); the SMTP server looks unavailable. Check "
                    "PAPERFEED_SMTP_HOST/PORT and re-run: nothing sent is sent again"
                )


def send_alerts(
    engine: Engine, settings: Settings, edition: Edition, **kwargs: Any
) -> SendReport:
    """Send the alert edition to every member with new matches (see AlertSender)."""
    return AlertSender(engine, settings, edition, **kwargs).run()
