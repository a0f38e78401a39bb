"""The content version: one counter that every write changing what pages show raises, so web
workers can key cached page fragments on it (web/pages/cache.py) and never serve one after a
change, whichever worker or machine made it.

Writers call `touch(conn)`. Inside `db.write()` the raise is deferred to the end of the
transaction (`flush`, called by `db.write_on` just before COMMIT), once per transaction: on
PostgreSQL the counter row is locked only while the transaction commits, and a transaction
never waits for another row while holding it (no deadlock with vote or ingest row locks).
Outside `write()` (tests, one-off scripts) `touch` raises it at once. Writes that forget to
touch still show: cached fragments also expire after `PAPERFEED_PAGE_CACHE_SECONDS`.
"""

from __future__ import annotations

import weakref

from sqlalchemy import Connection, Engine, inspect, select, update

from paperfeed.storage.schema import site_versions

CONTENT = "content"
_PENDING = "versions_pending"
_READY: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose schema has the table


def _ready(conn: Connection) -> bool:
    """Whether the table exists (it does not before migration 0011: writes made by migrations
    or tools on an older schema must still work). Checked until seen once per engine."""
    if conn.engine in _READY:
        return True
    if inspect(conn).has_table(site_versions.name):
        _READY.add(conn.engine)
        return True
    return False


def touch(conn: Connection) -> None:
    """This transaction changes what pages show."""
    if conn.info.get("write"):
        conn.info[_PENDING] = True
    else:
        bump(conn)


def flush(conn: Connection) -> None:
    """Raise the content version if this transaction touched it (db.write_on calls this)."""
    if conn.info.pop(_PENDING, False):
        bump(conn)


def discard(conn: Connection) -> None:
    """Forget a pending raise (the transaction rolled back)."""
    conn.info.pop(_PENDING, None)


def bump(conn: Connection) -> None:
    if not _ready(conn):
        return
    conn.execute(
        update(site_versions)
        .where(site_versions.c.name == CONTENT)
        .values(value=site_versions.c.value + 1)
    )


def current(conn: Connection) -> int:
    """The content version now (0 before anything was written, or before migration 0011)."""
    if not _ready(conn):
        return 0
    value = conn.execute(_CURRENT).scalar_one_or_none()
    return int(value or 0)


def read(engine: Engine) -> int:
    """The content version now, in a connection of its own. Members' page requests read it on
    every request (web/pages/cache.py): on PostgreSQL it is read outside a transaction, one
    round trip instead of three (BEGIN, the query, ROLLBACK on return to the pool)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return current(conn)
    with engine.connect() as conn:
        return current(conn)


# Built once: members' page requests read it on every request (web/pages/cache.py).
_CURRENT = select(site_versions.c.value).where(site_versions.c.name == CONTENT)
