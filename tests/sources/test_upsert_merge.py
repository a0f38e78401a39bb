"""Upserts from sources: merge rules, change detection, and the FTS index kept in step."""

from __future__ import annotations

from sqlalchemy import text

from paperfeed.models import Author, Paper, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.papers import get_paper, upsert_papers


def store(engine, *papers: Paper):
    with write(engine) as conn:
        return upsert_papers(conn, papers, now=utcnow())


def fts_titles(engine, paper_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            text("select title from papers_fts where paper_id = :p"), {"p": paper_id}
        ).scalars())


def test_changed_title_reindexes_and_upvote_change_keeps_the_index(engine) -> None:
    base = Paper(id="2501.00001", title="Old title", abstract="About x.",
                 authors=[Author("A. Author")], categories=["cs.CL"], source="arxiv")
    assert store(engine, base).new == 1
    upvoted = Paper(id="2501.00001", title="Old title", abstract="About x.",
                    upstream_upvotes=12, num_comments=3, source="hf")
    summary = store(engine, upvoted)
    assert (summary.updated, summary.new) == (1, 0)
    assert fts_titles(engine, "2501.00001") == ["Old title"]
    with engine.connect() as conn:
        row = get_paper(conn, "2501.00001")
    assert row is not None
    assert row["upstream_upvotes"] == 12 and row["upstream_comments"] == 3
    assert row["categories"] == ["cs.CL"]  # unknown to HF: kept from arXiv
    assert row["authors"] == [{"name": "A. Author", "hf_user": None}]
    renamed = Paper(id="2501.00001", title="New title", abstract="About x.", version=2)
    assert store(engine, renamed).updated == 1
    assert fts_titles(engine, "2501.00001") == ["New title"]
    assert store(engine, renamed).unchanged == 1
    older = Paper(id="2501.00001", title="New title", abstract="About x.", version=1)
    assert store(engine, older).unchanged == 1  # the highest version seen is kept
