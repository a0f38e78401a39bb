"""The claim protocol's edges: leases of senders on other hosts, takeovers, dead processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import parse_edition
from paperfeed.digests.send import claimer_gone, machine_key, send_edition, sender_id
from paperfeed.models import utcnow
from paperfeed.storage import deliveries as dstore
from paperfeed.storage.db import write
from paperfeed.storage.schema import deliveries
from tests.digests.conftest import DAY, add_subscribers, seed_papers
from tests.digests.smtp_sink import Sink

EDITION = parse_edition(DAY.isoformat())


def test_claims_of_other_hosts_wait_for_their_lease_then_are_taken_over(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    seed_papers(engine)
    fresh, expired, free = add_subscribers(engine, 3)
    now = utcnow()
    lease = timedelta(seconds=settings.digest_claim_lease_seconds)
    with write(engine) as conn:
        conn.execute(
            deliveries.insert(),
            [
                {
                    "subscription_id": 1,
                    "edition": EDITION.label,
                    "status": "claimed",
                    "claimed_by": "elsewhere:123:aaa",
                    "claimed_at": now,
                    "attempts": 0,
                },
                {
                    "subscription_id": 2,
                    "edition": EDITION.label,
                    "status": "sending",
                    "claimed_by": "elsewhere:124:bbb",
                    "claimed_at": now - 2 * lease,
                    "attempts": 1,
                },
            ],
        )
    report = send_edition(engine, settings, EDITION)
    assert (report.sent, report.taken_over) == (2, 1)
    assert "1 not finished yet" in report.line()
    assert [len(sink.to(e)) for e in (fresh, expired, free)] == [0, 1, 1]
    with engine.connect() as conn:
        rows = {r["subscription_id"]: r for r in dstore.rows_for(conn, EDITION.label)}
    assert rows[1]["status"] == "claimed" and rows[1]["claimed_by"] == "elsewhere:123:aaa"
    assert rows[2]["status"] == "sent" and rows[2]["attempts"] == 2
    assert "taken over from sending by elsewhere:124:bbb" in rows[2]["last_error"]


def test_a_sender_whose_claim_was_taken_over_does_not_send_it(engine: Engine) -> None:
    add_subscribers(engine, 1)
    now = utcnow()
    with write(engine) as conn:
        dstore.claim_new(
            conn, edition="e", frequency="daily", claimer="a", now=now, limit=5, message_id=str
        )
        taken = dstore.take_over_stale(
            conn,
            edition="e",
            claimer="b",
            now=now,
            lease_seconds=0,
            claimer_gone=lambda c: False,
            limit=5,
        )
        assert taken == 1
        assert not dstore.start_sending(conn, 1, "e", "a", now)  # the slow sender backs off
        assert dstore.start_sending(conn, 1, "e", "b", now)
        assert not dstore.mark_sent(conn, 1, "e", "a", now)
        assert dstore.mark_sent(conn, 1, "e", "b", now)


def test_a_row_handed_to_smtp_twice_by_killed_senders_is_not_sent_a_third_time(
    engine: Engine,
) -> None:
    add_subscribers(engine, 1)
    now = utcnow()
    with write(engine) as conn:
        conn.execute(
            deliveries.insert().values(
                subscription_id=1,
                edition="e",
                status="sending",
                claimed_by="dead:1:x",
                claimed_at=now,
                attempts=2,
            )
        )
        taken = dstore.take_over_stale(
            conn,
            edition="e",
            claimer="c",
            now=now,
            lease_seconds=600,
            claimer_gone=lambda c: True,
            limit=5,
        )
        assert taken == 0
        (row,) = dstore.rows_for(conn, "e")
    assert row["status"] == "skipped" and "not sent a third time" in row["last_error"]


def test_claimer_gone_only_for_dead_processes_on_this_host() -> None:
    host = machine_key()
    assert sender_id().startswith(f"{host}:{os.getpid()}:")
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    assert claimer_gone(f"{host}:{dead_pid.pid}:x")
    assert not claimer_gone(f"{host}:{os.getpid()}:x")  # this process: wait for the lease
    assert not claimer_gone(f"{host}:1:x")  # pid 1 is alive
    assert not claimer_gone(f"another-host:{dead_pid.pid}:x")
    # same host name, another machine (boot) or container (PID namespace): not ours to judge
    name = socket.gethostname().replace(":", "_")
    assert not claimer_gone(f"{name}/otherboot/{host.rsplit('/', 1)[1]}:{dead_pid.pid}:x")
    assert not claimer_gone(f"{name}/{host.split('/')[1]}/1:{dead_pid.pid}:x")
    assert not claimer_gone("garbage")


def test_a_subscription_confirmed_again_during_a_run_still_gets_the_edition(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    from paperfeed.storage import subscriptions as sstore

    seed_papers(engine)
    emails = add_subscribers(engine, 120)
    with write(engine) as conn:  # the lowest id is unsubscribed when the run starts
        sstore.unsubscribe(conn, 1, now=utcnow())
    handled = []

    def resubscribe_midway() -> None:
        handled.append(1)
        if len(handled) == 60:  # the claim cursor is already past id 1
            with write(engine) as conn:
                sstore.confirm(conn, emails[0], "daily", now=utcnow())

    report = send_edition(engine, settings, EDITION, progress=resubscribe_midway)
    assert report.sent == 120
    assert all(len(sink.to(e)) == 1 for e in emails)
