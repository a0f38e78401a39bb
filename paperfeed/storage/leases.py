"""Job leases (`job_leases`): at most one process runs a named scheduled job at a time.

A lease is a row (name, holder, expires_at). Acquiring inserts it, or takes it over when it
expired or is already ours: one `INSERT .. ON CONFLICT DO NOTHING` plus one conditional
UPDATE, so it is atomic on SQLite (inside BEGIN IMMEDIATE) and on PostgreSQL alike, across
processes and machines sharing the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select

from paperfeed.storage.db import write
from paperfeed.storage.deliveries import insert_ignore
from paperfeed.storage.schema import job_leases


def acquire(engine: Engine, name: str, holder: str, *, ttl_seconds: int, now: datetime) -> bool:
    """Take (or renew) the lease on `name` for `ttl_seconds`; False if someone else holds it."""
    expires = now + timedelta(seconds=ttl_seconds)
    with write(engine) as conn:
        inserted = conn.execute(
            insert_ignore(conn, job_leases).values(name=name, holder=holder, expires_at=expires)
        )
        if inserted.rowcount == 1:
            return True
        updated = conn.execute(
            job_leases.update()
            .where(
                job_leases.c.name == name,
                or_(job_leases.c.expires_at <= now, job_leases.c.holder == holder),
            )
            .values(holder=holder, expires_at=expires)
        )
        return bool(updated.rowcount)


def release(engine: Engine, name: str, holder: str) -> None:
    with write(engine) as conn:
        conn.execute(
            job_leases.delete().where(job_leases.c.name == name, job_leases.c.holder == holder)
        )


def take_over(
    engine: Engine, name: str, old: str, holder: str, *, ttl_seconds: int, now: datetime
) -> bool:
    """Take the lease on `name` from `old` (a holder known to be gone) if `old` still holds
    it; False when someone else got there first."""
    with write(engine) as conn:
        updated = conn.execute(
            job_leases.update()
            .where(job_leases.c.name == name, job_leases.c.holder == old)
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl_seconds))
        )
        return bool(updated.rowcount)


def lease_of(engine: Engine, name: str, *, now: datetime) -> tuple[str, datetime] | None:
    """(holder, expires_at) of the unexpired lease on `name`, if any."""
    with engine.connect() as conn:
        row = conn.execute(
            select(job_leases.c.holder, job_leases.c.expires_at).where(
                job_leases.c.name == name, job_leases.c.expires_at > now
            )
        ).first()
    return (row[0], row[1]) if row is not None else None


def holder_of(engine: Engine, name: str, *, now: datetime) -> str | None:
    """Who holds an unexpired lease on `name`, if anyone."""
    held = lease_of(engine, name, now=now)
    return held[0] if held is not None else None
