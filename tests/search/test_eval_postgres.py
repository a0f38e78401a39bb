"""`paperfeed eval retrieval --database-url`: search quality measured on PostgreSQL (tsvector +
pgvector) through the same code as the service, in a scratch database that is emptied after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from tests.conftest import FIXTURES

pytestmark = pytest.mark.postgres
BEIR = FIXTURES / "beir_tiny"


def run_eval(tmp_path: Path, url: str | None, mode: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [
        "eval", "retrieval", "--corpus", str(BEIR / "corpus.jsonl.gz"),
        "--queries", str(BEIR / "queries.jsonl"), "--qrels", str(BEIR / "qrels.tsv"),
        "--mode", mode, "--json", "--cache-dir", str(tmp_path / "cache"),
        *(["--database-url", url] if url else []),
    ], env={"PAPERFEED_DATA_DIR": str(tmp_path / "data")})
    return result.exit_code, result.output + str(result.exception or "")


def test_eval_on_postgresql_scores_every_mode_and_leaves_the_database_empty(
    pg_settings: Settings, tmp_path: Path
) -> None:
    url = pg_settings.db_url
    for mode in ("keyword", "hybrid"):
        code, out = run_eval(tmp_path, url, mode)
        assert code == 0, out
        metrics = json.loads(out.strip().splitlines()[-1])
        assert metrics["engine"] == ("postgresql" if mode == "keyword" else
                                     "postgresql + pgvector")
        code, out = run_eval(tmp_path, None, mode)
        sqlite = json.loads(out.strip().splitlines()[-1])
        assert sqlite["engine"].startswith("sqlite")
        for metric in ("ndcg@10", "recall@10", "mrr@10"):  # the same answers on both engines
            assert metrics[metric] == pytest.approx(sqlite[metric], abs=0.02), metric
        engine = create_engine(url)
        assert inspect(engine).get_table_names() == []  # filled, then emptied
        engine.dispose()


def test_eval_refuses_a_database_that_holds_a_catalog(pg_settings: Settings,
                                                      tmp_path: Path) -> None:
    engine = connect(pg_settings)
    migrate(engine)  # a real instance's schema, not an eval scratch store
    engine.dispose()
    code, out = run_eval(tmp_path, pg_settings.db_url, "keyword")
    assert code == 1 and "must name an empty scratch database" in out
    engine = create_engine(pg_settings.db_url)
    assert "papers" in inspect(engine).get_table_names()  # untouched
    engine.dispose()
