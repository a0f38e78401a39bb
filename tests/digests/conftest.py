"""Digest fixtures: a loopback SMTP sink, settings pointing at it, seeded featured papers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from paperfeed.web.app import create_app
from tests.digests.smtp_sink import Sink, SinkServer
from tests.feed_factories import feature, paper

DAY = date(2025, 6, 16)  # a Monday


@pytest.fixture
def smtp() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture
def sink(smtp: SinkServer) -> Sink:
    return smtp.sink


@pytest.fixture
def settings(tmp_path: Path, smtp: SinkServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://testserver",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="paperfeed <digest@papers.test>",
        digest_retry_backoff_seconds=0.01,
        subscribe_rate_per_address=10,
        subscribe_rate_per_ip=100,
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def seed_papers(engine: Engine, day: date = DAY, n: int = 3) -> list[str]:
    """Feature `n` papers on `day` (upvotes 30, 20, 10, ...); returns their ids in order."""
    papers = [
        paper(
            f"2506.{day.day:02d}{i:03d}",
            title=f"Paper {i} on <b>attention</b> & $x^2$ (day {day})",
            abstract="We study things.\nAcross lines,   with spaces. " * 20,
            authors=["Ada Lovelace", "Alan Turing"],
            upvotes=30 - 10 * i,
        )
        for i in range(n)
    ]
    feature(engine, papers, day)
    return [p.id for p in papers]


def add_subscribers(engine: Engine, n: int, *, frequency: str = "daily") -> list[str]:
    emails = [f"reader{i:04d}@example.org" for i in range(n)]
    with write(engine) as conn:
        for e in emails:
            sstore.add(conn, e, frequency, confirmed=True, now=utcnow())
    return emails


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+", text)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)
