"""Resumable job state: small JSON values under a key in `job_state` (OAI resumption tokens,
the next arXiv API page, ...). Callers write it in the same transaction as the data it covers,
so after a crash the saved position never runs ahead of what was committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from paperfeed.storage.schema import job_state


def get_state(conn: Connection | Engine, key: str) -> Any | None:
    """The value stored under `key`, or None."""
    query = select(job_state.c.value).where(job_state.c.key == key)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return c.execute(query).scalar_one_or_none()
    return conn.execute(query).scalar_one_or_none()


def set_state(conn: Connection, key: str, value: Any, *, now: datetime) -> None:
    """Store `value` (JSON-able) under `key`; call inside a write transaction."""
    updated = conn.execute(
        job_state.update().where(job_state.c.key == key).values(value=value, updated_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(job_state.insert().values(key=key, value=value, updated_at=now))


def clear_state(conn: Connection, key: str) -> None:
    """Forget `key` (the job finished); call inside a write transaction."""
    conn.execute(delete(job_state).where(job_state.c.key == key))
