"""Alert mail under faults: real `paperfeed alerts send` processes killed inside the window
(SMTP accepted, `sent` not committed), several senders at once, an SMTP server that is down;
the guarantee is the digests' (docs/digests.md), and a message's papers are fixed by its
claim: a resumed or taken-over delivery sends the same papers, later matches wait for the
next edition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.alerts import searches
from paperfeed.alerts.run import match_new_papers
from paperfeed.alerts.send import send_alerts
from paperfeed.config import Settings
from paperfeed.digests.editions import parse_edition
from paperfeed.models import Author, Paper
from paperfeed.storage import alerts as astore
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from tests.conftest import REPO_ROOT
from tests.digests.smtp_sink import Sink, SinkServer

N = 40
EDITION = "2025-06-16"
T0 = datetime(2025, 6, 1)


@pytest.fixture
def smtp() -> SinkServer:
    with SinkServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def sink(smtp: SinkServer) -> Sink:
    return smtp.sink


def add_papers(engine: Engine, ids: list[str], at: datetime) -> None:
    papers = [Paper(id=pid, title=f"Diffusion study {pid}", abstract="About diffusion.",
                    authors=[Author("Ada Lovelace")], categories=["cs.LG"], source="test")
              for pid in ids]
    with write(engine) as conn:
        upsert_papers(conn, papers, now=at)


def ready(engine: Engine, settings: Settings) -> list[str]:
    """N members, each with a daily "diffusion" search, and two new matching papers."""
    emails = []
    for i in range(N):
        with write(engine) as conn:
            m = users.create_user(conn, email=f"m{i:03d}@example.org", now=T0,
                                  username=f"m{i:03d}")
        searches.create_search(engine, settings, m, query="diffusion", now=T0)
        emails.append(m.email or "")
    add_papers(engine, ["2506.00001", "2506.00002"], T0 + timedelta(days=1))
    assert match_new_papers(engine, settings, now=T0 + timedelta(days=1)).matches == 2 * N
    return emails


def mail_settings(settings: Settings, smtp: SinkServer) -> Settings:
    return settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "p <a@p.test>",
        "digest_retry_backoff_seconds": 0.01,
    })


def spawn(settings: Settings, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT), PAPERFEED_ENVIRONMENT="production",
        PAPERFEED_DATA_DIR=str(settings.data_dir), PAPERFEED_DATABASE_URL=settings.db_url,
        PAPERFEED_SECRET_KEY=settings.secret(), PAPERFEED_BASE_URL=settings.base_url,
        PAPERFEED_SMTP_HOST="127.0.0.1", PAPERFEED_SMTP_PORT=str(settings.smtp_port),
        PAPERFEED_MAIL_FROM=settings.mail_from, PAPERFEED_DIGEST_RETRY_BACKOFF_SECONDS="0.01",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "alerts", "send", "-f", "daily", "--edition",
         EDITION], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def per_address(sink: Sink) -> dict[str, list[tuple[str, str]]]:
    """address -> [(Message-ID, the papers linked)] in arrival order."""
    got: dict[str, list[tuple[str, str]]] = {}
    for m in sink.messages:
        msg = m.parse()
        body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        papers = ",".join(sorted(set(p for p in body.split() if "/papers/" in p)))
        got.setdefault(m.rcpt[0], []).append((msg["Message-ID"], papers))
    return got


def test_kill_inside_the_window_gives_one_identical_duplicate_then_everyone_once(
    settings: Settings, engine: Engine, smtp: SinkServer, tmp_path: Path
) -> None:
    cfg = mail_settings(settings, smtp)
    emails = ready(engine, cfg)
    holder: dict[str, subprocess.Popen[bytes]] = {}
    target = 17

    def kill_before_replying_250(n: int) -> None:
        if n == target:
            holder["proc"].send_signal(signal.SIGKILL)

    smtp.sink.on_accept = kill_before_replying_250
    holder["proc"] = spawn(cfg, tmp_path)
    holder["proc"].wait(timeout=120)
    assert holder["proc"].returncode == -signal.SIGKILL
    smtp.sink.on_accept = None
    report = finish(spawn(cfg, tmp_path))
    assert "taken over from stopped senders" in report
    got = per_address(smtp.sink)
    assert set(got) == set(emails)
    assert Counter(len(v) for v in got.values()) == {1: N - 1, 2: 1}
    for copies in got.values():
        assert len(set(copies)) == 1  # a duplicate has the same Message-ID and papers
        assert copies[0][1].count("/papers/") == 2


def test_three_concurrent_sender_processes_send_each_member_once(
    settings: Settings, engine: Engine, smtp: SinkServer, tmp_path: Path
) -> None:
    cfg = mail_settings(settings, smtp)
    emails = ready(engine, cfg)
    outputs = [finish(p) for p in [spawn(cfg, tmp_path) for _ in range(3)]]
    got = per_address(smtp.sink)
    assert set(got) == set(emails) and all(len(v) == 1 for v in got.values())
    assert sum(int(o.split(" sent")[0].rsplit(" ", 1)[1]) for o in outputs) == N
    with engine.connect() as conn:
        assert {r["status"] for r in astore.rows_for(conn, EDITION)} == {"sent"}


def test_papers_are_fixed_at_claim_and_later_matches_wait_for_the_next_edition(
    settings: Settings, engine: Engine, smtp: SinkServer
) -> None:
    cfg = mail_settings(settings, smtp)
    emails = ready(engine, cfg)
    smtp.sink.always_refuse = {e: "451 4.3.0 try later" for e in emails}
    with pytest.raises(Exception, match="SMTP server looks unavailable"):
        send_alerts(engine, cfg, parse_edition(EDITION))
    assert smtp.sink.count() == 0
    # A new matching paper arrives while the edition is stuck.
    add_papers(engine, ["2506.00003"], T0 + timedelta(days=2))
    assert match_new_papers(engine, cfg, now=T0 + timedelta(days=2)).matches == N
    smtp.sink.always_refuse = {}
    send_alerts(engine, cfg, parse_edition(EDITION))
    got = per_address(smtp.sink)
    assert set(got) == set(emails)
    for copies in got.values():  # the claimed papers, not the one found after the claim
        assert len(copies) == 1 and "2506.00003" not in copies[0][1]
    smtp.sink.clear()
    send_alerts(engine, cfg, parse_edition("2025-06-17"))
    got = per_address(smtp.sink)
    assert set(got) == set(emails)
    assert all(c[0][1].count("/papers/") == 1 and "2506.00003" in c[0][1] for c in got.values())


@pytest.mark.postgres
def test_concurrent_senders_on_postgresql_send_each_member_once(
    pg_settings: Settings, smtp: SinkServer
) -> None:
    cfg = mail_settings(pg_settings, smtp)
    engine = connect(cfg)
    migrate(engine)
    emails = ready(engine, cfg)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            send_alerts(engine, cfg, parse_edition(EDITION), batch_size=3)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    got = per_address(smtp.sink)
    assert set(got) == set(emails) and all(len(v) == 1 for v in got.values())
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_matchers_store_each_match_once(
    kind: str, request: pytest.FixtureRequest, settings: Settings
) -> None:
    cfg = request.getfixturevalue("pg_settings") if kind == "postgresql" else settings
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(cfg)
    migrate(engine)
    members = []
    for i in range(5):
        with write(engine) as conn:
            members.append(users.create_user(conn, email=f"c{i}@example.org", now=T0,
                                             username=f"c{i}"))
        searches.create_search(engine, cfg, members[-1], query="diffusion", now=T0)
    add_papers(engine, [f"2506.{i:05d}" for i in range(1, 31)], T0 + timedelta(days=1))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            match_new_papers(engine, cfg, now=T0 + timedelta(days=1))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    with engine.connect() as conn:
        for m in members:
            (row,) = astore.list_for_user(conn, m.id)
            assert row.matches == 30
            assert len(astore.matches_of(conn, row.id, limit=100)) == 30
    engine.dispose()
