"""The outbox: outgoing mail kept as `.eml` files when no SMTP server is configured.

Without `PAPERFEED_SMTP_HOST` a fresh install still has to deliver sign-in links and
subscription confirmations to somebody, and the person running it is the only one who can read
them. So every message is written, whole and as the wire bytes SMTP would have carried, to
`$PAPERFEED_DATA_DIR/outbox/` (one file per message, named so that names sort by time) and its
links are logged at WARNING by the process that sent it. `paperfeed outbox` reads them back.

Files are written atomically (a temporary name, then a rename), so a reader never sees half a
message, and are private to the owner (they hold sign-in links).
"""

from __future__ import annotations

import email
import email.policy
import html
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

OUTBOX_DIR = "outbox"
SUFFIX = ".eml"
_URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")
_HREF_RE = re.compile(r"""href=["'](https?://[^"']+)["']""", re.IGNORECASE)


def outbox_dir(data_dir: Path) -> Path:
    return data_dir / OUTBOX_DIR


def write_message(directory: Path, data: bytes, *, now: datetime | None = None) -> Path:
    """Store one message (RFC 5322 bytes) as a new file; returns its path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%f")
    final = directory / f"{stamp}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    tmp = directory / f".{final.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


@dataclass(frozen=True, slots=True)
class StoredMail:
    """One message of the outbox, parsed for display."""

    path: Path
    to: str
    subject: str
    date: datetime | None
    text: str
    links: tuple[str, ...]


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body_text(msg: EmailMessage) -> str:
    """The plain-text body (or the HTML one when there is no plain part), decoded."""
    part = msg.get_body(("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    return content if isinstance(content, str) else ""


def message_links(msg: EmailMessage) -> tuple[str, ...]:
    """The http(s) links of a message in order of appearance, each once: those of the plain
    text when it has any, else the HTML's hrefs."""
    found: list[str] = []
    plain = msg.get_body(("plain",))
    if plain is not None:
        found = _URL_RE.findall(plain.get_content())
    if not found:
        rich = msg.get_body(("html",))
        if rich is not None:
            found = [html.unescape(u) for u in _HREF_RE.findall(rich.get_content())]
    return tuple(dict.fromkeys(u.rstrip(".,;") for u in found))


def read_message(path: Path) -> StoredMail:
    msg = parse(path.read_bytes())
    try:
        when = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    except (TypeError, ValueError):
        when = None
    if when is not None and when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return StoredMail(
        path=path,
        to=str(msg["To"] or ""),
        subject=str(msg["Subject"] or ""),
        date=when,
        text=body_text(msg),
        links=message_links(msg),
    )


def list_messages(directory: Path) -> list[Path]:
    """Message files, oldest first (their names start with the time they were written)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if p.is_file())


def latest(directory: Path, *, last: int, to: str | None = None) -> list[StoredMail]:
    """The `last` newest messages (to an address containing `to`, case-insensitive), oldest
    first. Reads files newest first and stops once it has enough."""
    wanted = to.strip().lower() if to else None
    picked: list[StoredMail] = []
    for path in reversed(list_messages(directory)):
        if len(picked) >= last:
            break
        try:
            mail = read_message(path)
        except OSError:  # removed meanwhile (outbox --clear in another shell)
            continue
        if wanted and wanted not in mail.to.lower():
            continue
        picked.append(mail)
    return picked[::-1]


def clear(directory: Path) -> int:
    """Delete every message; returns how many."""
    removed = 0
    for path in list_messages(directory):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
