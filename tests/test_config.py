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
