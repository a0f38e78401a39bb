"""Helpers for member tests: a real SMTP server on loopback (aiosmtpd), a loopback HTTP server
replaying recorded arXiv responses, papers and members in a real database, and signing in
through the real pages (form + CSRF + the emailed link)."""

from __future__ import annotations

import email
import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts import profile
from paperfeed.models import Author, Member, Paper
from paperfeed.storage import users
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r"(https?://\S+/signin/link\?token=\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler: keeps every received message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address.lower()]

    def last_link(self, address: str, timeout: float = 10.0) -> str:
        """The sign-in link of the newest email to `address` (waits: a live server sends it
        after answering)."""
        deadline = time.monotonic() + timeout
        found = self.to(address)
        while not found and time.monotonic() < deadline:
            time.sleep(0.02)
            found = self.to(address)
        assert found, f"no email to {address}"
        body = found[-1].get_payload(decode=True).decode()  # type: ignore[union-attr]
        m = LINK_RE.search(body)
        assert m, body
        return m.group(1)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class ReplayHandler(BaseHTTPRequestHandler):
    """Answers every GET with one recorded file (a stand-in for export.arxiv.org)."""

    body = b""
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def replay_server(path: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Replay", (ReplayHandler,), {"body": path.read_bytes(), "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/query"


def add_paper(
    engine: Engine, pid: str, *, published_at: datetime, title: str | None = None,
    categories: list[str] | None = None, now: datetime | None = None,
) -> None:
    paper = Paper(
        id=pid, title=title or f"Paper {pid}", abstract="An abstract.",
        authors=[Author("Ada Lovelace")], categories=categories or ["cs.CL"],
        published_at=published_at, source="test",
    )
    with write(engine) as conn:
        upsert_papers(conn, [paper], now=now or published_at)


def add_member(
    engine: Engine, email_address: str, *, role: str = "member", username: str | None = None,
    now: datetime | None = None,
) -> Member:
    with write(engine) as conn:
        return users.create_user(
            conn, email=email_address, now=now or datetime(2025, 1, 1), role=role,
            username=username,
        )


def token_for(engine: Engine, member: Member, now: datetime | None = None) -> str:
    return profile.create_api_token(engine, member, name="test", now=now or datetime(2025, 1, 1))


def csrf(client: TestClient, path: str = "/signin") -> str:
    page = client.get(path)
    m = CSRF_RE.search(page.text)
    assert m, f"no CSRF field on {path}: {page.status_code}"
    return m.group(1)


def request_link(client: TestClient, address: str) -> None:
    r = client.post("/signin", data={"email": address, "csrf_token": csrf(client)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/signin?sent=1"


def follow_link(client: TestClient, link: str) -> Any:
    """Open the emailed link and press its button, as a person would."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    if page.status_code == 400:  # an invalid, used or expired link says so at once
        return page
    assert page.status_code == 200
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    m = CSRF_RE.search(page.text)
    assert m
    nxt = re.search(r'name="next" value="([^"]*)"', page.text)
    data = {"token": token.group(1), "csrf_token": m.group(1),
            "next": html.unescape(nxt.group(1)) if nxt else "/"}
    return client.post("/signin/link", data=data, follow_redirects=False)


def sign_in(client: TestClient, inbox: Inbox, address: str) -> None:
    request_link(client, address)
    r = follow_link(client, inbox.last_link(address))
    assert r.status_code == 303, r.text
