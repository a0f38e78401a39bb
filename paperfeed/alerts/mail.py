"""Alert mail: what a member's message (or digest section) lists, and how it is rendered.

`sections()` groups the matches an edition carries by saved search (pure). `AlertRenderer`
renders the alert email with the digest's mail layout and paper block (Jinja2, escaped HTML
plus a plain-text part), a Message-ID stable per (member, edition) and RFC 8058 one-click
unsubscribe headers whose signed link turns the member's alert emails of that frequency off
(the searches stay, with their pages and feeds).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from paperfeed.config import Settings
from paperfeed.digests.compose import DigestPaper, author_line, shorten
from paperfeed.digests.render import (
    TEMPLATES as DIGEST_TEMPLATES,
)
from paperfeed.digests.render import (
    OutgoingMail,
    Renderer,
    assemble,
    encode_header,
    mail_domain,
)
from paperfeed.errors import BadRequest
from paperfeed.storage.alerts import MatchRow, SearchRow
from paperfeed.texmath import plain_text

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class AlertSection:
    """One saved search's new papers in a message."""

    search_id: int
    name: str
    query: str
    url: str  # the search's page
    papers: tuple[DigestPaper, ...]
    more: int  # matches not listed (beyond the per-search limit)


def _paper(match: MatchRow, base_url: str) -> DigestPaper:
    return DigestPaper(
        id=match.paper_id,
        title=" ".join(plain_text(match.title).split()),
        authors=author_line(match.authors),
        abstract=shorten(plain_text(match.abstract)),
        upvotes=match.upvotes,
        url=f"{base_url.rstrip('/')}/papers/{match.paper_id}",
    )


def sections(
    pairs: Sequence[tuple[SearchRow, MatchRow]], *, base_url: str, max_papers: int
) -> tuple[AlertSection, ...]:
    """Matches grouped by search (in the order given: best first within a search), at most
    `max_papers` listed per search."""
    grouped: dict[int, tuple[SearchRow, list[MatchRow]]] = {}
    for search, match in pairs:
        grouped.setdefault(search.id, (search, []))[1].append(match)
    base = base_url.rstrip("/")
    out = []
    for search, matches in grouped.values():
        query = search.query
        if search.like_paper_id:
            query = f"like {search.like_paper_id}" + (f" {query}" if query else "")
        out.append(
            AlertSection(
                search_id=search.id,
                name=search.name,
                query=query,
                url=f"{base}/alerts/{search.id}",
                papers=tuple(_paper(m, base) for m in matches[:max_papers]),
                more=max(0, len(matches) - max_papers),
            )
        )
    return tuple(out)


def subject(site_name: str, found: Sequence[AlertSection]) -> str:
    n = sum(len(s.papers) + s.more for s in found)
    names = ", ".join(s.name for s in found[:3]) + (" …" if len(found) > 3 else "")
    return f"{n} new paper{'s' if n != 1 else ''} for your saved searches: {shorten(names, 80)}"


class AlertLinks:
    """Signed links in alert mail: turn the member's alert emails of one frequency off."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self._s = URLSafeSerializer(settings.secret(), salt="paperfeed.alerts.unsubscribe")

    def token(self, user_id: int, email: str, frequency: str) -> str:
        return self._s.dumps({"u": user_id, "e": email, "f": frequency})

    def unsubscribe_url(self, user_id: int, email: str, frequency: str) -> str:
        token = self.token(user_id, email, frequency)
        return f"{self.base_url}/alerts/unsubscribe?token={quote(token)}"

    def read(self, token: str) -> tuple[int, str, str]:
        try:
            data = self._s.loads(token or "")
            return int(data["u"]), str(data["e"]), str(data["f"])
        except (BadSignature, KeyError, TypeError, ValueError) as exc:
            raise BadRequest(
                "alerts: this link is not valid; use the link from the latest alert email, or "
                "change your alerts on /alerts"
            ) from exc


def alert_message_id(settings: Settings, user_id: int, edition: str) -> str:
    """`<alerts.EDITION.UID.MAC@domain>`: the same for every attempt at one delivery."""
    mac = hmac.new(
        settings.secret().encode(), f"alerts:{edition}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()[:16]
    return f"<alerts.{edition}.{user_id}.{mac}@{mail_domain(settings)}>"


class AlertRenderer:
    """Renders alert emails (build once per run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links = AlertLinks(settings)
        self.env = Environment(
            loader=ChoiceLoader(
                [FileSystemLoader(str(TEMPLATES)), FileSystemLoader(str(DIGEST_TEMPLATES))]
            ),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._digest = Renderer(settings)
        self.sender = self._digest.sender
        self._list_id = f"List-Id: {settings.site_name} alerts <alerts.{mail_domain(settings)}>"

    def mail(
        self,
        *,
        user_id: int,
        email: str,
        name: str,
        frequency: str,
        edition: str,
        found: Sequence[AlertSection],
        now: datetime,
    ) -> OutgoingMail:
        unsubscribe = self.links.unsubscribe_url(user_id, email, frequency)
        ctx = {
            "site_name": self.settings.site_name,
            "base_url": self.settings.base_url.rstrip("/"),
            "sections": found,
            "name": name,
            "email": email,
            "frequency": frequency,
            "unsubscribe_url": unsubscribe,
            "manage_url": f"{self.settings.base_url.rstrip('/')}/alerts",
            "subject": subject(self.settings.site_name, found),
        }
        html = self.env.get_template("alert.html").render(ctx)
        text = self.env.get_template("alert.txt").render(ctx)
        mid = alert_message_id(self.settings, user_id, edition)
        headers = [
            *self._digest._common(email, now),
            encode_header("Subject", ctx["subject"]),  # type: ignore[arg-type]
            f"Message-ID: {mid}",
            self._list_id,
            *self._digest._unsubscribe_headers(unsubscribe),
            "Precedence: bulk",
        ]
        return OutgoingMail(self.sender, email, assemble(headers, text, html), mid)
