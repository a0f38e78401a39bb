"""Digest sending, exactly once: claim deliveries, send over one SMTP connection, record.

For one edition a sender repeats: in one write transaction take over rows whose sender died
and claim fresh (subscription, edition) rows (the primary key makes each claim unique across
senders and machines); then for each claimed row: mark it `sending` (committed), hand the
message to SMTP, and commit `sent` right after the server accepts. Transient failures (4xx,
dropped connections) are retried with exponential backoff; permanent ones (5xx for the
recipient) are recorded and count as hard bounces. docs/digests.md explains the one window
(SMTP accepted, `sent` not yet committed) in which a crash can cause a single duplicate.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed import shutdown
from paperfeed.config import Settings
from paperfeed.digests.compose import Digest, DigestPaper, compose, to_digest_paper
from paperfeed.digests.editions import Edition, period_end_utc
from paperfeed.digests.render import OutgoingMail, Renderer, message_id
from paperfeed.errors import PaperfeedError
from paperfeed.mail import Mailer
from paperfeed.models import utcnow
from paperfeed.storage import deliveries as dstore
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write

log = logging.getLogger(__name__)
BATCH = 50
MAX_CONSECUTIVE_DEFERRED = 3  # then the SMTP server is down, not one mailbox: stop the run


class DigestSendError(PaperfeedError):
    """The run cannot continue (SMTP refuses our sender or is unreachable); claims are
    released as `deferred`, so re-running later finishes the edition."""

    status = 502


@dataclass
class SendReport:
    edition: str
    papers: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    suspended: int = 0
    taken_over: int = 0
    lost: int = 0  # claims another sender took over before we sent (not sent by us)
    window_total: float = 0.0  # seconds between SMTP acceptance and the `sent` commit
    window_max: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        if not self.papers:
            return f"edition {self.edition}: no papers, nothing sent"
        waiting = sum(self.statuses.get(s, 0) for s in ("claimed", "sending", "deferred"))
        text = (
            f"edition {self.edition} ({self.papers} papers): {self.sent} sent, "
            f"{self.failed} failed, {self.deferred} deferred, {self.skipped} skipped, "
            f"{self.suspended} suspended, {self.taken_over} taken over from stopped senders"
        )
        if waiting:
            text += f"; {waiting} not finished yet (held by other senders or deferred: re-run)"
        return text


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # sent | failed | deferred
    error: str = ""


def machine_key() -> str:
    """Who "this machine" is for claims: host name + kernel boot id + PID namespace.

    Two machines (or containers) given the same host name differ in boot id or PID namespace,
    so neither mistakes the other's live sender for a dead local process; a reboot also
    changes the key, which is right: every process of the old boot is gone."""
    parts = [socket.gethostname().replace(":", "_")]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text("ascii").strip()[:8])
    except OSError:
        parts.append("noboot")
    try:
        parts.append(os.readlink("/proc/self/ns/pid").strip("pid:[]"))
    except OSError:
        parts.append("nons")
    return "/".join(parts)


def sender_id() -> str:
    """`machine:pid:random` (see `machine_key`), written to deliveries.claimed_by."""
    return f"{machine_key()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that nobody reaped yet is a zombie: gone for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def claimer_gone(claimed_by: str) -> bool:
    """True when the claimer ran on this machine (same `machine_key`) and its process no
    longer exists. Claims of other machines (or of this process) are only taken over once
    their lease expires."""
    try:
        machine, pid_text, _ = claimed_by.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if machine != machine_key() or pid == os.getpid():
        return False
    return not _pid_alive(pid)


FOR_YOU_PAPERS = 5


def for_you(
    engine: Engine, settings: Settings, user_id: int | None, digest: Digest
) -> tuple[DigestPaper, ...]:
    """Personal picks for a subscriber with an account: the edition's period ranked by their
    "for you" model (`recommend.service`), top FOR_YOU_PAPERS. The period's featured papers
    are ranked when it has a curated list; on an arXiv-only edition (`digest.new_on_arxiv`)
    its new arXiv papers are, through the vector index (`rank_catalog` among them: hundreds to
    thousands a day, more than `rank` should score one by one). Empty (the section is not
    shown) for subscribers without an account or a model, and when ranking fails: a digest is
    never held up by recommendations."""
    if user_id is None:
        return ()
    try:
        from paperfeed.recommend.service import open_recommender
        from paperfeed.storage.arrivals import arrived_ids
        from paperfeed.storage.recommend import featured_ids, paper_rows

        edition = digest.edition
        rec = open_recommender(settings, engine)
        if digest.new_on_arxiv:
            with engine.connect() as conn:
                ids = arrived_ids(conn, start=edition.start, end=edition.end)
            ranking = rec.rank_catalog(user_id, FOR_YOU_PAPERS, within=ids) if ids else None
        else:
            with engine.connect() as conn:
                ids = featured_ids(conn, edition.start, edition.end)
            ranking = rec.rank(user_id, ids)
        items = ranking.items if ranking is not None else []
        picks = [r.paper_id for r in items if not r.not_interested][:FOR_YOU_PAPERS]
        with engine.connect() as conn:
            rows = paper_rows(conn, picks)
    except Exception:  # noqa: BLE001 - the shared digest still goes out
        log.warning("digest: no 'for you' section for member %s", user_id, exc_info=True)
        return ()
    return tuple(
        to_digest_paper(_Pick(p, rows[p]), digest.base_url) for p in picks if p in rows
    )


class _Pick:
    """A paper row as compose's FeedItemLike."""

    def __init__(self, paper_id: str, row: dict[str, object]) -> None:
        self.paper_id = paper_id
        self.title = str(row["title"])
        self.abstract = str(row["abstract"])
        self.authors = list(row["authors"] or [])  # type: ignore[call-overload]
        self.upvotes = int(row["upvotes"] or 0)  # type: ignore[call-overload]


