"""Migration 0017 on a PostgreSQL catalog that already holds papers: the keyword index is
rebuilt beside the live one (batches, then a swap), an interrupted run resumes, a second run
does nothing, and a downgrade goes back to the generated columns."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage.db import MIGRATIONS_DIR, alembic_config, current_revision, migrate, write
from paperfeed.storage.papers import upsert_papers
from tests.search.conftest import real_papers

pytestmark = pytest.mark.postgres


def _matches(engine: Engine, words: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text(
            "SELECT id FROM papers WHERE search_vector @@ paperfeed_words_query(:w)"),
            {"w": words}).scalars())


def _migration(revision: str) -> ModuleType:
    path = next((MIGRATIONS_DIR / "versions").glob(f"{revision}_*.py"))
    spec = importlib.util.spec_from_file_location(f"m{revision}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT is_generated FROM information_schema.columns WHERE table_name = 'papers' "
            "AND column_name = 'search_vector'")).scalar_one()


def test_0017_rebuilds_a_filled_catalog_resumes_and_goes_back(pg_settings: Settings) -> None:
    engine = create_engine(pg_settings.database_url or "")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0016")
        papers = real_papers()
        with write(engine) as conn:
            upsert_papers(conn, papers, now=utcnow())
        # an interrupted first attempt: the backfill died after its first batch
        m0017 = _migration("0017")
        batch_ids = sorted(p.id for p in papers)[:7]
        with engine.begin() as conn:
            conn.execute(text(m0017.TEXT_FUNCTION))
            conn.execute(text(m0017.DICTIONARY))
            for statement in m0017.QUERY_FUNCTIONS:
                conn.execute(text(statement))
            conn.execute(text("ALTER TABLE papers ADD COLUMN search_vector_next tsvector"))
            conn.execute(text("ALTER TABLE papers ADD COLUMN search_length_next integer"))
            conn.execute(text(m0017._columns_function("search_vector_next",
                                                      "search_length_next")))
            for statement in m0017.TRIGGER:
                conn.execute(text(statement))
            conn.execute(text(m0017.FILL.format(where="id = ANY(:ids)")), {"ids": batch_ids})
        assert current_revision(engine) == "0016"
        # papers stored meanwhile get the new columns from the trigger
        with write(engine) as conn:
            conn.execute(text("UPDATE papers SET title = 'GPT-4 q&a' WHERE id = :i"),
                         {"i": papers[-1].id})
        assert migrate(engine) == ("0016", "0017")
        assert _generated(engine) == "NEVER"
        with engine.connect() as conn:
            empty = conn.execute(text(
                "SELECT count(*) FROM papers WHERE search_vector IS NULL "
                "OR search_length IS NULL OR search_length = 0")).scalar_one()
            columns = set(conn.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'papers'")).scalars())
        assert empty == 0 and not {"search_vector_next", "search_length_next"} & columns
        assert _matches(engine, "gpt-4") == [papers[-1].id]
        assert _matches(engine, "q&a") == [papers[-1].id]
        # kept by the trigger from now on
        with write(engine) as conn:
            conn.execute(text("UPDATE papers SET abstract = 'State-of-the-art caf\u00e9s' "
                              "WHERE id = :i"), {"i": papers[0].id})
        assert _matches(engine, "state of the art cafe") == [papers[0].id]
        assert migrate(engine) == ("0017", "0017")  # nothing left to do
        command.downgrade(cfg, "0016")
        assert _generated(engine) == "ALWAYS"
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM papers WHERE search_vector @@ "
                "plainto_tsquery('english', 'state')")).scalar_one() >= 1
        assert migrate(engine) == ("0016", "0017")
        assert _matches(engine, "state-of-the-art cafe") == [papers[0].id]
    finally:
        engine.dispose()
