"""`paperfeed serve --workers 2` (forked workers): once they are forked, the supervisor
re-executes itself lean and adopts them (web/shed.py). It must still do a supervisor's whole
job: both workers answer, a killed worker is replaced, SIGTERM stops everything cleanly (exit
0, metric files removed) — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.web import shed
from tests.ops.serve_support import running, serve_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a migrated instance on either engine."""
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(data_dir=data)
    extra: dict[str, str] = {}
    if request.param == "postgres":
        pg: Settings = request.getfixturevalue("pg_settings")
        settings = Settings(data_dir=data, database_url=pg.database_url)
        extra["PAPERFEED_DATABASE_URL"] = str(pg.database_url)
    engine = connect(settings)
    migrate(engine)
    engine.dispose()
    tmp = tmp_path / "tmp"  # serve's metric-file directory is made here
    tmp.mkdir()
    yield serve_env(data, TMPDIR=str(tmp), PAPERFEED_METRICS_ENABLED="1", **extra)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += [int(c) for c in (task / "children").read_text().split()]
    return sorted(out)


def _workers(pid: int) -> list[int]:
    """Children that serve (a spawned worker brings multiprocessing's resource tracker)."""
    return [c for c in _children(pid)
            if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _anon_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no Anonymous line for {pid}")


def _wait(what: str, ok: object, log: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}:\n{log()}"  # type: ignore[operator]
        time.sleep(0.1)


def test_lean_supervisor_answers_replaces_a_killed_worker_and_stops_cleanly(
    instance: dict[str, str], tmp_path: Path
) -> None:
    with running(tmp_path, instance, "--workers", "2") as served:
        sup = served.proc.pid
        _wait("two workers", lambda: len(_workers(sup)) == 2, served.text)
        cmdline = Path(f"/proc/{sup}/cmdline").read_bytes()
        _wait("the supervisor re-executed lean",
              lambda: b"paperfeed.web.shed" in Path(f"/proc/{sup}/cmdline").read_bytes(),
              served.text)
        workers = _workers(sup)
        # the preloaded app and model are gone from the supervisor, not from the workers
        assert _anon_mb(sup) < 20, _anon_mb(sup)  # ~9 MB: no app, model, CLI or uvicorn
        assert all(_anon_mb(w) > 60 for w in workers), [_anon_mb(w) for w in workers]
        for k in range(30):  # new connections: both workers take some
            r = httpx.get(served.url + "/api/papers/search", params={"q": f"graph {k}"},
                          headers={"Connection": "close"}, timeout=30)
            assert r.status_code == 200, r.text
            r = httpx.get(served.url + "/metrics", headers={"Connection": "close"}, timeout=30)
            assert r.status_code == 200
        metrics_dirs = list((tmp_path / "tmp").glob("paperfeed-metrics-*"))
        assert len(metrics_dirs) == 1 and any(metrics_dirs[0].iterdir())

        dead = workers[0]
        os.kill(dead, signal.SIGKILL)
        served.wait_log(f"Child process [{dead}] died", timeout=60)
        new = 0

        def replaced() -> bool:  # a worker not among the first two has started serving
            nonlocal new
            started = {int(p) for p in re.findall(r"Started server process \[(\d+)\]",
                                                  served.text())}
            new = max(started - set(workers), default=0)
            return bool(new)

        _wait("a replacement worker", replaced, served.text)
        assert new in _children(sup)
        # spawned (the lean supervisor has nothing to fork from): it loads the app itself
        assert b"multiprocessing" in Path(f"/proc/{new}/cmdline").read_bytes()
        for _ in range(10):
            r = httpx.get(served.url + "/healthz", headers={"Connection": "close"}, timeout=30)
            assert r.status_code == 200

        assert served.stop(signal.SIGTERM) == 0, served.text()
    log = served.text()
    assert "Stopping parent process" in log, log
    assert "Traceback" not in log, log
    assert not list((tmp_path / "tmp").glob("paperfeed-metrics-*"))  # removed at exit
    for pid in workers + [new]:
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in _state(pid)
    assert cmdline  # the supervisor's first image was `paperfeed serve`


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    except OSError:
        return b"zombie"


def test_a_stop_asked_before_the_exec_keeps_the_supervisor_as_it_is() -> None:
    """A signal already queued by uvicorn's handlers would be lost by the exec: shed returns
    (the caller supervises as before) and leaves the signal mask as it found it."""

    class Queued:
        signal_queue = [signal.SIGTERM]
        should_exit = threading.Event()

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    shed.shed(Queued(), None)  # type: ignore[arg-type]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_the_lean_image_handles_the_signals_uvicorn_handles() -> None:
    from uvicorn.supervisors.multiprocess import SIGNALS

    assert shed.SIGNALS == SIGNALS


def test_sighup_hands_the_workers_over_to_uvicorn_which_replaces_them(
    tmp_path: Path,
) -> None:
    """A signal the lean loop does not handle itself goes to uvicorn's supervisor, pending:
    SIGHUP replaces both workers (spawned), then SIGTERM stops the server cleanly."""
    data = tmp_path / "data"
    data.mkdir()
    engine = connect(Settings(data_dir=data))
    migrate(engine)
    engine.dispose()
    with running(tmp_path, serve_env(data), "--workers", "2") as served:
        sup = served.proc.pid
        _wait("the lean supervisor and two workers", lambda: b"paperfeed.web.shed" in Path(
            f"/proc/{sup}/cmdline").read_bytes() and len(_workers(sup)) == 2, served.text)
        first = set(_workers(sup))
        os.kill(sup, signal.SIGHUP)
        served.wait_log("Received SIGHUP, restarting processes.", timeout=60)
        _wait("two new workers", lambda: len({int(p) for p in re.findall(
            r"Started server process \[(\d+)\]", served.text())} - first) == 2, served.text,
            timeout=180)
        _wait("the old workers gone", lambda: not first & set(_workers(sup)), served.text)
        r = httpx.get(served.url + "/healthz", headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 200
        assert served.stop(signal.SIGTERM) == 0, served.text()
    assert "Stopping parent process" in served.text()
    assert "Traceback" not in served.text()