def load_digest(
    engine: Engine, settings: Settings, edition: Edition, *, now: datetime
) -> Digest | None:
    """The edition's content: its period's top trending featured papers; where the period
    has no curated list, its new arXiv papers, labelled so (an instance fed from arXiv alone,
    storage/arrivals.py, the rule of the list pages). None: no papers at all."""
    from paperfeed.storage.arrivals import page_new
    from paperfeed.storage.feeds import list_featured

    with engine.connect() as conn:
        items = list_featured(
            conn,
            start=edition.start,
            end=edition.end,
            sort="trending",
            limit=settings.digest_max_papers,
            now=min(now, period_end_utc(edition, settings.timezone)),
            half_life_hours=settings.trending_half_life_hours,
        )
        new_on_arxiv = not items
        if new_on_arxiv:
            items = page_new(conn, start=edition.start, end=edition.end, sort="trending",
                             limit=settings.digest_max_papers).items
    return compose(
        edition,
        items,
        base_url=settings.base_url,
        site_name=settings.site_name,
        max_papers=settings.digest_max_papers,
        new_on_arxiv=new_on_arxiv,
    )


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def classify(exc: BaseException) -> tuple[str, str]:
    """('sent'|'failed'|'deferred'|'fatal', description) for an exception from SMTP."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (450, b"refused"))
        return ("failed" if 500 <= code < 600 else "deferred"), f"{code} {_text(reply)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        text = f"{code} {_text(exc.smtp_error)}"
        if 400 <= code < 500:
            return "deferred", text
        if isinstance(exc, smtplib.SMTPDataError):
            return "failed", text
        return "fatal", text  # sender refused, authentication, HELO: our configuration
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "fatal", str(exc)
    return "deferred", f"{type(exc).__name__}: {exc}"  # connection trouble


class EditionSender:
    """Sends one edition to every confirmed subscriber of its frequency, exactly once.

    Saved-search alerts (`alerts/send.py`) subclass it: they keep the loop, the SMTP retries
    and the release-on-crash, and replace what is loaded (`_load`), claimed (`_claim`) and
    delivered (`_deliver`) on their own ledger of deliveries (`ledger`)."""

    ledger: dstore.Ledger = dstore.DIGESTS

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        edition: Edition,
        *,
        mailer: Mailer | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.edition = edition
        self.mailer = mailer
        self.clock = clock
        self.batch_size = batch_size
        self.sleep = sleep
        self.progress = progress  # called once per subscription handled (progress bars)
        self.claimer = sender_id()
        self.renderer = Renderer(settings)
        self.report = SendReport(edition.label)
        self._deferred_in_a_row = 0
        self._cursor = 0  # highest subscription id this run has looked at
        self._rescanned = False
        self._alerts: Any = None  # alerts.digest.DigestAlerts, made on first use

    def _load(self) -> Any:
        """The edition's shared content, handed to each `_deliver` (None: nothing to send)."""
        digest = load_digest(self.engine, self.settings, self.edition, now=self.clock())
        if digest is None:
            log.info("digest %s: no papers, nothing to send", self.edition.label)
            return None
        self.report.papers = len(digest.papers)
        return digest

    def run(self) -> SendReport:
        digest = self._load()
        if digest is None:
            return self.report
        mailer = self.mailer or Mailer(self.settings)
        try:
            with mailer:
                while claims := self._claim():
                    for claim in claims:
                        self._deliver(mailer, digest, claim)
                        shutdown.check("digests")  # stopping: remaining claims released
                        if self.progress is not None:
                            self.progress()
        except BaseException as exc:
            with write(self.engine) as conn:
                released = dstore.release(
                    conn,
                    edition=self.edition.label,
                    claimer=self.claimer,
                    reason=f"sender stopped before sending: {type(exc).__name__}: {exc}",
                    ledger=self.ledger,
                )
            log.warning("digest %s: stopped, %d claims released", self.edition.label, released)
            raise
        finally:
            with self.engine.connect() as conn:
                self.report.statuses = dstore.status_counts(
                    conn, self.edition.label, ledger=self.ledger
                )
        return self.report

    def _claim(self) -> list[dstore.Claim]:
        """The next batch this sender owns ([] when the edition has nothing left for it)."""
        while True:
            now = self.clock()
            last = 0
            with write(self.engine) as conn:
                taken = dstore.take_over_stale(
                    conn,
                    edition=self.edition.label,
                    claimer=self.claimer,
                    now=now,
                    lease_seconds=self.settings.digest_claim_lease_seconds,
                    claimer_gone=claimer_gone,
                    limit=self.batch_size,
                    ledger=self.ledger,
                )
                if taken < self.batch_size:
                    last = self._claim_new(conn, now, self.batch_size - taken)
                claims = self._my_claims(conn)
            self.report.taken_over += taken
            if last:
                self._cursor = last
            if claims:
                return claims
            if last:
                continue  # every candidate went to a concurrent sender: look further
            if self._cursor == 0 or self._rescanned:
                return []
            # Nothing beyond the cursor: one more pass from the start catches subscriptions
            # (re)confirmed during the run with a lower id.
            self._rescanned = True
            self._cursor = 0

    def _saved_searches(self, claim: dstore.Claim) -> tuple[Any, ...]:
        """The member's saved-search matches for this copy (alerts delivered in the digest)."""
        if self._alerts is None:
            from paperfeed.alerts.digest import DigestAlerts

            self._alerts = DigestAlerts(self.engine, self.settings)
        return self._alerts.sections(
            claim.user_id, claim.email, self.edition.label, now=self.clock()
        )

    def _claim_new(self, conn: Connection, now: datetime, limit: int) -> int:
        """Claim fresh rows after `self._cursor` (see `deliveries.claim_new`)."""
        return dstore.claim_new(
            conn,
            edition=self.edition.label,
            frequency=self.edition.frequency,
            claimer=self.claimer,
            now=now,
            limit=limit,
            message_id=lambda sid: message_id(self.settings, sid, self.edition.label),
            after_id=self._cursor,
        )

    def _my_claims(self, conn: Connection) -> list[dstore.Claim]:
        return dstore.my_claims(conn, edition=self.edition.label, claimer=self.claimer)

    def _deliver(self, mailer: Mailer, digest: Digest, claim: dstore.Claim) -> None:
        label, me = self.edition.label, self.claimer
        if claim.status != "confirmed":
            with write(self.engine) as conn:
                dstore.mark_skipped(
                    conn, claim.subscription_id, label, me, f"subscription is {claim.status}"
                )
            self.report.skipped += 1
            return
        recipient = self.renderer.recipient(
            claim.subscription_id, claim.email,
            for_you(self.engine, self.settings, claim.user_id, digest),
            self._saved_searches(claim),
        )
        mail = self.renderer.digest_mail(digest, recipient, now=self.clock())
        with write(self.engine) as conn:
            if not dstore.start_sending(conn, claim.subscription_id, label, me, self.clock()):
                self.report.lost += 1  # our lease ran out and another sender took the row
                return
        outcome = self._send(mailer, mail, claim.subscription_id)
        # The window: SMTP has accepted the message, the commit below has not happened yet.
        window_start = time.perf_counter()
        with write(self.engine) as conn:
            if outcome.status == "sent":
                dstore.mark_sent(conn, claim.subscription_id, label, me, self.clock())
                if claim.hard_bounces:
                    sstore.reset_bounces(conn, claim.subscription_id)
            else:
                dstore.mark_failed(
                    conn,
                    claim.subscription_id,
                    label,
                    me,
                    error=outcome.error,
                    status=outcome.status,
                )
                if outcome.status == "failed" and sstore.record_hard_bounce(
                    conn, claim.subscription_id, limit=self.settings.digest_hard_bounce_limit
                ):
                    self.report.suspended += 1
        if outcome.status == "sent":
            window = time.perf_counter() - window_start
            self.report.window_max = max(self.report.window_max, window)
            self.report.window_total += window
            self.report.sent += 1
            self._deferred_in_a_row = 0
        elif outcome.status == "failed":
            self.report.failed += 1
            self._deferred_in_a_row = 0
            log.warning(
                "digest %s to subscription %d failed: %s",
                label,
                claim.subscription_id,
                outcome.error,
            )
        else:
            self.report.deferred += 1
            self._deferred_in_a_row += 1
            if self._deferred_in_a_row >= MAX_CONSECUTIVE_DEFERRED:
                raise DigestSendError(
                    f"digests: {self._deferred_in_a_row} messages in a row failed transiently "
                    f"(last: {outcome.error}); the SMTP server looks unavailable. Check "
                    "PAPERFEED_SMTP_HOST/PORT and re-run: nothing sent is sent again"
                )

    def _send(self, mailer: Mailer, mail: OutgoingMail, sub_id: int) -> Outcome:
        delay = self.settings.digest_retry_backoff_seconds
        error = ""
        for attempt in range(1, self.settings.digest_retry_attempts + 1):
            try:
                mailer.send_bytes(mail.sender, mail.to, mail.data)
                return Outcome("sent")
            except (smtplib.SMTPException, OSError) as exc:
                kind, error = classify(exc)
                broken = not isinstance(
                    exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
                )
            if kind == "fatal":
                with write(self.engine) as conn:
                    dstore.mark_failed(
                        conn,
                        sub_id,
                        self.edition.label,
                        self.claimer,
                        error=error,
                        status="deferred",
                        ledger=self.ledger,
                    )
                raise DigestSendError(
                    f"digests: the SMTP server refused to send for us ({error}); check "
                    "PAPERFEED_MAIL_FROM and PAPERFEED_SMTP_USERNAME/PASSWORD, then re-run"
                )
            if kind == "failed":
                return Outcome("failed", error)
            if broken:
                mailer.reset()  # broken connection: reconnect on the next try
            if attempt < self.settings.digest_retry_attempts:
                log.info(
                    "digest to %s: transient failure (%s), retry in %.1f s", mail.to, error, delay
                )
                self.sleep(delay)
                delay *= 2
        return Outcome("deferred", error)


def send_edition(
    engine: Engine, settings: Settings, edition: Edition, **kwargs: object
) -> SendReport:
    """Send `edition` to its confirmed subscribers (see EditionSender)."""
    return EditionSender(engine, settings, edition, **kwargs).run()  # type: ignore[arg-type]
