"""Fixtures for collections and saved-search tests: one migrated database per module and
backend (SQLite file, real PostgreSQL), shared by its tests (each test makes its own members,
so tests never see each other's data). Creating and migrating a PostgreSQL database costs
~2 s; once per module keeps the suite fast."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.models import Member
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write

SECRET = "test-secret-key-for-paperfeed-tests"


def module_settings(tmp: Path, database_url: str | None = None, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp / "data",
        environment="development",
        database_url=database_url,
        secret_key=SECRET,  # type: ignore[arg-type]
        base_url="http://testserver",
        arxiv_delay_seconds=0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings of a migrated database shared by the module's tests, on each backend."""
    tmp = tmp_path_factory.mktemp(f"db-{request.param}")
    if request.param == "sqlite":
        cfg = module_settings(tmp)
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        eng = connect(cfg)
        migrate(eng)
        eng.dispose()
        yield cfg
        return
    server_url: str = request.getfixturevalue("pg_server_url")
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    cfg = module_settings(tmp, url)
    eng = connect(cfg)
    migrate(eng)
    eng.dispose()
    yield cfg
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="module")
def db(backend: Settings) -> Iterator[Engine]:
    eng = connect(backend)
    yield eng
    eng.dispose()


def new_member(engine: Engine, prefix: str = "m", *, now: datetime | None = None) -> Member:
    """A member with a unique name (tests sharing a database never collide)."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    with write(engine) as conn:
        return users.create_user(
            conn, email=f"{name}@example.org", now=now or datetime(2025, 1, 1), username=name
        )
