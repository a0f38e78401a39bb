"""`paperfeed index`: embeds what is due, resumes after a kill, re-embeds on change, imports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.errors import BadRequest
from paperfeed.search.embed import MODELS_DIR, Embedder, document_text, model_info, text_hash
from paperfeed.search.indexing import due_papers, import_vectors, index_papers
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.vectors.files import VectorFiles
from tests.conftest import REPO_ROOT
from tests.search.conftest import MemoEmbedder, real_papers


def files_of(settings: Settings, engine: Engine) -> VectorFiles:
    """The configured model's vector files as a fresh process would open them."""
    info = model_info(settings.embedding_model)
    return VectorFiles.open(settings.data_dir, info.model_id, info.dim, engine)

MODEL_ID = model_info("minilm-l6-v2").model_id


@pytest.fixture(scope="module")
def embedder() -> MemoEmbedder:
    return MemoEmbedder(Embedder.load(model="minilm-l6-v2"))


def env_for(settings: Settings) -> dict[str, str]:
    return {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development"}


def stored(settings: Settings) -> int:
    db = sqlite3.connect(settings.data_dir / "paperfeed.db")
    try:
        return db.execute("select count(*) from embeddings").fetchone()[0]
    finally:
        db.close()


def test_index_embeds_due_papers_and_a_rerun_does_nothing(
    settings: Settings, catalog: Engine, embedder: MemoEmbedder
) -> None:
    first = index_papers(catalog, settings, embedder=embedder, batch_size=16)
    assert (first.papers, first.due, first.embedded) == (40, 40, 40)
    second = index_papers(catalog, settings, embedder=embedder)
    assert (second.due, second.embedded) == (0, 0)
    index = files_of(settings, catalog)
    assert len(index) == 40
    # a paper's own text finds it; "similar" needs no model call
    paper = real_papers()[5]
    q = embedder.embed_query(document_text(paper.title, paper.abstract))
    assert index.search(q, 1)[0][0] == paper.id
    assert paper.id not in [h[0] for h in index.similar(paper.id, 5)]
    with catalog.connect() as conn:
        ids, hashes, mat = store.load_vectors(conn, MODEL_ID, [paper.id], 384)
    assert hashes == [text_hash(document_text(paper.title, paper.abstract))]
    assert np.allclose(mat[0], index.vector(paper.id), atol=1e-6)


def test_changed_abstract_and_other_model_are_re_embedded(
    settings: Settings, catalog: Engine, embedder: MemoEmbedder, tmp_path: Path, now: datetime
) -> None:
    index_papers(catalog, settings, embedder=embedder)
    paper = real_papers()[0]
    changed = replace(paper, abstract="An entirely new abstract about soil.")
    with write(catalog) as conn:
        upsert_papers(conn, [changed], now=now)
    assert due_papers(catalog, MODEL_ID)[0] == [paper.id]
    summary = index_papers(catalog, settings, embedder=embedder)
    assert summary.embedded == 1
    index = files_of(settings, catalog)
    assert index.search(embedder.embed_query("soil"), 1)[0][0] == paper.id
    # another model (a directory with its own id): every paper is due again
    other = tmp_path / "other-model"
    other.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (other / name).symlink_to(MODELS_DIR / "minilm-l6-v2" / name)
    (other / "paperfeed-model.json").write_text(json.dumps({"model_id": "other", "dim": 384}))
    other_settings = settings.model_copy(update={"embedding_model": str(other)})
    summary = index_papers(catalog, other_settings, limit=7)
    assert (summary.due, summary.embedded, summary.model_id) == (40, 7, "other")
    with catalog.connect() as conn:
        assert store.count_embeddings(conn, "other") == 7
        assert store.count_embeddings(conn, MODEL_ID) == 33
    assert len(files_of(other_settings, catalog)) == 7


def test_deleted_papers_lose_their_vectors(
    settings: Settings, catalog: Engine, embedder: MemoEmbedder, now: datetime
) -> None:
    index_papers(catalog, settings, embedder=embedder)
    index = files_of(settings, catalog)
    gone = real_papers()[3].id
    with write(catalog) as conn:
        conn.exec_driver_sql("DELETE FROM papers WHERE id = ?", (gone,))
        store.bump_version(conn, now=now)  # what a catalog delete does
    index.refresh(force=True)
    assert gone not in index and len(index) == 39


def test_index_killed_mid_run_keeps_batches_and_rerun_completes(
    settings: Settings, catalog: Engine
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env_for(settings)}
    cmd = [sys.executable, "-m", "paperfeed", "index", "--batch-size", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = stored(settings)
        except sqlite3.OperationalError:
            done = 0
        if done >= 6:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("index finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = stored(settings)
    assert 6 <= partial < 40 and partial % 2 == 0  # whole batches only
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    line = again.stdout.strip().splitlines()[-1]
    assert f"{40 - partial} embedded" in line and f"{partial} already current" in line
    assert stored(settings) == 40
    assert len(files_of(settings, catalog)) == 40


def write_import(tmp_path: Path, ids: list[str], mat: np.ndarray, model: str | None) -> Path:
    np.save(tmp_path / "vectors.npy", mat)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    if model is not None:
        (tmp_path / "model.txt").write_text(model + "\n")
    return tmp_path / "vectors.npy"


def test_import_stores_vectors_for_search(settings: Settings, catalog: Engine) -> None:
    ids = [p.id for p in real_papers()]
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((40, 384)).astype(np.float16)
    path = write_import(settings.data_dir, ids, mat, MODEL_ID)
    result = CliRunner().invoke(
        app, ["index", "--import", str(path), "--ids", str(settings.data_dir / "ids.txt"),
              "--no-progress"], env=env_for(settings),
    )
    assert result.exit_code == 0, result.output
    assert "40 vectors imported" in result.stdout
    index = files_of(settings, catalog)
    assert index.search(mat[9].astype(np.float32), 1)[0][0] == ids[9]
    # imported vectors count as current: nothing is due
    assert due_papers(catalog, MODEL_ID)[0] == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("rows", "has 39 rows but"),
        ("dims", "have 100 dimensions"),
        ("model", "made by 'other-model'"),
        ("no-model", "--model-id"),
        ("unknown", "1 ids are not in the catalog"),
        ("nan", "NaN or infinite"),
        ("dupes", "repeats ids"),
        ("not-npy", "cannot read vectors"),
    ],
)
def test_import_rejects_bad_input_with_a_clear_error(
    settings: Settings, catalog: Engine, tmp_path: Path, case: str, message: str
) -> None:
    ids = [p.id for p in real_papers()]
    mat = np.random.default_rng(1).standard_normal((40, 384)).astype(np.float32)
    model: str | None = MODEL_ID
    if case == "rows":
        mat = mat[:39]
    elif case == "dims":
        mat = mat[:, :100]
    elif case == "model":
        model = "other-model"
    elif case == "no-model":
        model = None
    elif case == "unknown":
        ids[4] = "9999.99999"
    elif case == "nan":
        mat[3, 3] = np.nan
    elif case == "dupes":
        ids[1] = ids[0]
    path = write_import(tmp_path, ids, mat, model)
    if case == "not-npy":
        path.write_bytes(b"garbage")
    with pytest.raises(BadRequest, match=message):
        import_vectors(catalog, settings, path, tmp_path / "ids.txt")
    with catalog.connect() as conn:
        assert store.count_embeddings(conn) == 0
    # the CLI turns it into one line on stderr and exit status 1
    if case == "rows":
        result = subprocess.run(
            [sys.executable, "-m", "paperfeed", "index", "--import", str(path), "--ids",
             str(tmp_path / "ids.txt")],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env_for(settings)},
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1].startswith("error: index: ")


def test_complete_index_run_removes_the_previous_models_files(
    settings: Settings, catalog: Engine, embedder: MemoEmbedder
) -> None:
    index_papers(catalog, settings, embedder=embedder)
    vectors = settings.data_dir / "vectors"
    old = vectors / "old-model"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"model_id": "old-model", "dim": 384}))
    (old / "vectors-0.f32").write_bytes(b"\0" * 1536)
    foreign = vectors / "not-an-index"
    foreign.mkdir()
    current = files_of(settings, catalog).directory
    # an unfinished run (a paper still due) keeps the old files: workers may still use them
    with write(catalog) as conn:
        store.delete_embeddings(conn, [p.id for p in real_papers()[:2]], now=datetime(2025, 6, 16))
    result = CliRunner().invoke(app, ["index", "--no-progress", "--limit", "1"],
                                env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert old.is_dir()
    result = CliRunner().invoke(app, ["index", "--no-progress"], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "removed the vector index of the previous model old-model" in result.output
    assert not old.exists() and foreign.is_dir() and current.is_dir()
    assert len(files_of(settings, catalog)) == 40
