"""Forwarded headers, trusted only from the proxies an admin names (`PAPERFEED_TRUSTED_PROXIES`).

Per-IP rate limits and the cookies' `Secure` flag depend on who the client is and which scheme
it used. Behind a reverse proxy the socket peer is the proxy, so the real client and scheme come
from `X-Forwarded-For` and `X-Forwarded-Proto` -- but only when the peer is a configured proxy:
anyone else could write those headers to rotate past the limits. `X-Forwarded-For` is read from
the right, skipping trusted hops; the first address that is not a trusted proxy is the client.
A hop that is not an IP address stops the walk (the last trusted hop is then the client), so
arbitrary header text never becomes a rate-limit key. uvicorn's own proxy-header handling
(which trusts 127.0.0.1 by default) is turned off by `paperfeed serve`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """`["127.0.0.1", "10.0.0.0/8"]` -> networks; ValueError names a bad entry."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {value!r}") from exc
    return out


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxyMiddleware:
    """Rewrites `scope["client"]` and `scope["scheme"]` from forwarded headers sent by a
    trusted proxy; leaves every other request as the socket saw it."""

    def __init__(self, app: ASGIApp, *, trusted: list[Network]) -> None:
        self.app = app
        self.trusted = trusted

    def is_trusted(self, host: str | None) -> bool:
        ip = _ip(host) if host else None
        return ip is not None and any(ip in net for net in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            client = scope.get("client")
            if client and self.is_trusted(client[0]):
                self._rewrite(scope, client)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope, client: tuple[str, int]) -> None:
        headers: dict[str, str] = {}
        for key, value in scope.get("headers", []):
            name = key.decode("latin-1").lower()
            if name in ("x-forwarded-for", "x-forwarded-proto"):
                text = value.decode("latin-1")
                headers[name] = f"{headers[name]},{text}" if name in headers else text
        proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws",
                                                                     "https": "wss"}[proto]
        hops = [h for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        host = client[0]
        for hop in reversed(hops):
            ip = _ip(hop)
            if ip is None:
                break
            host = str(ip)
            if not any(ip in net for net in self.trusted):
                break
        scope["client"] = (host, client[1] if host == client[0] else 0)
