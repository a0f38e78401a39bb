"""The site's public URL when PAPERFEED_BASE_URL is unset: the address `serve` listens on.

Links in mail (sign-in, confirm, digests) and `<link rel=canonical>` need an absolute URL.
Left unset, it is derived from `serve --host/--port`, so a server started on another port
mails links to that port. The URL is also recorded in the data directory (`serve.json`), so
CLI commands run beside it (`paperfeed digest send` in the demo) build the same links.

Never derived from a request's Host header: an attacker could make a sign-in link point at
their own site.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORD = "serve.json"
# Binding every interface says nothing about the name people reach the machine by; links
# use loopback (right on this machine) and `serve` asks for PAPERFEED_BASE_URL.
WILDCARDS = {"", "0.0.0.0", "::", "[::]", "*"}


def listen_url(host: str, port: int) -> str:
    """`http://HOST:PORT` for a listening address: IPv6 literals in brackets, wildcard
    addresses as loopback, no `:80`."""
    name = host.strip()
    if name in WILDCARDS:
        name = "[::1]" if ":" in name else "127.0.0.1"
    elif ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}" if port == 80 else f"http://{name}:{port}"


def is_wildcard(host: str) -> bool:
    return host.strip() in WILDCARDS


def record(data_dir: Path, url: str) -> None:
    """Remember the URL `serve` runs on (atomic write; best effort: a read-only data
    directory only loses the convenience)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{RECORD}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"base_url": url, "pid": os.getpid()}), encoding="utf-8")
        os.replace(tmp, data_dir / RECORD)
    except OSError:
        pass


def recorded(data_dir: Path) -> str | None:
    """The URL the last `serve` on this data directory ran on, if any."""
    try:
        value = json.loads((data_dir / RECORD).read_text(encoding="utf-8")).get("base_url")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None
