"""Security headers on every response: no MIME sniffing, no framing, a strict CSP.

The Content-Security-Policy allows only this site's own files: pages load `/static/*.css` and
`/static/*.js` and carry no inline script or style, so `'self'` is enough and an injected
`<script>` or `style=` attribute would not run. A route that needs more sets its own
`Content-Security-Policy` header, which this middleware then leaves alone (the digest preview,
an email's HTML with inline styles and no script). New static assets (KaTeX's CSS, fonts and
scripts, say) fit the policy when served from `/static`; anything from another origin must be
added here, with the reason, and to docs/members.md ("Security headers").
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# For a route showing an email's HTML (inline styles by necessity; still no scripts).
EMAIL_PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; "
                     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                for key, value in HEADERS:
                    if key not in present:
                        headers.append((key, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
