"""Fixed-window rate limits kept in the database, so every web worker shares the counts."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.errors import RateLimited
from paperfeed.storage.db import write
from paperfeed.storage.schema import rate_limits

MAX_KEY = 200  # the column holds 255; longer keys keep their kind and hash the rest


def bounded_key(key: str) -> str:
    """`key` itself when short, else its first part (`kind:scope:`) + a SHA-256 of the whole,
    so client-supplied text (an address, a header) never overflows the column."""
    if len(key) <= MAX_KEY:
        return key
    head = ":".join(key.split(":", 2)[:2])[:64]
    return f"{head}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def hit(
    engine: Engine, key: str, *, limit: int, window_seconds: int, now: datetime, what: str
) -> None:
    """Count one action under `key`; raise RateLimited (429 + Retry-After) past `limit`."""
    with write(engine) as conn:
        hit_in(conn, key, limit=limit, window_seconds=window_seconds, now=now, what=what)


def hit_in(
    conn: Connection, key: str, *, limit: int, window_seconds: int, now: datetime, what: str
) -> None:
    """`hit` inside the caller's write transaction (so a check and the action it guards
    commit together: one write instead of several).

    The counter row is created with INSERT ... ON CONFLICT DO NOTHING and then locked, so two
    first hits at once on PostgreSQL do not collide on the primary key (SQLite's BEGIN
    IMMEDIATE already serialises them)."""
    key = bounded_key(key)
    window = timedelta(seconds=window_seconds)
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    conn.execute(
        insert(rate_limits).values(key=key, window_start=now, count=0).on_conflict_do_nothing()
    )
    query = select(rate_limits.c.window_start, rate_limits.c.count).where(rate_limits.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    # By position: `Row.count` could be read as the tuple method.
    start, used = row[0], int(row[1])
    if now - start >= window:
        conn.execute(
            rate_limits.update().where(rate_limits.c.key == key).values(window_start=now, count=1)
        )
        return
    if used >= limit:
        retry = int((start + window - now).total_seconds()) + 1
        raise RateLimited(f"too many {what}; try again in {retry} s", retry_after=retry)
    conn.execute(
        rate_limits.update().where(rate_limits.c.key == key).values(count=used + 1)
    )
