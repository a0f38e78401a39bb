"""The reads of `paperfeed eval recommend`: who submitted what on which day, every day's list,
and when each paper was first featured (the evaluation's task is built from these; the model
itself reads through `storage.recommend` like the service does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, func, select

from paperfeed.storage.schema import featured, papers, users

CHUNK = 500


def submissions(conn: Connection) -> list[tuple[str, str, date]]:
    """(submitter username, paper id, day) of every featured row with a submitter."""
    return [(u, p, d) for u, p, d in conn.execute(
        select(users.c.username, featured.c.paper_id, featured.c.day)
        .join(users, users.c.id == featured.c.submitter_id)
        .where(featured.c.removed.is_(False))
        .order_by(featured.c.day, featured.c.id)
    )]


def day_lists(conn: Connection) -> dict[date, list[tuple[str, int]]]:
    """{day: [(paper id, upvotes), ...]} of every featured day (the eval's candidate lists)."""
    out: dict[date, list[tuple[str, int]]] = {}
    rows = conn.execute(
        select(featured.c.day, featured.c.paper_id,
               papers.c.upstream_upvotes + papers.c.member_upvotes)
        .join(papers, papers.c.id == featured.c.paper_id)
        .where(featured.c.removed.is_(False), papers.c.hidden.is_(False))
        .order_by(featured.c.day, featured.c.id)
    )
    for day, pid, up in rows:
        out.setdefault(day, []).append((pid, int(up or 0)))
    return out


def user_ids(conn: Connection, usernames: Sequence[str]) -> dict[str, int]:
    """{username: users.id} for the given usernames."""
    out: dict[str, int] = {}
    for i in range(0, len(usernames), CHUNK):
        out.update(conn.execute(select(users.c.username, users.c.id).where(
            users.c.username.in_(list(usernames[i : i + CHUNK])))).all())
    return out


def paper_days(conn: Connection) -> dict[str, date]:
    """{paper id: first featured day} (what "before the cut" means for the eval's papers)."""
    rows = conn.execute(
        select(featured.c.paper_id, func.min(featured.c.day)).group_by(featured.c.paper_id)
    )
    return {pid: day for pid, day in rows}

