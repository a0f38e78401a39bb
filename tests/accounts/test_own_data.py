"""A member's own data through every door: the settings page (confirmation, POST-redirect-GET),
the JSON API, the admin CLI (SQLite and PostgreSQL), and the purge of never-confirmed
subscribers (CLI and `serve --with-jobs`'s job)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from paperfeed.accounts import comments as comment_service
from paperfeed.accounts import voting
from paperfeed.accounts.signin import SESSION_COOKIE
from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.jobs import Scheduler, default_jobs
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.schema import comments, sessions, subscriptions, users, votes
from tests.members_support import Inbox, add_member, add_paper, csrf, sign_in, token_for

NOW = datetime(2025, 6, 16, 12, 0)
PAPER = "2506.01234"


def _seed_activity(engine: Engine, settings: Settings, email: str) -> int:
    add_paper(engine, PAPER, published_at=datetime.utcnow() - timedelta(days=1))
    with engine.connect() as conn:
        member = conn.execute(select(users).where(users.c.email == email)).mappings().one()
    from paperfeed.storage import users as ustore

    with engine.connect() as conn:
        m = ustore.get_by_id(conn, member["id"])
    assert m is not None
    voting.set_vote(engine, settings, m, PAPER, up=True, ip="1.2.3.4", now=datetime.utcnow())
    comment_service.add_comment(engine, settings, m, PAPER, "my words", ip="1.2.3.4",
                                now=datetime.utcnow())
    return int(member["id"])


def test_settings_page_downloads_the_members_data(client: TestClient, inbox: Inbox,
                                                  engine: Engine, settings: Settings) -> None:
    sign_in(client, inbox, "ada@example.org")
    _seed_activity(engine, settings, "ada@example.org")
    page = client.get("/settings")
    assert 'href="/settings/data"' in page.text and 'href="/settings/delete"' in page.text
    r = client.get("/settings/data")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["profile"]["email"] == "ada@example.org"
    assert [v["paper_id"] for v in data["tables"]["votes"]] == [PAPER]
    assert [c["body"] for c in data["tables"]["comments"]] == ["my words"]


def test_settings_page_deletes_the_account_after_confirmation(
    client: TestClient, inbox: Inbox, engine: Engine, settings: Settings
) -> None:
    sign_in(client, inbox, "ada@example.org")
    uid = _seed_activity(engine, settings, "ada@example.org")
    with engine.connect() as conn:
        username = conn.execute(select(users.c.username).where(users.c.id == uid)).scalar_one()
    page = client.get("/settings/delete")
    assert page.status_code == 200 and username in page.text
    token = csrf(client, "/settings/delete")
    wrong = client.post("/settings/delete", data={"csrf_token": token, "content": "remove",
                                                  "confirm": "not-me"})
    assert wrong.status_code == 400 and "Type your username" in wrong.text
    no_choice = client.post("/settings/delete", data={"csrf_token": token, "confirm": username})
    assert no_choice.status_code == 400
    r = client.post("/settings/delete", data={"csrf_token": token, "content": "remove",
                                              "confirm": username}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/account-deleted")
    assert any(c.startswith(f"{SESSION_COOKIE}=;") or f"{SESSION_COOKIE}=" in c and "Max-Age=0" in c
               for c in r.headers.get_list("set-cookie"))
    done = client.get(r.headers["location"])
    assert done.status_code == 200 and "removed" in done.text
    assert client.get("/settings").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(sessions)).all() == []
        assert conn.execute(select(votes)).all() == []
        assert conn.execute(select(comments)).all() == []
        row = conn.execute(select(users).where(users.c.id == uid)).mappings().one()
    assert row["email"] is None and row["deleted_at"] is not None
    # The address can start over: a new sign-in makes a new, empty account.
    sign_in(client, inbox, "ada@example.org")
    assert client.get("/settings/data").json()["tables"]["votes"] == []


def test_api_downloads_and_deletes_the_tokens_member(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    member = add_member(engine, "ada@example.org", username="ada")
    _seed_activity(engine, settings, "ada@example.org")
    auth = {"Authorization": f"Bearer {token_for(engine, member)}"}
    data = client.get("/api/me/data", headers=auth)
    assert data.status_code == 200 and data.json()["profile"]["username"] == "ada"
    assert "token_hash" not in data.text
    assert client.get("/api/me/data").status_code == 401
    refused = client.delete("/api/me", params={"content": "keep", "confirm": "bob"}, headers=auth)
    assert refused.status_code == 400
    r = client.delete("/api/me", params={"content": "keep", "confirm": "ada"}, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["deleted"] is True and body["shownAs"].startswith("deleted-")
    assert client.get("/api/whoami", headers=auth).status_code == 401  # the token went too
    paper = client.get(f"/papers/{PAPER}")
    assert "my words" in paper.text and body["shownAs"] in paper.text  # kept, anonymous
    with engine.connect() as conn:
        assert len(conn.execute(select(votes)).all()) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli_db(request: pytest.FixtureRequest, settings: Settings,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, Settings]:
    chosen = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    chosen.data_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(chosen.data_dir))
    monkeypatch.setenv("PAPERFEED_ENVIRONMENT", "development")
    if chosen.database_url and not chosen.database_url.startswith("sqlite"):
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", chosen.database_url)
    eng = connect(chosen)
    migrate(eng)
    request.addfinalizer(eng.dispose)
    return eng, chosen


def test_admin_cli_exports_and_deletes_a_member(cli_db: tuple[Engine, Settings],
                                                tmp_path: Path) -> None:
    engine, settings = cli_db
    add_member(engine, "ada@example.org", username="ada")
    _seed_activity(engine, settings, "ada@example.org")
    runner = CliRunner()
    out = tmp_path / "ada.json"
    r = runner.invoke(cli, ["user", "export", "Ada@Example.org", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["profile"]["username"] == "ada" and data["tables"]["comments"]
    r = runner.invoke(cli, ["user", "delete", "ada@example.org", "--content", "remove"],
                      input="n\n")
    assert r.exit_code == 1  # declined at the prompt: nothing deleted
    r = runner.invoke(cli, ["user", "delete", "ada@example.org", "--content", "maybe", "--yes"])
    assert r.exit_code != 0
    r = runner.invoke(cli, ["user", "delete", "ada@example.org", "--content", "remove", "--yes"])
    assert r.exit_code == 0, r.output
    assert "deleted ada" in r.stdout
    with engine.connect() as conn:
        assert conn.execute(select(users.c.id).where(users.c.email == "ada@example.org")).first() is None
        assert conn.execute(select(comments)).all() == []
    again = runner.invoke(cli, ["user", "export", "ada@example.org"])
    assert again.exit_code != 0


def _pending(engine: Engine, email: str, at: datetime) -> None:
    with write(engine) as conn:
        sstore.request(conn, email, "daily", now=at)


def test_never_confirmed_subscribers_are_purged_by_cli_and_job(
    cli_db: tuple[Engine, Settings]
) -> None:
    engine, settings = cli_db
    now = datetime.utcnow()
    _pending(engine, "old@example.org", now - timedelta(days=settings.subscribe_pending_days + 1))
    _pending(engine, "new@example.org", now - timedelta(days=1))
    with write(engine) as conn:
        sstore.confirm(conn, "kept@example.org", "daily", now=now - timedelta(days=400))
    r = CliRunner().invoke(cli, ["subscribers", "purge"])
    assert r.exit_code == 0, r.output
    assert "purged 1 subscription" in r.stdout
    _pending(engine, "old2@example.org", now - timedelta(days=settings.subscribe_pending_days + 2))
    jobs = [j for j in default_jobs(engine, settings) if j.name == "purge-pending-subscribers"]
    assert Scheduler(engine, settings, jobs, holder="test").tick(now) == [
        "purge-pending-subscribers"]
    with engine.connect() as conn:
        left = sorted(conn.execute(select(subscriptions.c.email)).scalars())
    assert left == ["kept@example.org", "new@example.org"]
