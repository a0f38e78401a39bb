"""Stored keyword-token document counts (`fts_token_docs`): refreshed from the FTS vocabulary,
read first by keyword search's pruning, with an exact fallback for tokens not stored yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.search.keyword import KeywordParams, keyword_search
from paperfeed.search.query import parse
from paperfeed.storage.db import write
from paperfeed.storage.jobs import get_state
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.search import SearchFilters, refresh_token_docs
from paperfeed.storage.search.backend import SqliteBackend
from paperfeed.storage.search.fts5 import TOKEN_DOCS_STATE, token_doc_counts
from tests.cli.test_ingest import env_for
from tests.conftest import FIXTURES
from tests.search.conftest import real_papers


def vocab(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT term, doc FROM papers_fts_vocab"))}


def stored(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT token, docs FROM fts_token_docs"))}


def test_refresh_stores_the_vocabulary_counts_and_records_when(catalog: Engine, now: datetime) -> None:
    assert stored(catalog) == {}  # the migration creates it empty
    done = refresh_token_docs(catalog, now=now)
    expected = vocab(catalog)
    assert stored(catalog) == expected
    assert done.tokens == len(expected) > 1000
    assert done.papers == 40
    assert get_state(catalog, TOKEN_DOCS_STATE) == {"papers": 40, "tokens": len(expected)}
    with catalog.connect() as conn:  # the staging copy is gone
        assert conn.execute(text(
            "SELECT count(*) FROM temp.sqlite_master WHERE name = 'fts_token_docs_new'"
        )).scalar_one() == 0


def test_lookup_reads_the_stored_count_and_falls_back_for_absent_tokens(
    catalog: Engine, now: datetime
) -> None:
    refresh_token_docs(catalog, now=now)
    true_counts = vocab(catalog)
    with write(catalog) as conn:  # a deliberately stale count, and a token dropped from the table
        conn.execute(text("UPDATE fts_token_docs SET docs = 999 WHERE token = 'diffus'"))
        conn.execute(text("DELETE FROM fts_token_docs WHERE token = 'languag'"))
    with catalog.connect() as conn:
        total, counts = token_doc_counts(conn, ["diffus", "languag", "zzzqqq"])
    assert total == 40
    assert counts["diffus"] == 999  # read from the table, not the vocabulary
    assert counts["languag"] == true_counts["languag"] > 0  # absent: counted exactly
    assert counts["zzzqqq"] == 0


def test_stale_counts_shift_pruning_not_matching(catalog: Engine, now: datetime) -> None:
    """A common word made to look rare in the table is kept by pruning; search still works."""
    refresh_token_docs(catalog, now=now)
    params = KeywordParams(max_df_ratio=0.25, min_terms=1, posting_budget=0)
    query = parse("model voice")  # 'model' is in most of the 40 papers, 'voice' in few

    def search() -> list[tuple[str, float]]:  # a fresh backend: no per-process count cache
        backend = SqliteBackend(catalog, data_dir=catalog.url.database, model_id="", dim=0)
        hits, _ = keyword_search(backend, query, SearchFilters(), limit=50, params=params)
        return [(h.paper_id, h.score) for h in hits]

    before = search()
    with write(catalog) as conn:
        conn.execute(text("UPDATE fts_token_docs SET docs = 1 WHERE token = 'model'"))
    after = search()
    assert len(after) > len(before)  # 'model' is searched now, so more papers match
    assert {h[0] for h in before} <= {h[0] for h in after}


def test_papers_added_after_a_refresh_count_only_for_new_tokens(
    engine: Engine, now: datetime
) -> None:
    papers = real_papers()
    with write(engine) as conn:
        upsert_papers(conn, papers[:20], now=now)
    refresh_token_docs(engine, now=now)
    with write(engine) as conn:
        upsert_papers(conn, papers[20:], now=now)
    fresh = vocab(engine)
    table = stored(engine)
    new_tokens = [t for t in fresh if t not in table]
    assert new_tokens
    with engine.connect() as conn:
        total, counts = token_doc_counts(conn, [*new_tokens[:50], "model"])
    assert total == 40
    assert all(counts[t] == fresh[t] for t in new_tokens[:50])  # exact, from the vocabulary
    assert counts["model"] == table["model"] < fresh["model"]  # stale until the next refresh


def test_ingest_refreshes_the_stored_counts(settings: Settings, engine: Engine) -> None:
    path = FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl"
    result = CliRunner().invoke(
        app, ["ingest", "jsonl", str(path), "--no-index", "--no-progress"], env=env_for(settings)
    )
    assert result.exit_code == 0, result.output
    assert "keyword counts:" in result.stderr
    assert stored(engine) == vocab(engine) != {}
