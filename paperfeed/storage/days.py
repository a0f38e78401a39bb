"""Which days have featured papers (the calendar date picker), one grouped query per month."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, false, func, select

from paperfeed.storage.schema import featured, papers


def day_counts(conn: Connection, start: date, end: date) -> dict[date, int]:
    """{day: visible featured papers} for days start..end (inclusive) that have any."""
    rows = conn.execute(
        select(featured.c.day, func.count(func.distinct(featured.c.paper_id)))
        .select_from(featured.join(papers, papers.c.id == featured.c.paper_id))
        .where(featured.c.day >= start, featured.c.day <= end,
               featured.c.removed == false(), papers.c.hidden == false())
        .group_by(featured.c.day)
    ).all()
    return {d if isinstance(d, date) else date.fromisoformat(str(d)): int(n) for d, n in rows}
