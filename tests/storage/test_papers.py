from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select

from paperfeed.models import Author, Featured, Paper, Submitter
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, get_paper, upsert_papers
from paperfeed.storage.schema import featured, users

NOW = datetime(2025, 6, 16, 8, 0)


def _paper(**kw: object) -> Paper:
    base: dict[str, object] = {
        "id": "2506.00001",
        "title": "Sparse attention",
        "abstract": "We study sparse attention.",
        "authors": [Author("Ada Lovelace")],
        "source": "test",
    }
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def test_upsert_merges_fields_a_source_does_not_know(engine: Engine) -> None:
    with write(engine) as conn:
        upsert_papers(conn, [_paper(categories=["cs.CL"], github_repo=None)], now=NOW)
        s = upsert_papers(conn, [_paper(github_repo="https://github.com/a/b")], now=NOW)
    assert (s.new, s.updated) == (0, 1)
    with engine.connect() as conn:
        row = get_paper(conn, "2506.00001")
    assert row is not None
    assert row["categories"] == ["cs.CL"] and row["github_repo"] == "https://github.com/a/b"


def test_upsert_twice_reports_unchanged(engine: Engine) -> None:
    with write(engine) as conn:
        upsert_papers(conn, [_paper()], now=NOW)
        s = upsert_papers(conn, [_paper()], now=NOW)
    assert (s.new, s.updated, s.unchanged) == (0, 0, 1)


def test_imported_submitter_never_matches_a_local_member_of_the_same_name(engine: Engine) -> None:
    with write(engine) as conn:
        conn.execute(
            users.insert().values(
                username="akhaliq", email="me@example.org", role="member", banned=False,
                external=False, created_at=NOW,
            )
        )
        upsert_papers(conn, [_paper(), _paper(id="2506.00002")], now=NOW)
        add_featured(
            conn,
            [
                Featured("2506.00001", date(2025, 6, 16), NOW, Submitter("akhaliq"), "hf"),
                Featured("2506.00002", date(2025, 6, 16), NOW, Submitter("akhaliq"), "hf"),
            ],
            now=NOW,
        )
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.username, users.c.external).join(
                featured, featured.c.submitter_id == users.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [("akhaliq@hf", True), ("akhaliq@hf", True)]
