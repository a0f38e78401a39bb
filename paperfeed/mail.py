"""Outgoing mail over SMTP, shared by sign-in links and digests.

One `Mailer` holds one SMTP connection for many messages (digests send thousands). With no
SMTP host configured in development, messages are written to the log instead.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType

from paperfeed.config import Settings
from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)


class Mailer:
    """Context manager: `with Mailer(settings) as m: m.send(msg)`; reconnects when dropped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        if not settings.smtp_host and not settings.is_development:
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
        if not self.settings.smtp_host:
            log.info("mail (no SMTP configured, development): %s", message.as_string())
            return
        self._deliver(lambda smtp: smtp.send_message(message))

    def send_bytes(self, sender: str, recipient: str, data: bytes) -> None:
        """Send a message already rendered to RFC 5322 bytes with CRLF line ends (bulk mail
        renders this way: building `EmailMessage` objects costs milliseconds each).

        Raises smtplib exceptions like `send`; `SMTPRecipientsRefused` carries the code.
        """
        if not self.settings.smtp_host:
            log.info(
                "mail (no SMTP configured, development) to %s:\n%s",
                recipient,
                data.decode("utf-8", "replace"),
            )
            return
        self._deliver(lambda smtp: smtp.sendmail(sender, [recipient], data))

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
