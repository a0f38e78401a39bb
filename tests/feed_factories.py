"""Small factories for feed tests: insert papers and featured days through storage.papers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine

from paperfeed.models import Author, Featured, Paper, Submitter
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, upsert_papers

NOW = datetime(2025, 6, 16, 12, 0, 0)


def paper(
    pid: str,
    *,
    title: str | None = None,
    abstract: str | None = None,
    authors: list[str] | None = None,
    upvotes: int = 0,
    published: datetime | None = None,
    comments: int | None = None,
    **extra: object,
) -> Paper:
    return Paper(
        id=pid,
        title=title or f"Paper {pid}",
        abstract=abstract or f"Abstract of {pid}.",
        authors=[Author(n) for n in (authors if authors is not None else ["Ada Lovelace"])],
        upstream_upvotes=upvotes,
        published_at=published or datetime(2025, 6, 12, 17, 0),
        num_comments=comments,
        categories=["cs.LG"],
        source="test",
        **extra,  # type: ignore[arg-type]
    )


def feature(
    engine: Engine,
    papers: list[Paper],
    day: date,
    *,
    submitter: str | None = "alice",
    fullname: str | None = "Alice A.",
    at: datetime | None = None,
    now: datetime = NOW,
) -> None:
    """Upsert `papers` and feature them all on `day` (submitted at `at`, default 04:00 that day)."""
    when = at or datetime.combine(day, time(4, 0))
    sub = Submitter(name=submitter, fullname=fullname) if submitter else None
    with write(engine) as conn:
        upsert_papers(conn, papers, now=now)
        add_featured(
            conn,
            [
                Featured(p.id, day, submitted_at=when + timedelta(minutes=i), submitter=sub,
                         source="test")
                for i, p in enumerate(papers)
            ],
            now=now,
        )
