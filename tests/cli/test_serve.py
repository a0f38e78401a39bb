"""`paperfeed serve` as a user runs it (a real subprocess): the refusals are one clear line,
and `serve --demo` on an empty data directory answers with the bundled corpus."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.storage.db import connect
from tests.conftest import REPO_ROOT


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PAPERFEED_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        cwd=tmp_path,  # no stray .env file
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_refuses_missing_secret_outside_demo_with_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", "--port", str(_free_port()))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: config: PAPERFEED_SECRET_KEY")


def test_serve_refuses_out_of_date_schema_and_names_the_migrate_command(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    connect(settings).dispose()  # an empty database file: schema not created
    result = _run(
        tmp_path, "serve", "--port", str(_free_port()), PAPERFEED_SECRET_KEY="x" * 40
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "paperfeed migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_demo_on_an_empty_data_dir_answers_with_the_bundled_corpus(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--demo", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/daily_papers", timeout=5)
                body = r.json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body is not None, f"serve --demo did not answer within 60 s (exit {proc.poll()})"
        assert len(body) > 0
        assert body[0]["paper"]["submittedOnDailyAt"].startswith("2026-08-21")
        assert (tmp_path / "data" / "paperfeed.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "demo corpus: 2926 new" in out


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["init", "--help"]])
def test_cli_help_works(tmp_path: Path, args: list[str]) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 0 and "Usage" in result.stdout


def test_init_demo_twice_loads_the_corpus_once(tmp_path: Path) -> None:
    first = _run(tmp_path, "init", "--demo")
    assert first.returncode == 0, first.stderr
    assert "demo corpus: 2926 new" in first.stdout
    second = _run(tmp_path, "init", "--demo")
    assert second.returncode == 0, second.stderr
    assert "demo corpus: 0 new, 0 updated, 2926 unchanged" in second.stdout
