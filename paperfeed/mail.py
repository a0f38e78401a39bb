"""Outgoing mail over SMTP, shared by sign-in links, confirmations and digests.

One `Mailer` holds one SMTP connection for many messages (digests send thousands). With no
SMTP host configured, messages go to the outbox instead (`paperfeed/outbox.py`: one `.eml`
file per message under the data directory, links logged at WARNING by the sending process):
always for transactional mail (sign-in links, confirmations: the operator must be able to sign
in before mail is set up), and for digests only in development. A production digest run
without SMTP refuses, so no edition is ever recorded as sent into an outbox nobody reads.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from pathlib import Path
from types import TracebackType

from paperfeed import outbox
from paperfeed.config import Settings
from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)
LOGGED_LINKS = 3  # a digest has dozens of links; the log names the first few and the file


def mail_destination(settings: Settings) -> str:
    """Where mail goes, in one phrase for start-up messages."""
    if settings.smtp_host:
        return f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    return f"the outbox {outbox.outbox_dir(settings.data_dir)} (no PAPERFEED_SMTP_HOST)"


class Mailer:
    """Context manager: `with Mailer(settings) as m: m.send(msg)`; reconnects when dropped.

    `transactional=True` (sign-in links, confirmations) writes to the outbox when SMTP is not
    configured in any environment; bulk mail (the default) refuses in production."""

    def __init__(self, settings: Settings, *, transactional: bool = False) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        if not settings.smtp_host and not transactional and not settings.is_development:
            raise ConfigError(
                "mail: PAPERFEED_SMTP_HOST is unset; set it (and PAPERFEED_SMTP_PORT, "
                "PAPERFEED_MAIL_FROM) to send mail"
            )

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.http_timeout_seconds)
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            smtp.login(s.smtp_username, password)
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises smtplib exceptions (callers decide transient vs permanent)."""
        if "From" not in message:
            message["From"] = self.settings.mail_from
        if "Date" not in message:
            message["Date"] = formatdate(localtime=False, usegmt=True)
        if "Message-ID" not in message:
            message["Message-ID"] = make_msgid(domain=_domain(self.settings.mail_from))
        if not self.settings.smtp_host:
            self._to_outbox(message.as_bytes(policy=SMTP_POLICY))
            return
        self._deliver(lambda smtp: smtp.send_message(message))

    def send_bytes(self, sender: str, recipient: str, data: bytes) -> None:
        """Send a message already rendered to RFC 5322 bytes with CRLF line ends (bulk mail
        renders this way: building `EmailMessage` objects costs milliseconds each).

        Raises smtplib exceptions like `send`; `SMTPRecipientsRefused` carries the code.
        """
        if not self.settings.smtp_host:
            self._to_outbox(data)
            return
        self._deliver(lambda smtp: smtp.sendmail(sender, [recipient], data))

    def _to_outbox(self, data: bytes) -> Path:
        path = outbox.write_message(outbox.outbox_dir(self.settings.data_dir), data)
        msg = outbox.parse(data)
        links = outbox.message_links(msg)
        shown = " ".join(links[:LOGGED_LINKS])
        if len(links) > LOGGED_LINKS:
            shown += f" (+{len(links) - LOGGED_LINKS} more)"
        log.warning(
            "mail to %s (%s): no SMTP server configured, written to %s; links: %s",
            msg["To"], msg["Subject"], path, shown or "none",
        )
        return path

    def _deliver(self, action: Callable[[smtplib.SMTP], object]) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            action(self._smtp)
        except smtplib.SMTPServerDisconnected:
            # The server dropped an idle connection: reconnect once and retry.
            self._smtp = self._connect()
            action(self._smtp)

    def reset(self) -> None:
        """Drop the connection without QUIT (after a network error); the next send reconnects."""
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                pass
            except OSError:
                pass
            self._smtp = None


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].strip(" >") if "@" in address else "localhost"
