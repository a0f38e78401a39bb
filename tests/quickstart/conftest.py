"""The README's quick start as a newcomer takes it: `paperfeed serve --demo` as a subprocess
(default workers, no SMTP, no base URL, no PAPERFEED_* variables at all), and `paperfeed`
commands run beside it the same way.

One demo server per test session (per xdist worker): it loads the bundled corpus once and every
quick-start test shares it. HOME and XDG_DATA_HOME point into a temporary directory, so "the
default data directory" and "the demo data directory" are the ones a newcomer would get, and
nothing touches the real home directory.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from paperfeed import outbox
from paperfeed.outbox import StoredMail
from tests.conftest import REPO_ROOT

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def newcomer_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a newcomer's shell: no PAPERFEED_* variable, a home of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HOME=str(root / "home"),
        XDG_DATA_HOME=str(root / "home" / ".local" / "share"),
    )
    env.update(extra)
    return env


@dataclass
class DemoServer:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "home" / ".local" / "share" / "paperfeed-demo"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def log_line(self, text: str, timeout: float = 15.0) -> str:
        """The first log line containing `text` (a worker logs right after writing a mail,
        so wait for it)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.log().splitlines() if text in line]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the server log:\n{self.log()}")
            time.sleep(0.05)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`paperfeed ARGS` in the newcomer's shell (same environment as the server)."""
        result = subprocess.run(
            [sys.executable, "-m", "paperfeed", *args], cwd=self.root, env=self.env,
            capture_output=True, text=True, timeout=120,
        )
        if check:
            assert result.returncode == 0, f"paperfeed {' '.join(args)}: {result.stderr}"
        return result

    def mail_to(self, address: str, *, after: int = 0, timeout: float = 15.0) -> StoredMail:
        """The first outbox message to `address` among those after the first `after` files
        (the server writes it after answering, so wait for it)."""
        directory = outbox.outbox_dir(self.data_dir)
        deadline = time.monotonic() + timeout
        while True:
            for path in outbox.list_messages(directory)[after:]:
                mail = outbox.read_message(path)
                if mail.to == address:
                    return mail
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address} in {directory}:\n{self.log()}")
            time.sleep(0.05)

    def outbox_size(self) -> int:
        return len(outbox.list_messages(outbox.outbox_dir(self.data_dir)))


def csrf_token(client: httpx.Client, path: str = "/") -> str:
    m = CSRF_RE.search(client.get(path).text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    root = tmp_path_factory.mktemp("newcomer")
    (root / "home").mkdir()
    port = free_port()
    env = newcomer_env(root)
    log_path = root / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--demo", "--port", str(port)],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = DemoServer(root=root, port=port, proc=proc, log_path=log_path, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(server.url + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"serve --demo exited:\n{server.log()}"
            assert time.monotonic() < deadline, f"serve --demo not up in 120 s:\n{server.log()}"
            time.sleep(0.1)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
