"""Sending an edition to a real SMTP server on loopback, and reading what arrived."""

from __future__ import annotations

from datetime import date
from urllib.parse import unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digests.editions import parse_edition
from paperfeed.digests.send import DigestSendError, send_edition
from paperfeed.storage import deliveries as dstore
from paperfeed.storage import subscriptions as sstore
from tests.digests.conftest import DAY, add_subscribers, csrf_from, links_in, seed_papers
from tests.digests.smtp_sink import Sink

EDITION = parse_edition(DAY.isoformat())


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def test_digest_arrives_with_headers_both_parts_and_escaped_papers(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    ids = seed_papers(engine, n=3)
    (address,) = add_subscribers(engine, 1)
    report = send_edition(engine, settings, EDITION)
    assert (report.papers, report.sent, report.failed) == (3, 1, 0)
    (received,) = sink.messages
    assert received.rcpt == [address]
    msg = received.parse()
    assert msg["To"] == address
    assert msg["From"] == "paperfeed <digest@papers.test>"
    assert "16 June 2025" in msg["Subject"]
    assert msg["Message-ID"].startswith(f"<digest.{EDITION.label}.")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [p.strip() for p in msg["List-Unsubscribe"].split(",")]
    assert https.startswith("<http://testserver/unsubscribe?token=") and https.endswith(">")
    assert mailto == "<mailto:digest@papers.test?subject=unsubscribe>"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # Trending order (30, 20, 10 upvotes), links to our paper pages, authors, upvotes.
    positions = [text.index(f"http://testserver/papers/{pid}") for pid in ids]
    assert positions == sorted(positions)
    assert "Ada Lovelace and Alan Turing" in text and "(30 upvotes)" in text
    assert "Paper 0 on <b>attention</b> &" in text  # plain text is not escaped
    assert "&lt;b&gt;attention&lt;/b&gt; &amp;" in html and "<b>attention" not in html
    assert f'href="http://testserver/papers/{ids[0]}"' in html
    assert "<script" not in html.lower() and "@import" not in html and "<link" not in html
    with engine.connect() as conn:
        (row,) = dstore.rows_for(conn, EDITION.label)
    assert row["status"] == "sent" and row["message_id"] == msg["Message-ID"]


def test_links_in_the_digest_work_against_the_app(
    settings: Settings, engine: Engine, sink: Sink, client: TestClient
) -> None:
    seed_papers(engine)
    (address,) = add_subscribers(engine, 1)
    send_edition(engine, settings, EDITION)
    msg = sink.messages[0].parse()
    text = msg.get_body(("plain",)).get_content()
    prefs = next(u for u in links_in(text) if "/subscribe/preferences?" in u)
    unsub = msg["List-Unsubscribe"].split(",")[0].strip()[1:-1]
    assert unsub in links_in(text)

    # Preferences: change the frequency through the signed link.
    page = client.get(_path(prefs))
    assert page.status_code == 200 and address in page.text
    token = unquote(urlsplit(prefs).query.split("token=", 1)[1])
    saved = client.post(
        "/subscribe/preferences",
        data={"token": token, "frequency": "weekly", "csrf_token": csrf_from(page.text)},
    )
    assert saved.status_code == 200 and "Saved: weekly" in saved.text
    with engine.connect() as conn:
        assert sstore.get_by_email(conn, address)["frequency"] == "weekly"

    # Unsubscribe: GET only asks; a one-click POST from a client without cookies works.
    assert "Unsubscribe" in client.get(_path(unsub)).text
    with engine.connect() as conn:
        assert sstore.get_by_email(conn, address)["status"] == "confirmed"
    fresh = TestClient(client.app)
    for _ in range(2):  # idempotent
        r = fresh.post(
            _path(unsub),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200 and "unsubscribed" in r.text
    with engine.connect() as conn:
        assert sstore.get_by_email(conn, address)["status"] == "unsubscribed"
    # Unsubscribed: the next edition does not go to them.
    sink.clear()
    seed_papers(engine, date(2025, 6, 17))
    assert send_edition(engine, settings, parse_edition("2025-06-17")).sent == 0
    assert sink.messages == []


def test_forged_or_tampered_unsubscribe_token_is_rejected(client: TestClient) -> None:
    assert client.post("/unsubscribe?token=abc").status_code == 400
    assert client.get("/subscribe/preferences?token=eyJzIjoxfQ.x.y").status_code == 400


def test_edition_without_papers_sends_nothing(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    add_subscribers(engine, 3)
    report = send_edition(engine, settings, EDITION)
    assert report.papers == 0 and report.sent == 0
    assert "nothing sent" in report.line()
    assert sink.messages == []
    with engine.connect() as conn:
        assert dstore.rows_for(conn, EDITION.label) == []


def test_rerun_after_a_complete_edition_sends_nothing_more(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    seed_papers(engine)
    add_subscribers(engine, 5)
    assert send_edition(engine, settings, EDITION).sent == 5
    assert send_edition(engine, settings, EDITION).sent == 0
    assert sink.count() == 5


def test_only_confirmed_subscribers_of_the_frequency_receive_it(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    from paperfeed.models import utcnow
    from paperfeed.storage.db import write

    seed_papers(engine)
    add_subscribers(engine, 2)
    with write(engine) as conn:
        sstore.request(conn, "pending@example.org", "daily", now=utcnow())
        sstore.add(conn, "weekly@example.org", "weekly", confirmed=True, now=utcnow())
    assert send_edition(engine, settings, EDITION).sent == 2
    assert {m.rcpt[0] for m in sink.messages} == {
        "reader0000@example.org",
        "reader0001@example.org",
    }
    # The weekly edition of that week goes to the weekly subscriber only.
    assert send_edition(engine, settings, parse_edition("2025-W25")).sent == 1
    assert sink.messages[-1].rcpt == ["weekly@example.org"]
    assert "Weekly papers" in sink.messages[-1].parse()["Subject"]


def test_transient_451_is_retried_and_delivered_once(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    seed_papers(engine)
    emails = add_subscribers(engine, 4)
    sink.refuse[emails[1]] = ["451 4.7.1 Greylisted, try again", "421 4.3.0 busy"]
    report = send_edition(engine, settings, EDITION)
    assert (report.sent, report.failed, report.deferred) == (4, 0, 0)
    assert [len(sink.to(e)) for e in emails] == [1, 1, 1, 1]
    assert sink.refuse[emails[1]] == []  # both refusals were used, then it went through


def test_transient_failures_beyond_the_attempts_are_deferred_to_the_next_run(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    seed_papers(engine)
    emails = add_subscribers(engine, 2)
    sink.refuse[emails[0]] = ["451 4.7.1 later"] * settings.digest_retry_attempts
    first = send_edition(engine, settings, EDITION)
    assert (first.sent, first.deferred) == (1, 1)
    with engine.connect() as conn:
        assert dstore.status_counts(conn, EDITION.label) == {"sent": 1, "deferred": 1}
    second = send_edition(engine, settings, EDITION)
    assert second.sent == 1
    assert [len(sink.to(e)) for e in emails] == [1, 1]


def test_permanent_550_is_recorded_and_suspends_after_the_bounce_limit(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    settings.digest_hard_bounce_limit = 2
    days = [date(2025, 6, 16), date(2025, 6, 17), date(2025, 6, 18)]
    for day in days:
        seed_papers(engine, day)
    good, bad = add_subscribers(engine, 2)
    sink.always_refuse[bad] = "550 5.1.1 <reader0001@example.org>: no such user"
    first = send_edition(engine, settings, parse_edition("2025-06-16"))
    assert (first.sent, first.failed, first.suspended) == (1, 1, 0)
    with engine.connect() as conn:
        row = next(r for r in dstore.rows_for(conn, "2025-06-16") if r["status"] == "failed")
        assert "550 5.1.1" in row["last_error"]
        assert sstore.get_by_email(conn, bad)["hard_bounces"] == 1
    second = send_edition(engine, settings, parse_edition("2025-06-17"))
    assert (second.failed, second.suspended) == (1, 1)
    with engine.connect() as conn:
        assert sstore.get_by_email(conn, bad)["status"] == "suspended"
    third = send_edition(engine, settings, parse_edition("2025-06-18"))
    assert (third.sent, third.failed) == (1, 0)
    assert len(sink.to(good)) == 3 and sink.to(bad) == []


def test_unreachable_smtp_server_stops_the_run_and_a_rerun_finishes(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    from tests.digests.smtp_sink import free_port

    seed_papers(engine)
    emails = add_subscribers(engine, 6)
    down = settings.model_copy(update={"smtp_port": free_port(), "digest_retry_attempts": 2})
    with pytest.raises(DigestSendError, match="SMTP server looks unavailable"):
        send_edition(engine, down, EDITION)
    with engine.connect() as conn:
        counts = dstore.status_counts(conn, EDITION.label)
    assert "sent" not in counts and counts.get("claimed", 0) == 0
    assert send_edition(engine, settings, EDITION).sent == 6
    assert [len(sink.to(e)) for e in emails] == [1] * 6


def test_send_with_the_smtp_server_down_and_few_recipients_exits_1(
    settings: Settings, engine: Engine
) -> None:
    """One or two subscribers never reach the three-in-a-row stop: the run deferred them and
    exited 0, so cron never told anyone mail was not going out. Nothing sent at all while
    messages wait is an error (one line); the next run sends them."""
    from typer.testing import CliRunner

    from paperfeed.cli import app
    from tests.digests.smtp_sink import free_port

    seed_papers(engine)
    add_subscribers(engine, 1)
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development",
           "PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(free_port()),
           "PAPERFEED_DIGEST_RETRY_ATTEMPTS": "1", "PAPERFEED_DIGEST_RETRY_BACKOFF_SECONDS": "0"}
    done = CliRunner().invoke(app, ["digest", "send", "--frequency", "daily", "--edition",
                                    DAY.isoformat()], env=env)
    assert done.exit_code == 1, done.output
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "SMTP" in lines[0] and "re-run" in lines[0], done.stderr
    assert "1 deferred" in done.stdout
