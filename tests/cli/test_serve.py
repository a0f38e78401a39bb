"""`paperfeed serve` as a user runs it (a real subprocess): the refusals are one clear line,
and `serve --demo` on an empty data directory answers with the bundled corpus."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperfeed import outbox
from paperfeed.baseurl import listen_url
from paperfeed.config import Settings
from paperfeed.storage.db import connect
from tests.conftest import REPO_ROOT


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PAPERFEED_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def _start_serve(
    tmp_path: Path, env: dict[str, str], port: int, *, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    """`paperfeed serve` as an operator starts it, its output in tmp_path/serve.log."""
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port),
             "--workers", str(workers)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def _first_answer(
    proc: subprocess.Popen[bytes], url: str, tmp_path: Path, deadline: float
) -> httpx.Response:
    """The first answer of `url` once the server listens; fails with its log if it exits or
    `deadline` (time.monotonic()) passes first."""
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "serve.log").read_text())
            time.sleep(0.1)


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
    engine = connect(settings)
    engine.connect().close()  # an empty database file: schema not created
    engine.dispose()
    result = _run(
        tmp_path, "serve", "--port", str(_free_port()), PAPERFEED_SECRET_KEY="x" * 40
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "paperfeed migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where, says", [
    ("busy", "is already in use"),
    ("--port=99999", "--port"),
    ("--port=-1", "--port"),
    ("--host=256.1.1.1", "256.1.1.1"),
])
def test_serve_on_an_address_it_cannot_listen_on_says_so_in_one_line_before_any_work(
    tmp_path: Path, where: str, says: str
) -> None:
    """A port in use, out of range or a host that is not an address: one line naming it (not
    'a bug in paperfeed: OverflowError', nor uvicorn's log after the demo was loaded)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        args = ["--port", busy] if where == "busy" else [where] + (
            ["--port", str(_free_port())] if where.startswith("--host") else [])
        result = _run(tmp_path, "serve", *args, PAPERFEED_SECRET_KEY="x" * 40)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
    assert "a bug in paperfeed" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln.lower()]
    assert errors and (busy if where == "busy" else says) in result.stderr, result.stderr
    assert "paperfeed on http" not in result.stdout  # refused before announcing itself


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


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("localhost", 8123, "http://localhost:8123"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("[::1]", 9000, "http://[::1]:9000"),
        ("fe80::1", 8000, "http://[fe80::1]:8000"),
        ("papers.example.org", 80, "http://papers.example.org"),
    ],
)
def test_listen_url_is_a_url_a_browser_opens(host: str, port: int, url: str) -> None:
    assert listen_url(host, port) == url


def test_serve_in_production_without_base_url_warns_and_mails_links_to_its_port(
    tmp_path: Path,
) -> None:
    """No PAPERFEED_BASE_URL, no SMTP, production: serve warns, and the sign-in link it writes
    to the outbox (the operator's way in before mail is set up) points at the port it runs on.
    On e641f96 the link said :8000 and no mail could be sent at all."""
    data = tmp_path / "data"
    assert _run(tmp_path, "migrate").returncode == 0
    port = _free_port()
    env = _env(tmp_path, PAPERFEED_SECRET_KEY="s" * 40)
    proc, url = _start_serve(tmp_path, env, port, workers=1)
    try:
        deadline = time.monotonic() + 60
        page = _first_answer(proc, url + "/signin", tmp_path, deadline)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        httpx.post(url + "/signin", data={"email": "op@example.org", "csrf_token": token},
                   cookies=page.cookies)
        box = outbox.outbox_dir(data)
        while not outbox.list_messages(box):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
        [mail] = outbox.latest(box, last=2)
        assert mail.links[0].startswith(f"{url}/signin/link?token=")
        # Forwarded headers from loopback are not believed unless PAPERFEED_TRUSTED_PROXIES
        # says so (uvicorn's default would): the per-IP limit sees one client, not three.
        for i in range(3):
            r = httpx.post(url + "/api/subscriptions", json={"email": f"r{i}@example.org"},
                           headers={"x-forwarded-for": f"10.9.9.{i}"})
            assert r.status_code == 202
        from sqlalchemy import select

        from paperfeed.storage.schema import rate_limits

        with connect(Settings(data_dir=data)).connect() as conn:
            keys = conn.execute(select(rate_limits.c.key, rate_limits.c.count)
                                .where(rate_limits.c.key.like("subscribe:ip:%"))).all()
        assert [tuple(k) for k in keys] == [("subscribe:ip:127.0.0.1", 3)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    log_text = (tmp_path / "serve.log").read_text()
    assert f"warning: PAPERFEED_BASE_URL is unset; links in mail and canonical links use {url}" in log_text


@pytest.mark.postgres
def test_serve_on_postgresql_answers_pages_api_search_and_stops(
    tmp_path: Path, pg_settings: Settings
) -> None:
    """`paperfeed serve` itself on PostgreSQL (two forked workers, as deployed): list page,
    paper page, HF API, search page and API, a sign-in form post, then a clean stop."""
    from datetime import date

    from paperfeed.storage.db import migrate
    from tests.feed_factories import feature, paper

    engine = connect(pg_settings)
    migrate(engine)
    feature(engine, [paper("2608.00001", title="Gaussian splatting of <cats> & dogs",
                           upvotes=7)], date(2026, 8, 20))
    engine.dispose()
    port = _free_port()
    env = _env(tmp_path, PAPERFEED_SECRET_KEY="s" * 40, PAPERFEED_ENVIRONMENT="development",
               PAPERFEED_DATABASE_URL=pg_settings.database_url or "")
    proc, url = _start_serve(tmp_path, env, port, workers=2)
    try:
        ready = _first_answer(proc, url + "/readyz", tmp_path, time.monotonic() + 90)
        assert ready.status_code == 200, ready.text
        day = httpx.get(url + "/papers/date/2026-08-20")
        assert day.status_code == 200 and "Gaussian splatting of &lt;cats&gt; &amp; dogs" in day.text
        assert httpx.get(url + "/papers/2608.00001").status_code == 200
        [entry] = httpx.get(url + "/api/daily_papers", params={"date": "2026-08-20"}).json()
        assert entry["paper"]["upvotes"] == 7 and entry["title"].startswith("Gaussian")
        found = httpx.get(url + "/api/papers/search", params={"q": 'splatting "dogs"'}).json()
        assert [f["paper"]["id"] for f in found] == ["2608.00001"]
        assert httpx.get(url + "/search", params={"q": "a & b | !c <-> :*"}).status_code == 200
        page = httpx.get(url + "/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        sent = httpx.post(url + "/signin", data={"email": "op@example.org", "csrf_token": token},
                          cookies=page.cookies)
        assert sent.status_code == 303
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
