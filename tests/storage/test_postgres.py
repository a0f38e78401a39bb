"""The same storage code on a real PostgreSQL server (pgserver), the scale-out engine."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, text

from paperfeed.config import Settings
from paperfeed.models import Author, Featured, Paper, Submitter
from paperfeed.storage.db import check_schema, connect, migrate, write
from paperfeed.storage.papers import add_featured, get_paper, upsert_papers
from paperfeed.storage.schema import featured

pytestmark = pytest.mark.postgres


def _paper(pid: str, title: str) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract="We study sparse attention for long documents.",
        authors=[Author("Ada Lovelace"), Author("Alan Turing")],
        categories=["cs.CL", "cs.LG"],
        published_at=datetime(2025, 6, 13, 17, 0),
        source="test",
    )


def test_migrations_and_upserts_run_on_postgresql(pg_settings: Settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    check_schema(engine)
    now = datetime(2025, 6, 16, 8, 0)
    with write(engine) as conn:
        first = upsert_papers(conn, [_paper("2506.00001", "Sparse attention")], now=now)
        n = add_featured(
            conn,
            [Featured("2506.00001", date(2025, 6, 16), now, Submitter("akhaliq"), "hf")],
            now=now,
        )
    assert (first.new, n) == (1, 1)
    with write(engine) as conn:
        again = upsert_papers(conn, [_paper("2506.00001", "Sparse attention")], now=now)
        n2 = add_featured(conn, [Featured("2506.00001", date(2025, 6, 16), now, None, "hf")], now=now)
    assert (again.new, again.updated, again.unchanged, n2) == (0, 0, 1, 0)
    with engine.connect() as conn:
        row = get_paper(conn, "2506.00001")
        assert row is not None and [a["name"] for a in row["authors"]] == ["Ada Lovelace", "Alan Turing"]
        assert conn.execute(select(featured.c.day)).scalar_one() == date(2025, 6, 16)
        hits = conn.execute(
            text("SELECT id FROM papers WHERE search_vector @@ plainto_tsquery('english', 'attention')")
        ).scalars().all()
        assert hits == ["2506.00001"]
    engine.dispose()


def test_migration_0016_numbers_papers_in_the_order_they_were_added(pg_settings: Settings) -> None:
    """`papers.added_seq` (the keyword scan limit's "most recently added"): papers already
    stored are numbered by when they were first stored, then id; new ones follow; down and up
    again works."""
    from alembic import command

    from paperfeed.storage.db import alembic_config

    engine = connect(pg_settings)
    config = alembic_config(engine)
    command.upgrade(config, "0015")
    with write(engine) as conn:
        upsert_papers(conn, [_paper("2506.00009", "Later id, stored first")],
                      now=datetime(2025, 6, 16, 8, 0))
        upsert_papers(conn, [_paper("2506.00002", "B"), _paper("2506.00001", "A")],
                      now=datetime(2025, 6, 17, 8, 0))
    command.upgrade(config, "head")
    with write(engine) as conn:
        upsert_papers(conn, [_paper("2401.00001", "Old id, stored last")],
                      now=datetime(2025, 6, 18, 8, 0))

    def order() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT id FROM papers ORDER BY added_seq")).scalars())

    assert order() == ["2506.00009", "2506.00001", "2506.00002", "2401.00001"]
    command.downgrade(config, "0015")
    command.upgrade(config, "head")
    check_schema(engine)
    assert order() == ["2506.00009", "2506.00001", "2506.00002", "2401.00001"]
    engine.dispose()
