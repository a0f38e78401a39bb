"""Serving feeds: conditional GET (ETag / Last-Modified / 304), discovery links, private URLs.

Any page module that has a list can offer it as a feed in two calls:

    doc = FeedDoc(title=..., subtitle=..., page_path=..., self_path=..., entries=[...])
    return feed_response(request, doc, fmt)           # in the .atom / .rss route
    context["feeds"] = alternates(doc.self_path)      # on the HTML page: <link rel=alternate>

Private feeds (a member's upvotes, "for you", a saved search, a private collection) live at
`/feeds/private/{token}.{atom|rss}`. Another module registers what such a feed shows with
`register_private_feed(kind, provider)`; `private_feed_url(request, member, kind, arg)` gives
the member their URL (creating its token on first use). The token is `{row id}-{HMAC(secret,
row id + random nonce)}`: the URL can be shown again on the settings page, and revoking it
(deleting the row) makes it 404 for good, while the member's other feeds keep working.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from paperfeed.errors import NotFound
from paperfeed.models import Member
from paperfeed.storage import feed_tokens
from paperfeed.storage.db import write
from paperfeed.syndication import CONTENT_TYPES, FORMATS, FeedDoc, FeedFormat, render

# kind -> (label, provider(request, member, arg) -> FeedDoc)
PrivateProvider = Callable[[Request, Member, str], FeedDoc]
_PRIVATE: dict[str, tuple[str, PrivateProvider]] = {}
FEED_CACHE_SECONDS = 300  # a hint to readers and proxies; conditional GETs make polls cheap


def check_format(fmt: str) -> FeedFormat:
    if fmt not in FORMATS:
        raise NotFound(f"feeds: no {fmt[:10]!r} feed here; use .atom or .rss")
    return fmt  # type: ignore[return-value]


def alternates(self_path: str, title: str = "", query: str = "") -> list[dict[str, str]]:
    """What base.html turns into `<link rel="alternate">` tags (and the page's feed links)."""
    return [
        {"href": f"{self_path}.{fmt}{query}", "type": CONTENT_TYPES[fmt].split(";")[0],
         "title": f"{title} ({'Atom' if fmt == 'atom' else 'RSS'})".strip(), "format": fmt}
        for fmt in FORMATS
    ]


def feed_response(
    request: Request, doc: FeedDoc, fmt: FeedFormat, *, private: bool = False
) -> Response:
    """The rendered feed, or 304 when the reader's validators still match."""
    settings = request.app.state.settings
    body = render(doc, fmt, base_url=settings.base_url, site_name=settings.site_name)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    modified = doc.updated.replace(tzinfo=UTC, microsecond=0)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": f"{'private' if private else 'public'}, max-age={FEED_CACHE_SECONDS}",
        "Vary": "Accept-Encoding",
    }
    if private:
        headers["X-Robots-Tag"] = "noindex"
        headers["Referrer-Policy"] = "no-referrer"
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when present, else If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag in tags or "*" in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified <= since
    return False


# --- private feeds ----------------------------------------------------------------------------


def register_private_feed(kind: str, label: str, provider: PrivateProvider) -> None:
    """Make `/feeds/private/<token>` of `kind` answer with `provider(request, member, arg)`."""
    _PRIVATE[kind] = (label, provider)


def private_kinds() -> dict[str, str]:
    return {kind: label for kind, (label, _p) in _PRIVATE.items()}


def _mac(secret: str, token_id: int, nonce: str) -> str:
    msg = f"feed:{token_id}:{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


def token_for(request: Request, row: Any) -> str:
    secret = request.app.state.settings.secret()
    return f"{row['id']}-{_mac(secret, int(row['id']), row['nonce'])}"


def private_feed_url(
    request: Request, member: Member, kind: str, arg: str = "", fmt: FeedFormat = "atom"
) -> str:
    """The member's secret URL for a private feed (absolute), its token made on first use."""
    engine = request.app.state.engine
    with engine.connect() as conn:
        row = feed_tokens.get_for(conn, user_id=member.id, kind=kind, arg=arg)
    if row is None:
        with write(engine) as conn:
            row = feed_tokens.ensure(
                conn, user_id=member.id, kind=kind, arg=arg, now=_now(request)
            )
    return private_url(request, row, fmt)


def private_url(request: Request, row: Any, fmt: FeedFormat = "atom") -> str:
    base = request.app.state.settings.base_url.rstrip("/")
    return f"{base}/feeds/private/{token_for(request, row)}.{fmt}"


def resolve_token(request: Request, token: str) -> Any:
    """The feed_tokens row a private URL's token names, or NotFound (same answer for a bad,
    revoked or forged token, so URLs cannot be probed)."""
    gone = NotFound("feeds: this private feed URL is not valid (revoked or mistyped)")
    head, _, mac = token.partition("-")
    if not head.isdigit() or len(head) > 12 or not mac:
        raise gone
    with request.app.state.engine.connect() as conn:
        row = feed_tokens.get(conn, int(head))
    if row is None:
        raise gone
    expected = _mac(request.app.state.settings.secret(), int(row["id"]), row["nonce"])
    if not hmac.compare_digest(mac, expected):
        raise gone
    return row


def private_provider(kind: str) -> PrivateProvider:
    entry = _PRIVATE.get(kind)
    if entry is None:
        raise NotFound(f"feeds: no private feed of kind {kind[:32]!r} on this site")
    return entry[1]


def _now(request: Request) -> datetime:
    from paperfeed.web.deps import clock

    return clock(request)
