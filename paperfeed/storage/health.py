"""Database checks for `/readyz` and the instance gauges of `/metrics`.

Readiness asks three things of the database: is it reachable (one `SELECT 1` on a fresh
connection, not a pooled one that may outlive the database), is it the database we were
configured with (a SQLite file that was moved or deleted is "gone", although open connections
still read the old inode and a new one would silently create an empty file), and is its schema
the one the code needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from paperfeed.storage.db import current_revision, head_revision
from paperfeed.storage.schema import embeddings, papers


@dataclass(frozen=True)
class DatabaseCheck:
    ok: bool
    detail: str


def sqlite_file(engine: Engine) -> Path | None:
    """The SQLite database file of `engine` (None for PostgreSQL or an in-memory database)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser()


def check_database(engine: Engine, *, head: str | None = None) -> DatabaseCheck:
    """Reachable, in place and at the newest schema revision (`head`: computed if not given)."""
    path = sqlite_file(engine)
    if path is not None and not path.is_file():
        return DatabaseCheck(False, f"database file {path} is missing")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means "not reachable"
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        return DatabaseCheck(False, f"database unreachable: {type(exc).__name__}: {first[:200]}")
    head = head if head is not None else head_revision(engine)
    if current != head:
        return DatabaseCheck(False, f"schema at {current or '(empty)'}, the code needs {head}")
    return DatabaseCheck(True, f"schema {current}")


def instance_counts(engine: Engine, model_id: str | None) -> dict[str, float]:
    """Papers in the catalog and papers without a vector of `model_id` (the embedding queue)."""
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
        out = {"papers": float(total)}
        if model_id is not None:
            embedded = int(
                conn.execute(
                    select(func.count()).select_from(embeddings)
                    .where(embeddings.c.model_id == model_id)
                ).scalar_one()
            )
            out["embeddings_pending"] = float(max(total - embedded, 0))
    return out
