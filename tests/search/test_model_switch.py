"""Changing PAPERFEED_EMBEDDING_MODEL without re-embedding: one clear line (the CLI fails a
semantic search with it, hybrid answers from keywords and says so), and a running service
searches by meaning again once `paperfeed index` has re-embedded, without a restart. On SQLite
and PostgreSQL; the "other model" is the bundled MiniLM under another id (no extra install)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.backend import model_mismatch
from paperfeed.search.embed import MODELS_DIR, model_info
from paperfeed.search.hybrid import SearchService
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from tests.search.conftest import real_papers

PAPERS = real_papers()[:8]
MINILM_ID = model_info("minilm-l6-v2").model_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, now: datetime) -> Iterator[tuple[Settings, Engine]]:
    settings: Settings = request.getfixturevalue(
        "settings" if request.param == "sqlite" else "pg_settings")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    with write(engine) as conn:
        upsert_papers(conn, PAPERS, now=now)
    yield settings, engine
    engine.dispose()


def other_model(tmp_path: Path) -> Path:
    """The bundled model's files under another model id (what a new model looks like)."""
    other = tmp_path / "other-model"
    other.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (other / name).symlink_to(MODELS_DIR / "minilm-l6-v2" / name)
    (other / "paperfeed-model.json").write_text(json.dumps(
        {"model_id": "other-model-v2", "dim": 384, "similarity_floor": 0.4}))
    return other


def env_of(settings: Settings, model: str) -> dict[str, str]:
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development",
           "PAPERFEED_EMBEDDING_MODEL": model}
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env


def test_model_change_without_reindex_is_one_clear_line_until_reindexed(
    store: tuple[Settings, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = store
    runner = CliRunner()
    assert model_mismatch(settings, engine) is None  # nothing embedded yet: nothing to say
    assert runner.invoke(app, ["index", "--no-progress"],
                         env=env_of(settings, "minilm-l6-v2")).exit_code == 0
    assert model_mismatch(settings, engine) is None
    new = str(other_model(tmp_path))
    switched = settings.model_copy(update={"embedding_model": new})
    line = model_mismatch(switched, engine)
    assert line == (f"the catalog's vectors were made by {MINILM_ID} (8 papers), not by the "
                    f"configured model {new} (other-model-v2); run `paperfeed index` to "
                    "re-embed the catalog with it, or set PAPERFEED_EMBEDDING_MODEL back")
    query = PAPERS[2].title
    sem = runner.invoke(app, ["search", query, "--mode", "semantic"], env=env_of(settings, new))
    assert sem.exit_code == 1 and "Traceback" not in sem.output
    assert [ln for ln in sem.stderr.splitlines() if ln.strip()] == [f"error: search: {line}"]
    kw = runner.invoke(app, ["search", query, "--mode", "keyword"], env=env_of(settings, new))
    assert kw.exit_code == 0 and "paperfeed index" not in kw.stderr  # keywords need no vectors

    monkeypatch.setattr(hybrid, "MISMATCH_RECHECK", 0.0)
    service = SearchService(engine, switched)  # a web worker started after the change
    before = service.search(query, limit=5)
    assert before.used == "keyword" and before.hits[0].paper_id == PAPERS[2].id
    assert "semantic search unavailable: keyword results only" in before.notes
    # the operator re-embeds: half-way through, what is embedded is searched (no error)...
    part = runner.invoke(app, ["index", "--no-progress", "--limit", "3"],
                         env=env_of(settings, new))
    assert part.exit_code == 0, part.output
    assert model_mismatch(switched, engine) is None
    assert runner.invoke(app, ["index", "--no-progress"], env=env_of(settings, new)).exit_code == 0
    # ...and the same service searches by meaning again without a restart
    after = service.search(query, limit=5)
    assert after.used == "hybrid" and after.hits[0].paper_id == PAPERS[2].id
    assert not any("unavailable" in n for n in after.notes)
    assert service.search(query, mode="semantic", limit=3).used == "semantic"
    # and the old setting is now the out-of-date one
    assert "other-model-v2 (8 papers)" in (model_mismatch(settings, engine) or "")
