"""Moderation actions and their log: every action is one row (who, what, when, why).

Each function changes the target and appends to `moderation_log` in the caller's write
transaction, so an action without a log line (or the reverse) cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import aliased

from paperfeed.errors import NotFound
from paperfeed.storage import versions
from paperfeed.storage.schema import featured, moderation_log, papers, users


@dataclass(slots=True)
class LogEntry:
    id: int
    actor: str | None  # username; None for the command line
    action: str
    target_type: str
    target_id: str
    reason: str | None
    created_at: datetime


def record(
    conn: Connection,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    reason: str | None,
    now: datetime,
) -> None:
    conn.execute(
        moderation_log.insert().values(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=(reason or "").strip() or None,
            created_at=now,
        )
    )


def set_paper_hidden(
    conn: Connection, paper_id: str, hidden: bool, *, actor_id: int | None, reason: str | None,
    now: datetime,
) -> None:
    result = conn.execute(update(papers).where(papers.c.id == paper_id).values(hidden=hidden))
    if result.rowcount != 1:
        raise NotFound(f"moderation: no paper {paper_id!r}")
    versions.touch(conn)
    record(conn, actor_id=actor_id, action="hide_paper" if hidden else "unhide_paper",
           target_type="paper", target_id=paper_id, reason=reason, now=now)


def set_featured_removed(
    conn: Connection, featured_id: int, removed: bool, *, actor_id: int | None,
    reason: str | None, now: datetime,
) -> str:
    """Remove (or restore) one featured entry; returns its paper id."""
    row = conn.execute(
        select(featured.c.paper_id, featured.c.day).where(featured.c.id == featured_id)
    ).first()
    if row is None:
        raise NotFound(f"moderation: no featured entry {featured_id}")
    conn.execute(update(featured).where(featured.c.id == featured_id).values(removed=removed))
    versions.touch(conn)
    record(conn, actor_id=actor_id, action="remove_featured" if removed else "restore_featured",
           target_type="featured", target_id=f"{row.paper_id}@{row.day.isoformat()}",
           reason=reason, now=now)
    return str(row.paper_id)


def featured_entries(conn: Connection, paper_id: str) -> list[dict[str, object]]:
    """Featured entries of one paper (for the moderation panel), newest day first."""
    rows = conn.execute(
        select(featured.c.id, featured.c.day, featured.c.source, featured.c.removed,
               users.c.username)
        .outerjoin(users, users.c.id == featured.c.submitter_id)
        .where(featured.c.paper_id == paper_id)
        .order_by(featured.c.day.desc())
    ).mappings()
    return [dict(r) for r in rows]


def list_log(conn: Connection, *, limit: int = 200, offset: int = 0) -> list[LogEntry]:
    actor = aliased(users)
    rows = conn.execute(
        select(
            moderation_log.c.id, actor.c.username, moderation_log.c.action,
            moderation_log.c.target_type, moderation_log.c.target_id, moderation_log.c.reason,
            moderation_log.c.created_at,
        )
        .outerjoin(actor, actor.c.id == moderation_log.c.actor_id)
        .order_by(moderation_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [LogEntry(*r) for r in rows]
