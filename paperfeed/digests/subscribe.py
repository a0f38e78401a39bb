"""Subscribing with double opt-in, without revealing whether an address is subscribed.

`request_subscription` validates and rate-limits a request and returns the one message to
send: a confirmation link for a new, pending, unsubscribed or suspended address, or an
"already subscribed, manage your subscription" note for a confirmed one. The caller answers
every request with the same text and sends the message in the background, so neither the
response nor its timing tells a visitor anything about the address.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import check_frequency
from paperfeed.digests.render import OutgoingMail, Renderer
from paperfeed.errors import BadRequest
from paperfeed.mail import Mailer
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from paperfeed.storage.ratelimit import hit

log = logging.getLogger(__name__)
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
WINDOW_SECONDS = 3600
ANSWER = (
    "Check your inbox: we sent a message to {email}. Follow the link in it to confirm your "
    "subscription; nothing else is sent until you do. If this address is already subscribed, "
    "the message tells you how to change or cancel it."
)


def normalize_email(text: str) -> str:
    """A syntactically valid, ASCII, lower-cased address (no DNS lookups); BadRequest else."""
    raw = (text or "").strip()
    if not raw or len(raw) > MAX_EMAIL_LENGTH:
        raise BadRequest("subscribe: enter an email address (at most 254 characters)")
    try:
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"subscribe: {raw[:80]!r} is not a valid email address: {exc}") from exc
    return (info.ascii_email or info.normalized).lower()


def request_subscription(
    engine: Engine,
    settings: Settings,
    *,
    email: str,
    frequency: str,
    client: str,
    now: datetime,
) -> tuple[str, OutgoingMail]:
    """Check and record a subscribe request. Returns (normalized address, message to send).
    Raises BadRequest (invalid input) or RateLimited (429, per client and per address)."""
    hit(
        engine,
        f"subscribe:ip:{client}",
        limit=settings.subscribe_rate_per_ip,
        window_seconds=WINDOW_SECONDS,
        now=now,
        what="subscribe requests from your network",
    )
    address = normalize_email(email)
    freq = check_frequency(frequency)
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    hit(
        engine,
        f"subscribe:email:{digest}",
        limit=settings.subscribe_rate_per_address,
        window_seconds=WINDOW_SECONDS,
        now=now,
        what="subscribe requests for this address",
    )
    with write(engine) as conn:
        row = sstore.request(conn, address, freq, now=now)
    renderer = Renderer(settings)
    if row["status"] == "confirmed":
        mail = renderer.already_subscribed_mail(row["id"], address, row["frequency"], now=now)
    else:
        mail = renderer.confirmation_mail(address, freq, now=now,
                                          since=sstore.state_marker(row))
    return address, mail


def send_now(settings: Settings, mail: OutgoingMail) -> None:
    """Send one transactional message; errors are logged, never shown to the visitor."""
    try:
        with Mailer(settings, transactional=True) as mailer:
            mailer.send_bytes(mail.sender, mail.to, mail.data)
    except Exception:  # noqa: BLE001 - a background task must not raise into the server
        log.exception("subscribe: could not send %s to the SMTP server", mail.message_id)
