"""Member tests run against a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app
from tests.members_support import Inbox, smtp  # noqa: F401 - fixture


@pytest.fixture
def settings(tmp_path: Path, smtp: tuple[Inbox, int]) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path / "data",
        environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://testserver",
        arxiv_delay_seconds=0,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        http_retries=0,
    )


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:  # noqa: F811
    return smtp[0]


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def both(
    request: pytest.FixtureRequest, settings: Settings
) -> Iterator[tuple[Settings, Engine]]:
    """(settings, migrated engine) on SQLite, then on a fresh PostgreSQL database."""
    chosen = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    chosen.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(chosen)
    migrate(engine)
    yield chosen, engine
    engine.dispose()
