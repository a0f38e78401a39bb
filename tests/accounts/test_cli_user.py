from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.storage import moderation
from paperfeed.storage import users as store


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAPERFEED_ENVIRONMENT", "development")


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_user_create_set_role_and_token_work_end_to_end(
    cli_env: None, engine: Engine, client: TestClient
) -> None:
    out = _run("user", "create", "Root@Example.org", "--username", "root", "--admin")
    assert "created admin root <root@example.org>" in out
    _run("user", "create", "ada@example.org", "--username", "ada")
    assert "ada is now moderator" in _run("user", "set-role", "ada@example.org", "moderator")
    token = _run("user", "token", "ada@example.org").strip()
    assert token.startswith("pf_")
    me = client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"username": "ada", "fullname": None, "role": "moderator"}
    with engine.connect() as conn:
        member = store.get_by_email(conn, "root@example.org")
        assert member is not None and member.is_admin
        assert [e.action for e in moderation.list_log(conn)] == ["set_role:moderator"]


def test_user_create_refuses_a_duplicate_and_set_role_an_unknown_role(cli_env: None) -> None:
    _run("user", "create", "ada@example.org")
    again = CliRunner().invoke(app, ["user", "create", "ada@example.org"])
    assert again.exit_code != 0
    bad = CliRunner().invoke(app, ["user", "set-role", "ada@example.org", "king"])
    assert bad.exit_code != 0
    missing = CliRunner().invoke(app, ["user", "token", "nobody@example.org"])
    assert missing.exit_code != 0


def test_user_ban_ends_access_and_is_logged(
    cli_env: None, engine: Engine, client: TestClient
) -> None:
    _run("user", "create", "ada@example.org", "--username", "ada")
    token = _run("user", "token", "ada@example.org").strip()
    assert "ada banned" in _run("user", "ban", "ada", "--reason", "spam")
    r = client.post("/api/papers/submit", json={"id": "2506.01234"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    with engine.connect() as conn:
        (entry,) = moderation.list_log(conn)
    assert (entry.actor, entry.action, entry.reason) == (None, "ban_member", "spam")
