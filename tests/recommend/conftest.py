"""Recommendation tests run on the bundled demo corpus: 2,926 real Hugging Face daily papers
with their real vectors from the bundled model (precomputed, so no test embeds anything).

One store per backend for the whole session (loading takes seconds); tests stay independent by
each using members of their own.
"""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.demo import load_demo
from paperfeed.models import Member
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.schema import papers

NOW = datetime(2026, 8, 22, 12, 0, 0)
_names = itertools.count()


@dataclass
class Demo:
    settings: Settings
    engine: Engine

    def member(self, prefix: str = "reader") -> Member:
        n = next(_names)
        with write(self.engine) as conn:
            return users.create_user(
                conn, email=f"{prefix}{n}-{uuid.uuid4().hex[:6]}@example.org", now=NOW,
                username=f"{prefix}{n}{uuid.uuid4().hex[:4]}",
            )

    def titled(self, word: str, limit: int = 50) -> list[str]:
        """Ids of demo papers whose title contains `word` (case-insensitive), newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers.c.id, papers.c.title).order_by(papers.c.published_at.desc(),
                                                           papers.c.id)
            ).all()
        return [pid for pid, title in rows if word.lower() in title.lower()][:limit]

    def title(self, paper_id: str) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(select(papers.c.title).where(papers.c.id == paper_id))
                       .scalar_one())


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://testserver",
        arxiv_delay_seconds=0,
    )


def _load(settings: Settings) -> Demo:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    load_demo(engine, settings=settings)
    return Demo(settings, engine)


@pytest.fixture(scope="session")
def demo_sqlite() -> Iterator[Demo]:
    root = Path(tempfile.mkdtemp(prefix="paperfeed-foryou-"))
    demo = _load(_settings(root / "data"))
    yield demo
    demo.engine.dispose()


@pytest.fixture(scope="session")
def demo_pg(pg_server_url: str) -> Iterator[Demo]:
    name = f"foryou_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    root = Path(tempfile.mkdtemp(prefix="paperfeed-foryou-pg-"))
    demo = _load(_settings(root / "data", url))
    yield demo
    demo.engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> Demo:
    """The demo store on SQLite, then on PostgreSQL (pgvector)."""
    return request.getfixturevalue("demo_sqlite" if request.param == "sqlite" else "demo_pg")
