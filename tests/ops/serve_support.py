"""Helpers for tests that run `paperfeed serve` as a user does (a real subprocess) and a
loopback stand-in for Hugging Face whose answer the test releases when it wants."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import FIXTURES, REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PAPERFEED_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    env["PAPERFEED_ENVIRONMENT"] = "development"
    env.update(extra)
    return env


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, *, times: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < times:
            assert time.monotonic() < deadline, f"no {needle!r} x{times} in:\n{self.text()}"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def start_serve(tmp: Path, env: dict[str, str], *args: str, name: str = "serve") -> Served:
    port = free_port()
    log = tmp / f"{name}.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), *args],
            cwd=tmp, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(served.url + "/healthz", timeout=5).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"serve did not start:\n{served.text()}")
        time.sleep(0.1)


@contextmanager
def running(tmp: Path, env: dict[str, str], *args: str, name: str = "serve") -> Iterator[Served]:
    served = start_serve(tmp, env, *args, name=name)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.proc.send_signal(signal.SIGTERM)
            try:
                served.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                served.proc.kill()
                served.proc.wait()


@dataclass
class HfStandIn:
    """Answers `/api/daily_papers?date=D` with a recorded response once `release` is set."""

    url: str
    release: threading.Event
    asked: threading.Event
    requests: list[str] = field(default_factory=list)


@contextmanager
def hf_stand_in(*, held: bool) -> Iterator[HfStandIn]:
    body = (FIXTURES / "hf" / "2025-06-16.json").read_bytes()
    release, asked = threading.Event(), threading.Event()
    if not held:
        release.set()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            asked.set()
            release.wait(120)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the server stopped waiting (shut down): nothing to answer
                pass

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HfStandIn(f"http://127.0.0.1:{server.server_address[1]}", release, asked, seen)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
