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


def test_ingest_runs_auto_feature_rules_and_rules_apply_reports(
    cli_env: None, engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.models import utcnow
    from tests.conftest import FIXTURES
    from tests.members_support import replay_server

    server, url = replay_server(FIXTURES / "arxiv" / "query_doc.xml")  # 2206.06921, math.CA
    try:
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", url)
        monkeypatch.setenv("PAPERFEED_ARXIV_DELAY_SECONDS", "0")
        monkeypatch.setenv(
            "PAPERFEED_AUTO_FEATURE_RULES",
            '[{"category": "math.CA", "min_upvotes": 0, "max_age_days": 100000}]',
        )
        out = _run("ingest", "arxiv", "--id", "2206.06921", "--no-progress")
        assert "auto-feature rules: 1 papers featured today" in out
    finally:
        server.shutdown()
    day = utcnow().date().isoformat()
    assert "2206.06921" in client.get(f"/papers/date/{day}").text
    assert "0 papers featured today" in _run("rules", "apply")  # each paper only once
