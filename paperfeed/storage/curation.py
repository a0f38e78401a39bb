"""Candidates for auto-feature rules: recent, visible papers never featured on any day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, select
from sqlalchemy.engine import RowMapping

from paperfeed.storage.schema import featured, papers


def rule_candidates(
    conn: Connection, *, published_since: datetime, paper_ids: Iterable[str] | None = None
) -> list[RowMapping]:
    """Visible papers published since `published_since` that no day lists yet."""
    query = select(
        papers.c.id, papers.c.categories, papers.c.primary_category, papers.c.published_at,
        papers.c.member_upvotes, papers.c.upstream_upvotes,
    ).where(
        papers.c.hidden.is_(False),
        papers.c.published_at >= published_since,
        ~select(featured.c.id).where(featured.c.paper_id == papers.c.id).exists(),
    )
    if paper_ids is not None:
        query = query.where(papers.c.id.in_(list(paper_ids)))
    return list(conn.execute(query).mappings())


def featured_on(conn: Connection, paper_id: str, day: date) -> RowMapping | None:
    """The featured entry of `paper_id` on `day` (removed ones too), or None."""
    return (
        conn.execute(
            select(featured).where(featured.c.paper_id == paper_id, featured.c.day == day)
        )
        .mappings()
        .first()
    )
