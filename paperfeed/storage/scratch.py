"""A scratch database that a command may fill and empty again (`paperfeed eval retrieval
--database-url`): checked before use, so a real catalog is never taken for a scratch one.

A database qualifies when it holds no tables at all, or only what an earlier scratch run left
(its `job_state` carries `SCRATCH_KEY`). `claim` migrates it and records the key; `clear` drops
every table in the connection's schema (PostgreSQL) or every table and trigger (SQLite).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from paperfeed.errors import BadRequest
from paperfeed.models import utcnow
from paperfeed.storage.db import migrate, write
from paperfeed.storage.jobs import get_state, set_state

SCRATCH_KEY = "scratch:eval"


def claim(engine: Engine) -> None:
    """Make `engine`'s database the scratch store (empty, or a previous scratch; migrated)."""
    tables = set(inspect(engine).get_table_names())
    if tables and not ("job_state" in tables and get_state(engine, SCRATCH_KEY)):
        raise BadRequest(
            f"eval: {engine.url.render_as_string(hide_password=True)} already holds "
            f"{len(tables)} tables that no earlier `eval` run made; --database-url must name an "
            "empty scratch database (it is filled and emptied again)"
        )
    clear(engine)
    migrate(engine)
    with write(engine) as conn:
        set_state(conn, SCRATCH_KEY, {"by": "paperfeed eval"}, now=utcnow())


def clear(engine: Engine) -> None:
    """Drop every table (and with them their indexes and triggers) of the scratch database."""
    names = inspect(engine).get_table_names()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            virtual = [r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE "
                "'CREATE VIRTUAL TABLE%'"))]
            for name in virtual:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
            names = inspect(conn).get_table_names()
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        else:
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
