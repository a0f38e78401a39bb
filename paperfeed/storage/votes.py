"""Member upvotes: one row per (member, paper), and `papers.member_upvotes` kept exactly in step.

Exact under concurrency without read-modify-write: the vote is an INSERT that does nothing on
conflict with the (user_id, paper_id) primary key, and the paper's count is then recomputed
as `count(*)` in the same write transaction. The paper row is locked first (FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so the recount of one
transaction always sees the votes committed by the one before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from paperfeed.errors import NotFound
from paperfeed.storage import versions
from paperfeed.storage.schema import papers, votes


def _lock_paper(conn: Connection, paper_id: str) -> bool:
    """Lock the paper row for the rest of the transaction; False if there is no such paper."""
    query = select(papers.c.id, papers.c.hidden).where(papers.c.id == paper_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return row is not None


def _insert_vote(conn: Connection, user_id: int, paper_id: str, now: datetime) -> bool:
    values = {"user_id": user_id, "paper_id": paper_id, "created_at": now}
    if conn.dialect.name in ("sqlite", "postgresql"):
        ins = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
        # RETURNING says whether a row went in (rowcount is not reliable for ON CONFLICT
        # through every driver).
        stmt = ins(votes).values(**values).on_conflict_do_nothing().returning(votes.c.user_id)
        return conn.execute(stmt).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(votes.insert().values(**values))
        return True
    except IntegrityError:
        return False


def recount(conn: Connection, paper_id: str) -> int:
    """Set papers.member_upvotes from the votes table in one statement; return it."""
    conn.execute(
        update(papers)
        .where(papers.c.id == paper_id)
        .values(
            member_upvotes=select(func.count())
            .select_from(votes)
            .where(votes.c.paper_id == paper_id)
            .scalar_subquery()
        )
    )
    return int(
        conn.execute(select(papers.c.member_upvotes).where(papers.c.id == paper_id)).scalar_one()
    )


def add_vote(conn: Connection, *, user_id: int, paper_id: str, now: datetime) -> tuple[bool, int]:
    """Upvote (call in a write transaction). Returns (whether a vote was added, member count).
    A second upvote by the same member changes nothing."""
    if not _lock_paper(conn, paper_id):
        raise NotFound(f"votes: no paper {paper_id!r}")
    added = _insert_vote(conn, user_id, paper_id, now)
    if added:
        versions.touch(conn)
    return added, recount(conn, paper_id)


def remove_vote(conn: Connection, *, user_id: int, paper_id: str) -> tuple[bool, int]:
    """Withdraw an upvote (idempotent). Returns (whether a vote was removed, member count)."""
    if not _lock_paper(conn, paper_id):
        raise NotFound(f"votes: no paper {paper_id!r}")
    result = conn.execute(
        delete(votes).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
    )
    if result.rowcount == 1:
        versions.touch(conn)
    return result.rowcount == 1, recount(conn, paper_id)


def has_voted(conn: Connection, user_id: int, paper_id: str) -> bool:
    return (
        conn.execute(
            select(votes.c.user_id).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
        ).first()
        is not None
    )


def voted_ids(conn: Connection, user_id: int, paper_ids: Iterable[str]) -> set[str]:
    """Which of `paper_ids` the member has upvoted (one query for a whole list page)."""
    ids = list(paper_ids)
    if not ids:
        return set()
    return set(
        conn.execute(
            select(votes.c.paper_id).where(votes.c.user_id == user_id, votes.c.paper_id.in_(ids))
        ).scalars()
    )


def voted_by(conn: Connection, user_id: int, *, limit: int) -> set[str] | None:
    """Every paper the member upvoted, or None when that is more than `limit` papers (callers
    then ask `voted_ids` for the papers of one page)."""
    ids = set(conn.execute(
        select(votes.c.paper_id).where(votes.c.user_id == user_id).limit(limit + 1)
    ).scalars())
    return ids if len(ids) <= limit else None


def votes_since(conn: Connection, since: datetime) -> dict[str, list[datetime]]:
    """Vote times per paper since `since`, for time-decayed trending scores."""
    out: dict[str, list[datetime]] = {}
    for pid, at in conn.execute(
        select(votes.c.paper_id, votes.c.created_at).where(votes.c.created_at >= since)
    ).tuples():
        out.setdefault(pid, []).append(at)
    return out
