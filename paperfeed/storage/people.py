"""Papers by person: a member's upvotes and submissions (profile pages, private feeds).

Author and organisation lookups live in `storage/authors.py`; this module reads votes and
featured rows per member.
"""

from __future__ import annotations

from sqlalchemy import Connection, false, func, select, update
from sqlalchemy.engine import RowMapping

from paperfeed.storage.schema import featured, papers, users, votes

_PAPER_COLS = (
    papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors, papers.c.categories,
    papers.c.primary_category, papers.c.published_at, papers.c.updated_at, papers.c.indexed_at,
    papers.c.upstream_upvotes, papers.c.member_upvotes, papers.c.upstream_comments,
    papers.c.organization, papers.c.github_repo,
)


def upvoted_papers(conn: Connection, user_id: int, *, limit: int = 50) -> list[RowMapping]:
    """The member's upvoted (visible) papers, latest vote first; `voted_at` on each row."""
    return list(
        conn.execute(
            select(*_PAPER_COLS, votes.c.created_at.label("voted_at"))
            .select_from(votes.join(papers, papers.c.id == votes.c.paper_id))
            .where(votes.c.user_id == user_id, papers.c.hidden == false())
            .order_by(votes.c.created_at.desc(), papers.c.id)
            .limit(limit)
        ).mappings()
    )


def submitted_papers(conn: Connection, user_id: int, *, limit: int = 50) -> list[RowMapping]:
    """Papers the member put on a daily list (visible, not removed), latest first."""
    return list(
        conn.execute(
            select(*_PAPER_COLS, featured.c.day, featured.c.submitted_at)
            .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
            .where(
                featured.c.submitter_id == user_id,
                featured.c.removed == false(),
                papers.c.hidden == false(),
            )
            .order_by(featured.c.submitted_at.desc(), papers.c.id)
            .limit(limit)
        ).mappings()
    )


def member_counts(conn: Connection, user_id: int) -> dict[str, int]:
    """How many papers the member submitted (visible) and upvoted."""
    submitted = conn.execute(
        select(func.count()).select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
        .where(featured.c.submitter_id == user_id, featured.c.removed == false(),
               papers.c.hidden == false())
    ).scalar_one()
    upvoted = conn.execute(
        select(func.count()).select_from(votes).where(votes.c.user_id == user_id)
    ).scalar_one()
    return {"submitted": int(submitted), "upvoted": int(upvoted)}


def featured_ids_since(conn: Connection, since: object) -> list[str]:
    """Visible papers featured on `since` or later, latest day first (the thumbnail job)."""
    rows = conn.execute(
        select(featured.c.paper_id, func.max(featured.c.day).label("day"))
        .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
        .where(featured.c.day >= since, featured.c.removed == false(),
               papers.c.hidden == false())
        .group_by(featured.c.paper_id)
        .order_by(func.max(featured.c.day).desc(), featured.c.paper_id)
    ).all()
    return [r.paper_id for r in rows]


def profile(conn: Connection, username: str) -> RowMapping | None:
    """The public side of an account (never the email): for /users/{username}."""
    return conn.execute(
        select(users.c.id, users.c.username, users.c.display_name, users.c.external,
               users.c.created_at, users.c.public_upvotes, users.c.banned, users.c.role)
        .where(users.c.username == username)
    ).mappings().first()


def set_public_upvotes(conn: Connection, user_id: int, value: bool) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(public_upvotes=value))


def public_upvotes(conn: Connection, user_id: int) -> bool:
    return bool(conn.execute(
        select(users.c.public_upvotes).where(users.c.id == user_id)).scalar_one_or_none())
