from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.errors import ConfigError


def test_placeholder_secret_refused_outside_development(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, environment="production", secret_key="changeme")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="PAPERFEED_SECRET_KEY"):
        s.secret()


def test_development_gets_a_secret_without_configuration(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, environment="development")
    assert len(s.secret()) > 16


def test_database_url_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.db_url == f"sqlite:///{tmp_path / 'paperfeed.db'}"


def test_redacted_hides_secrets_and_url_passwords(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path,
        secret_key="s3cr3t-value",  # type: ignore[arg-type]
        database_url="postgresql+psycopg://u:hunter2@db/paperfeed",
        smtp_password="mailpass",  # type: ignore[arg-type]
    )
    shown = "\n".join(s.redacted().values())
    assert "s3cr3t-value" not in shown and "hunter2" not in shown and "mailpass" not in shown
    assert "postgresql+psycopg://u:***@db/paperfeed" in shown


def test_settings_read_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "x"))
    monkeypatch.setenv("PAPERFEED_BASE_URL", "https://papers.example.org")
    s = Settings()
    assert s.data_dir == tmp_path / "x" and s.base_url == "https://papers.example.org"


@pytest.mark.parametrize("name, value", [
    ("PAPERFEED_WORKERS", "abc"),
    ("PAPERFEED_ENVIRONMENT", "staging"),
    ("PAPERFEED_AUTO_FEATURE_RULES", "not json"),
    ("PAPERFEED_AUTO_FEATURE_RULES", '[{"category": 5}]'),
    ("PAPERFEED_TRUSTED_PROXIES", "10.0.0.1"),
    ("PAPERFEED_TRUSTED_PROXIES", '["nope"]'),
    ("PAPERFEED_DATABASE_URL", "garbage"),
    ("PAPERFEED_DATABASE_URL", "mysql://u@db/paperfeed"),
    ("PAPERFEED_DATABASE_URL", "postgres://u:pw@db/paperfeed"),
    ("PAPERFEED_DATABASE_URL", "postgresql+psycopg2://u:pw@db/paperfeed"),
])
@pytest.mark.parametrize("command", [["config"], ["search", "x"], ["migrate"]])
def test_a_bad_setting_is_one_line_naming_the_variable_not_a_bug(
    tmp_path: Path, name: str, value: str, command: list[str]
) -> None:
    """An operator's typo in the environment was 'paperfeed ... failed unexpectedly:
    ValidationError ... (a bug in paperfeed)': it is their setting, named, and what it takes."""
    from typer.testing import CliRunner

    from paperfeed.cli import app

    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_ENVIRONMENT": "development",
           name: value}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: config: "), result.stderr
    assert name in lines[0] and "a bug in paperfeed" not in lines[0]
    assert not (tmp_path / "data").exists()  # nothing created on the way
    assert "pw@" not in result.output  # a password in a URL is never echoed
