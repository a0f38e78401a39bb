"""The claim protocol and job leases on a real PostgreSQL (pgserver), the scale-out engine."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import parse_edition
from paperfeed.digests.send import send_edition
from paperfeed.digests.subscribe import request_subscription
from paperfeed.storage import deliveries as dstore
from paperfeed.storage import leases
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import connect, migrate
from tests.digests.conftest import DAY, add_subscribers, seed_papers
from tests.digests.smtp_sink import SinkServer
from tests.digests.test_faults import EDITION, _finish, _spawn

pytestmark = pytest.mark.postgres


def _site(pg_settings: Settings, smtp: SinkServer, subscribers: int
          ) -> tuple[Settings, Engine, list[str]]:
    """A migrated PostgreSQL catalog with the seed papers and confirmed subscribers, mailing
    through the SMTP sink."""
    settings = pg_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "p <d@p.test>"}
    )
    engine = connect(settings)
    migrate(engine)
    seed_papers(engine)
    return settings, engine, add_subscribers(engine, subscribers)


def test_three_concurrent_senders_on_postgresql_send_each_message_once(
    pg_settings: Settings, smtp: SinkServer
) -> None:
    settings, engine, emails = _site(pg_settings, smtp, 90)
    edition = parse_edition(DAY.isoformat())
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(send_edition(engine, settings, edition, batch_size=7))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    received = Counter(m.rcpt[0] for m in smtp.sink.messages)
    assert set(received) == set(emails) and set(received.values()) == {1}
    assert sum(r.sent for r in reports) == 90
    with engine.connect() as conn:
        assert dstore.status_counts(conn, edition.label) == {"sent": 90}
    # Leases use the same portable insert-or-take-over SQL.
    now = datetime(2025, 6, 16, 12)
    assert leases.acquire(engine, "job", "a", ttl_seconds=60, now=now)
    assert not leases.acquire(engine, "job", "b", ttl_seconds=60, now=now)
    engine.dispose()


def test_a_sender_killed_mid_edition_on_postgresql_then_rerun_mails_everyone_once(
    pg_settings: Settings, smtp: SinkServer, tmp_path: Path
) -> None:
    """The crash-and-rerun guarantee of test_faults.py (SQLite) on PostgreSQL: a real
    `paperfeed digest send` process killed with SIGKILL half-way, then run again: every
    subscriber has the edition, at most the one message in flight twice (same Message-ID)."""
    settings, engine, emails = _site(pg_settings, smtp, 60)
    proc = _spawn(settings, tmp_path)
    while smtp.sink.count() < 25 and proc.poll() is None:
        time.sleep(0.0005)
    assert proc.poll() is None, "the sender finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert smtp.sink.count() < 60
    _finish(_spawn(settings, tmp_path))
    got = Counter(m.rcpt[0] for m in smtp.sink.messages)
    assert set(got) == set(emails)
    twice = [a for a, n in got.items() if n > 1]
    assert len(twice) <= 1 and all(got[a] == 2 for a in twice)
    ids = {m.parse()["Message-ID"] for m in smtp.sink.messages}
    assert len(ids) == 60  # a copy carries the same Message-ID, so readers can drop it
    with engine.connect() as conn:
        assert dstore.status_counts(conn, EDITION) == {"sent": 60}
    engine.dispose()


def test_one_address_subscribing_twice_at_once_on_postgresql_gets_one_row(
    pg_settings: Settings,
) -> None:
    """The subscribe box sent twice at once (a double click, two tabs): READ COMMITTED let
    both requests find no row and insert one, and the second broke the unique address (a
    500). Both now answer, with one pending row."""
    engine = connect(pg_settings)
    migrate(engine)
    barrier = threading.Barrier(3)
    got: list[object] = []

    def subscribe(i: int) -> None:
        barrier.wait()
        try:
            got.append(request_subscription(engine, pg_settings, email="Twice@Example.org",
                                            frequency="daily", client=f"10.0.0.{i}",
                                            now=datetime(2025, 6, 16, 12))[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            got.append(exc)

    threads = [threading.Thread(target=subscribe, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["twice@example.org"] * 3, got
    with engine.connect() as conn:
        assert sstore.count_by_status(conn) == {"pending": 1}
    engine.dispose()
