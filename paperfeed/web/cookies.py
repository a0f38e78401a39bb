"""The site's cookies: `__Host-` names and `Secure` over https, plain names over http.

Over https (the request's scheme, from a trusted proxy's `X-Forwarded-Proto` when there is
one, or an https `PAPERFEED_BASE_URL`) cookies are named `__Host-pf_session` /
`__Host-pf_csrf` and set `Secure; Path=/` without a Domain, so browsers refuse them from any
other host or from plain http (no cookie tossing from a sibling subdomain or a network
attacker). Over plain http -- the quick start on http://127.0.0.1:8000 -- browsers would drop
a `__Host-` or `Secure` cookie, so the plain names are used and only those are read: a cookie
set over http is never accepted over https.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

HOST_PREFIX = "__Host-"


def is_secure(request: HTTPConnection) -> bool:
    if request.url.scheme in ("https", "wss"):
        return True
    settings = request.app.state.settings
    return str(settings.base_url).lower().startswith("https://")


def cookie_name(request: HTTPConnection, base: str) -> str:
    return HOST_PREFIX + base if is_secure(request) else base


def read(request: HTTPConnection, base: str) -> str | None:
    return request.cookies.get(cookie_name(request, base))


def header(request: HTTPConnection, base: str, value: str, *, max_age: int | None = None) -> str:
    """A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https."""
    parts = [f"{cookie_name(request, base)}={value}", "Path=/", "HttpOnly", "SameSite=lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if is_secure(request):
        parts.append("Secure")
    return "; ".join(parts)


def set_on(response: Response, request: HTTPConnection, base: str, value: str, *,
           max_age: int | None = None) -> None:
    response.headers.append("set-cookie", header(request, base, value, max_age=max_age))


def delete_on(response: Response, request: HTTPConnection, base: str) -> None:
    response.headers.append("set-cookie", header(request, base, "", max_age=0))
