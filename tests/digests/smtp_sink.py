"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts.

Scripted replies: `refuse[address]` is a list of replies given to RCPT TO for that address
before it is accepted ("451 ..." transient, "550 ..." permanent); `always_refuse` answers
every RCPT for an address with a fixed reply; `on_accept(n)` runs after the n-th message is
stored and before the 250 reply is sent (used to kill a sender inside the window).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    rcpt: list[str]
    data: bytes

    def parse(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Sink:
    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    always_refuse: dict[str, str] = field(default_factory=dict)
    on_accept: Callable[[int], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if address in self.always_refuse:
                return self.always_refuse[address]
            queue = self.refuse.get(address)
            if queue:
                return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(Received(list(envelope.rcpt_tos), bytes(envelope.content)))
            n = len(self.messages)
        if self.on_accept is not None:
            self.on_accept(n)
        return "250 2.0.0 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


class SinkServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SinkServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
