"""Shared fixtures: real SQLite files under tmp_path, the real app in-process."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Property tests check behaviour, not speed: no per-example deadline (on a loaded CI machine a
# first example taking 300 ms made hypothesis report "unreliable timings" as a failure).
hypothesis_settings.register_profile("paperfeed", deadline=None)
# CI gates landing, so there the examples are the same on every run (derandomized); locally
# each run draws new ones, and what they find is pinned with @example.
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True)
hypothesis_settings.load_profile(os.environ.get("PAPERFEED_HYPOTHESIS_PROFILE", "paperfeed"))


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} beside the checkout (not present)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://testserver",
        arxiv_delay_seconds=0,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    eng = connect(settings)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def now() -> datetime:
    return datetime(2025, 6, 16, 12, 0, 0)


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 (+ pgvector) started from the pgserver wheel, for the session."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver not installed (pip install .[test])")
    server, error = None, None
    # pg_ctl gets 10 s to start inside pgserver; on a loaded machine that can run out, so retry.
    for _attempt in range(3):
        try:
            # Not under pytest's basetemp: concurrent pytest sessions prune old basetemps
            # (keeping 3), which pulled the data directory from under a running server.
            server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="paperfeed-pg-")),
                                         cleanup_mode="delete")
            break
        except Exception as exc:  # pragma: no cover - depends on the machine
            error = exc
    if server is None:
        message = f"could not start PostgreSQL via pgserver: {error!r}"
        if os.environ.get("PAPERFEED_TEST_REQUIRE_PG"):
            pytest.fail(message)
        pytest.skip(message)
    uri = server.get_uri()
    yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


@contextmanager
def pg_database(pg_server_url: str) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database on the test server (dropped after)."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_index_url(pg_server_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database with no papers, shared by the session: what asks the
    keyword index's own text functions (stemming, ts_headline) without writing anything."""
    from sqlalchemy import create_engine

    from paperfeed.storage.db import migrate

    with pg_database(pg_server_url) as url:
        engine = create_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def pg_settings(pg_server_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh PostgreSQL database (created per test, dropped after)."""
    with pg_database(pg_server_url) as url:
        yield Settings(
            data_dir=tmp_path / "data",
            environment="development",
            database_url=url,
            secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
            base_url="http://testserver",
            arxiv_delay_seconds=0,
        )
