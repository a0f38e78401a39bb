"""Engine creation and schema version checks: `connect(settings)` is the one way in.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so readers never block the
writer; PostgreSQL gets a normal pooled engine. Nothing is built at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.errors import SchemaOutOfDate

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Per-connection SQLite page cache (KiB) and memory-mapped I/O (bytes), by engine role.
# "batch" (CLI, ingest, indexing): a 64 MiB private cache speeds up bulk B-tree and FTS writes.
# "web": a worker holds up to 15 pooled connections, each of which filled its own 64 MiB copy
# of the same hot pages (workers at ~420 MB RSS on the 15k catalog, bench/pages.py); reading
# through a memory map instead serves pages straight from the OS page cache, one copy shared
# by every worker and process, and leaves each connection a small cache for what it writes.
_SQLITE_IO = {"batch": (65536, 0), "web": (4096, 1 << 32)}


def _sqlite_pragmas(cache_kib: int, mmap_bytes: int) -> Any:
    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's BEGIN handling then works (see
        # `_sqlite_begin`), and we can issue BEGIN IMMEDIATE for writes.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        cur.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return pragmas


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
    # instead of failing with "database is locked" when a read transaction upgrades.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


def _json_dumps(value: Any) -> str:
    # orjson for JSON columns: bulk ingest serialises three JSON columns per paper.
    return orjson.dumps(value).decode()


def create_db_engine(url: str, *, pool_size: int = 5, role: str = "batch") -> Engine:
    """Create an engine for `url`; creates the parent directory of a SQLite file. `role` is
    "batch" or "web" (SQLite I/O settings; see _SQLITE_IO)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            # web: as many connections as request threads may want at once (a SQLite
            # connection is a file handle and, read through the memory map, a few MiB)
            **({"pool_size": 20, "max_overflow": 30} if role == "web" else {}),
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        event.listen(engine, "connect", _sqlite_pragmas(*_SQLITE_IO[role]))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def missing_database(settings: Settings) -> Path | None:
    """The SQLite file the settings name when it does not exist yet (None otherwise, and for
    PostgreSQL): commands that need an instance say so instead of creating an empty file."""
    parsed = make_url(settings.db_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def has_schema(path: Path) -> bool:
    """Whether the SQLite file at `path` holds a paperfeed schema (opened read-only; an empty
    or foreign file does not count)."""
    import sqlite3

    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return row is not None


def connect(settings: Settings, *, role: str = "batch") -> Engine:
    """The engine for the configured database; web workers pass role="web"."""
    return create_db_engine(settings.db_url, role=role)


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success, rolls back on error."""
    with engine.connect() as conn, write_on(conn):
        yield conn


@contextmanager
def write_on(conn: Connection) -> Iterator[Connection]:
    """`write` on a connection the caller already holds (for work that spans a read and then a
    write transaction on one connection, e.g. a TEMP table built first, copied in second)."""
    from paperfeed.storage import versions

    conn.info["write"] = True
    try:
        with conn.begin():
            yield conn
            versions.flush(conn)  # last statement: see storage/versions.py
    finally:
        versions.discard(conn)
        conn.info.pop("write", None)


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str | None]:
    """Upgrade to the newest schema. Returns (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database is at the newest migration."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        state = "is empty" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"storage: the database {state}, the code needs {head}; run `paperfeed migrate` "
            "(or `paperfeed init`)"
        )
