"""Signed links in digest mail: confirm (expiring), unsubscribe and preferences (long-lived).

Tokens are itsdangerous signatures over small JSON payloads with `settings.secret()`, one salt
per purpose, so a confirmation token cannot be replayed as an unsubscribe token. Unsubscribe
and preferences tokens do not expire: a link in a year-old message must still unsubscribe.
They bind the subscription id *and* its address, so a re-created row is not reachable by an
old link of a removed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.config import Settings
from paperfeed.digests.editions import Frequency, check_frequency
from paperfeed.errors import BadRequest

CONFIRM = "confirm"
MANAGE = "manage"


@dataclass(frozen=True, slots=True)
class ManageClaim:
    subscription_id: int
    email: str


class Links:
    """Makes and checks the signed links of one site (build once, reuse for many messages)."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.confirm_max_age = settings.subscribe_confirm_hours * 3600
        secret = settings.secret()
        self._confirm = URLSafeTimedSerializer(secret, salt="paperfeed.digests.confirm")
        self._manage = URLSafeTimedSerializer(secret, salt="paperfeed.digests.manage")

    # -- making -------------------------------------------------------------------------
    def confirm_token(self, email: str, frequency: str, since: str = "") -> str:
        """`since`: the subscription's state marker when the link was made (its last
        unsubscribe time, "" for none), so the link stops working once the state moves on."""
        return self._confirm.dumps({"e": email, "f": frequency, "u": since})

    def manage_token(self, subscription_id: int, email: str) -> str:
        return self._manage.dumps({"s": subscription_id, "e": email})

    def confirm_url(self, email: str, frequency: str, since: str = "") -> str:
        token = self.confirm_token(email, frequency, since)
        return f"{self.base_url}/subscribe/confirm?token={quote(token)}"

    def unsubscribe_url(self, subscription_id: int, email: str, *, token: str | None = None) -> str:
        token = token or self.manage_token(subscription_id, email)
        return f"{self.base_url}/unsubscribe?token={quote(token)}"

    def preferences_url(self, subscription_id: int, email: str, *, token: str | None = None) -> str:
        token = token or self.manage_token(subscription_id, email)
        return f"{self.base_url}/subscribe/preferences?token={quote(token)}"

    # -- checking -----------------------------------------------------------------------
    def read_confirm(self, token: str) -> tuple[str, Frequency]:
        email, frequency, _since = self.read_confirm_claim(token)
        return email, frequency

    def read_confirm_claim(self, token: str) -> tuple[str, Frequency, str]:
        """(email, frequency, state marker) of a confirmation link."""
        try:
            data = self._confirm.loads(token or "", max_age=self.confirm_max_age)
        except SignatureExpired as exc:
            raise BadRequest(
                "subscribe: this confirmation link has expired; subscribe again to get a new one"
            ) from exc
        except BadSignature as exc:
            raise BadRequest(
                "subscribe: this confirmation link is not valid; copy the whole link from the "
                "email or subscribe again"
            ) from exc
        try:
            return str(data["e"]), check_frequency(str(data["f"])), str(data.get("u") or "")
        except (KeyError, TypeError, AttributeError) as exc:
            raise BadRequest("subscribe: this confirmation link is not valid") from exc

    def read_manage(self, token: str) -> ManageClaim:
        try:
            data = self._manage.loads(token or "")
            return ManageClaim(int(data["s"]), str(data["e"]))
        except (BadSignature, KeyError, TypeError, ValueError) as exc:
            raise BadRequest(
                "subscriptions: this link is not valid; use the link from the latest digest email"
            ) from exc
