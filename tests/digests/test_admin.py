"""Admin surfaces: the subscribers/digest CLI, /digest/preview, and the in-process scheduler."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.jobs import Job, Scheduler, daily_digest_due, default_jobs, weekly_digest_due
from paperfeed.models import utcnow
from paperfeed.storage import leases
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from paperfeed.web.app import create_app
from tests.digests.conftest import DAY, seed_papers
from tests.digests.smtp_sink import Sink


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.db_url,
        "PAPERFEED_ENVIRONMENT": "production",
        "PAPERFEED_SECRET_KEY": settings.secret(),
        "PAPERFEED_BASE_URL": settings.base_url,
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
        "PAPERFEED_MAIL_FROM": settings.mail_from,
    }.items():
        monkeypatch.setenv(key, value)
    return CliRunner()


def test_subscribers_add_list_remove(cli_env: CliRunner, engine: Engine, sink: Sink) -> None:
    r = cli_env.invoke(cli_app, ["subscribers", "add", "Ann@Example.org", "-f", "weekly"])
    assert r.exit_code == 0 and "ann@example.org: pending, weekly" in r.output
    r = cli_env.invoke(cli_app, ["subscribers", "add", "bob@example.org", "--confirmed"])
    assert "bob@example.org: confirmed, daily" in r.output
    r = cli_env.invoke(cli_app, ["subscribers", "list", "--status", "confirmed"])
    assert r.exit_code == 0
    assert "bob@example.org\tdaily\tconfirmed" in r.stdout and "ann@" not in r.stdout
    assert cli_env.invoke(cli_app, ["subscribers", "add", "nope"]).exit_code == 1
    r = cli_env.invoke(cli_app, ["subscribers", "remove", "ANN@example.org"])
    assert r.exit_code == 0
    again = cli_env.invoke(cli_app, ["subscribers", "remove", "ann@example.org"])
    assert again.exit_code == 1  # one `error:` line, as every other command says it
    assert again.stderr == "error: subscribers: no subscription for ann@example.org\n"
    with engine.connect() as conn:
        assert [row["email"] for row in sstore.list_subscriptions(conn)] == ["bob@example.org"]
    assert sink.messages == []  # adding subscribers mails nobody


def test_digest_send_cli_sends_a_named_weekend_edition(
    cli_env: CliRunner, engine: Engine, sink: Sink
) -> None:
    saturday = DAY.replace(day=21)
    seed_papers(engine, saturday)
    cli_env.invoke(cli_app, ["subscribers", "add", "c@example.org", "--confirmed"])
    r = cli_env.invoke(cli_app, ["digest", "send", "-f", "daily", "--edition", "2025-06-21"])
    assert r.exit_code == 0, r.output
    assert "1 sent" in r.output and len(sink.messages) == 1
    r = cli_env.invoke(cli_app, ["digest", "send", "-f", "weekly", "--edition", "2025-06-21"])
    assert r.exit_code == 1 and "daily edition, not weekly" in r.stderr


def test_digest_preview_cli_writes_the_html(
    cli_env: CliRunner, engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    seed_papers(engine)
    out = tmp_path / "preview.html"
    r = cli_env.invoke(cli_app, ["digest", "preview", "--edition", DAY.isoformat(), "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "Paper 0 on &lt;b&gt;attention&lt;/b&gt;" in html and "<table" in html
    empty = cli_env.invoke(cli_app, ["digest", "preview", "--edition", "2025-06-18"])
    assert empty.exit_code == 1 and "2025-06-18 has no papers" in empty.stderr
    # A newcomer's first try (today's edition, long after the data) is told what to preview.
    today = cli_env.invoke(cli_app, ["digest", "preview"])
    assert today.exit_code == 1
    assert f"the latest edition with papers is {DAY.isoformat()}" in today.stderr
    assert f"--edition {DAY.isoformat()}" in today.stderr
    week = cli_env.invoke(cli_app, ["digest", "preview", "--edition", "2026-W01"])
    assert "the latest edition with papers is 2025-W25" in week.stderr
    assert sink.messages == []


def test_preview_page_in_development(client: TestClient, engine: Engine) -> None:
    seed_papers(engine)
    r = client.get(f"/digest/preview?edition={DAY.isoformat()}")
    assert r.status_code == 200 and "Paper 0 on" in r.text
    assert client.get("/digest/preview?edition=2025-06-18").status_code == 404
    assert client.get("/digest/preview?edition=junk").status_code == 400


def test_preview_page_in_production_is_for_admins_only(settings: Settings, engine: Engine) -> None:
    from paperfeed.accounts.signin import SESSION_COOKIE, start_session
    from paperfeed.storage.users import create_user

    seed_papers(engine)
    prod = settings.model_copy(update={"environment": "production"})
    with write(engine) as conn:
        admin = create_user(conn, email="admin@example.org", now=utcnow(), role="admin")
        member = create_user(conn, email="m@example.org", now=utcnow())
    url = f"/digest/preview?edition={DAY.isoformat()}"
    with TestClient(create_app(prod)) as c:
        assert c.get(url).status_code == 401
        c.cookies.set(SESSION_COOKIE, start_session(engine, prod, member, now=utcnow()))
        assert c.get(url).status_code == 403
        c.cookies.set(SESSION_COOKIE, start_session(engine, prod, admin, now=utcnow()))
        assert c.get(url).status_code == 200


def test_digest_schedule_weekdays_from_the_send_hour(settings: Settings) -> None:
    settings.digest_send_hour = 17
    monday_noon, monday_evening = datetime(2025, 6, 16, 12), datetime(2025, 6, 16, 17, 5)
    assert daily_digest_due(monday_noon, settings) is None
    assert daily_digest_due(monday_evening, settings) == "2025-06-16"
    assert daily_digest_due(datetime(2025, 6, 21, 18), settings) is None  # Saturday
    assert weekly_digest_due(monday_evening, settings) is None
    assert weekly_digest_due(datetime(2025, 6, 22, 18), settings) == "2025-W25"  # Sunday


def test_job_lease_is_exclusive_until_released_or_expired(engine: Engine) -> None:
    now = datetime(2025, 6, 16, 12)
    assert leases.acquire(engine, "j", "a", ttl_seconds=60, now=now)
    assert not leases.acquire(engine, "j", "b", ttl_seconds=60, now=now)
    assert leases.acquire(engine, "j", "a", ttl_seconds=60, now=now)  # renewal
    later = datetime(2025, 6, 16, 12, 2)
    assert leases.acquire(engine, "j", "b", ttl_seconds=60, now=later)  # a's expired
    leases.release(engine, "j", "b")
    assert leases.holder_of(engine, "j", now=later) is None


def test_scheduler_runs_a_due_digest_once_and_skips_a_job_leased_elsewhere(
    settings: Settings, engine: Engine, sink: Sink
) -> None:
    seed_papers(engine)
    with write(engine) as conn:
        sstore.add(conn, "s@example.org", "daily", confirmed=True, now=utcnow())
    jobs = [j for j in default_jobs(engine, settings) if j.name.startswith("digest")]
    scheduler = Scheduler(engine, settings, jobs)
    evening = datetime(2025, 6, 16, settings.digest_send_hour, 30)
    assert scheduler.tick(evening) == ["digest-daily"]
    assert scheduler.tick(evening) == []  # already ran for this edition
    assert len(sink.messages) == 1

    runs: list[str] = []
    other = Scheduler(engine, settings, [Job("busy", lambda now: "k", runs.append)])  # type: ignore[arg-type]
    assert leases.acquire(engine, "busy", "someone-else", ttl_seconds=600, now=evening)
    assert other.tick(evening) == [] and runs == []


@pytest.mark.parametrize(
    ("command", "note"),
    [
        (["digest", "send", "-f", "daily"], "daily digests go out on weekdays only"),
        (["alerts", "send", "-f", "daily"], "daily alerts go out on weekdays only"),
    ],
)
def test_send_without_an_edition_on_a_weekend_says_so_and_sends_nothing(
    cli_env: CliRunner,
    engine: Engine,
    sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    note: str,
) -> None:
    """`digest send` / `alerts send` from cron on a Saturday: the scheduled daily edition is
    None, so the command explains why nothing went out instead of sending Friday's again."""
    import paperfeed.models

    saturday = DAY.replace(day=21)
    seed_papers(engine, saturday)
    cli_env.invoke(cli_app, ["subscribers", "add", "w@example.org", "--confirmed"])
    monkeypatch.setattr(paperfeed.models, "utcnow", lambda: datetime(2025, 6, 21, 12, 0))
    r = cli_env.invoke(cli_app, command)
    assert r.exit_code == 0, r.output
    assert "edition 2025-06-21 falls on a weekend: " + note in r.output
    assert sink.messages == []
    # The same command on the Monday after goes on to that day's edition.
    monkeypatch.setattr(paperfeed.models, "utcnow", lambda: datetime(2025, 6, 23, 12, 0))
    monday = cli_env.invoke(cli_app, command)
    assert monday.exit_code == 0, monday.output
    assert "falls on a weekend" not in monday.output
