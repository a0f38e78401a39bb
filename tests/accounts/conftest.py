"""Member tests run against a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
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
