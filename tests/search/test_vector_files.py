"""The vector files (storage engine + HNSW graph): exact and ANN search against brute force,
adds, deletes, other processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import utcnow
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.vectors import graph
from paperfeed.storage.vectors.files import VectorFiles as VectorIndex
from tests.search.conftest import real_papers

DIM = 16


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    m = rng.standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def brute(ids: list[str], mat: np.ndarray, q: np.ndarray, k: int) -> list[str]:
    order = np.argsort(-(mat @ q), kind="stable")[:k]
    return [ids[i] for i in order]


@pytest.fixture
def index(tmp_path: Path) -> VectorIndex:
    return VectorIndex(tmp_path / "vec", "test-model", DIM)


def test_exact_search_matches_brute_force(index: VectorIndex) -> None:
    rng = np.random.default_rng(1)
    ids = [f"p{i}" for i in range(500)]
    mat = unit(rng, 500)
    index.add(ids, mat)
    for q in unit(rng, 5):
        hits = index.search(q, 10)
        assert [h[0] for h in hits] == brute(ids, mat, q, 10)
        assert hits[0][1] == pytest.approx(float(mat[ids.index(hits[0][0])] @ q), abs=1e-5)


def test_remove_and_replace_change_results_without_rebuild(index: VectorIndex) -> None:
    rng = np.random.default_rng(2)
    ids = [f"p{i}" for i in range(200)]
    mat = unit(rng, 200)
    index.add(ids, mat)
    q = mat[7]
    assert index.search(q, 1)[0][0] == "p7"
    assert index.remove(["p7", "unknown"]) == 1
    assert "p7" not in index and len(index) == 199
    assert all(h[0] != "p7" for h in index.search(q, 50))
    # replacing p8's vector with q makes p8 the best match; p8 stays one entry
    index.add(["p8"], q[None, :])
    hits = index.search(q, 5)
    assert hits[0][0] == "p8" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [h[0] for h in hits].count("p8") == 1
    assert len(index) == 199


def test_allowed_ids_restricts_results(index: VectorIndex) -> None:
    rng = np.random.default_rng(3)
    ids = [f"p{i}" for i in range(300)]
    mat = unit(rng, 300)
    index.add(ids, mat)
    allowed = ids[100:150] + ["nope"]
    q = mat[0]
    hits = index.search(q, 10, allowed_ids=allowed)
    sub = mat[100:150]
    assert [h[0] for h in hits] == brute(ids[100:150], sub, q, 10)
    assert index.search(q, 10, allowed_ids=["nope"]) == []


def test_similar_excludes_the_paper_itself(index: VectorIndex) -> None:
    rng = np.random.default_rng(4)
    ids = [f"p{i}" for i in range(100)]
    mat = unit(rng, 100)
    index.add(ids, mat)
    hits = index.similar("p3", 5)
    assert len(hits) == 5 and "p3" not in [h[0] for h in hits]
    assert [h[0] for h in hits] == [i for i in brute(ids, mat, mat[3], 6) if i != "p3"]
    assert index.similar("missing", 5) == []


def test_another_process_sees_changes_through_the_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    writer = VectorIndex(tmp_path / "vec", "test-model", DIM)
    reader = VectorIndex(tmp_path / "vec", "test-model", DIM)
    mat = unit(rng, 50)
    writer.add([f"p{i}" for i in range(50)], mat)
    assert reader.search(mat[10], 1)[0][0] == "p10"
    writer.remove(["p10"])
    assert reader.search(mat[10], 1)[0][0] != "p10"
    assert len(reader) == 49


def test_compaction_keeps_live_vectors(index: VectorIndex) -> None:
    rng = np.random.default_rng(6)
    ids = [f"p{i}" for i in range(2000)]
    mat = unit(rng, 2000)
    index.add(ids, mat)
    index.remove(ids[:1000])
    assert index._state.manifest.generation == 1  # rewritten: half the rows were dead
    assert index._state.manifest.rows == 1000
    for i in (1000, 1500, 1999):
        assert index.search(mat[i], 1)[0][0] == ids[i]


def test_ann_recall_and_incremental_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paperfeed.storage.vectors.files.ANN_DELTA", 100)
    rng = np.random.default_rng(7)
    idx = VectorIndex(tmp_path / "vec", "test-model", 32)
    idx.ann_threshold = 1000
    # clustered data, like real embeddings
    centers = unit(rng, 20, 32)
    mat = centers[rng.integers(0, 20, 3000)] + 0.3 * unit(rng, 3000, 32)
    mat = (mat / np.linalg.norm(mat, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"p{i}" for i in range(3000)]
    idx.add(ids[:2500], mat[:2500])
    assert idx.uses_ann
    idx.add(ids[2500:], mat[2500:])  # folded into the graph incrementally
    assert idx._state.manifest.ann_rows == 3000
    idx.remove(ids[:10])
    # queries near the data, as real queries are (random directions have no contrast)
    queries = mat[rng.integers(10, 3000, 50)] + 0.2 * unit(rng, 50, 32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    live_ids, live = ids[10:], mat[10:]
    recall = np.mean([
        len({h[0] for h in idx.search(q, 10)} & set(brute(live_ids, live, q, 10))) / 10
        for q in queries
    ])
    assert recall >= 0.95
    assert all(h[0] not in ids[:10] for q in queries for h in idx.search(q, 10))


def test_wrong_query_dimension_is_a_clear_error(index: VectorIndex) -> None:
    index.add(["a"], np.ones((1, DIM), np.float32))
    with pytest.raises(PaperfeedError, match="dims"):
        index.search(np.ones(DIM + 1, np.float32), 3)


def test_sync_follows_the_embeddings_table(settings: Settings, engine: Engine) -> None:
    now = utcnow()
    papers = real_papers()[:6]
    with write(engine) as conn:
        upsert_papers(conn, papers, now=now)
    rng = np.random.default_rng(8)
    mat = unit(rng, 6)
    ids = [p.id for p in papers]
    with write(engine) as conn:
        store.store_embeddings(conn, model_id="m1", paper_ids=ids, content_hashes=["h"] * 6,
                               vectors=mat, now=now)
    idx = VectorIndex.open(settings.data_dir, "m1", DIM, engine)
    assert len(idx) == 6
    assert idx.search(mat[2], 1)[0][0] == ids[2]
    # a write elsewhere (another process) is picked up on the next check
    with write(engine) as conn:
        store.delete_embeddings(conn, [ids[2]], now=now)
        store.store_embeddings(conn, model_id="m1", paper_ids=[ids[3]], content_hashes=["h2"],
                               vectors=mat[2:3], now=now)
    idx.refresh(force=True)
    assert ids[2] not in idx and len(idx) == 5
    assert idx.search(mat[2], 1)[0][0] == ids[3]


def test_two_writers_never_duplicate_a_paper(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    a = VectorIndex(tmp_path / "vec", "test-model", DIM)
    b = VectorIndex(tmp_path / "vec", "test-model", DIM)  # opened before a's writes
    mat = unit(rng, 60)
    a.add([f"p{i}" for i in range(50)], mat[:50])
    b.add(["p10", "p55"], mat[50:52])  # b must see a's rows before replacing p10
    for idx in (a, b):
        idx.refresh()
        assert len(idx) == 51
        hits = [h[0] for h in idx.search(mat[50], 60)]
        assert hits[0] == "p10" and hits.count("p10") == 1


def test_ann_index_then_embedder_in_one_process(tmp_path: Path) -> None:
    # importing usearch before onnxruntime used to crash the process; run it in a fresh one
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from paperfeed.storage.vectors.files import VectorFiles as VectorIndex\n"
        f"idx = VectorIndex(__import__('pathlib').Path({str(tmp_path)!r}), 'm', 8)\n"
        "idx.ann_threshold = 10\n"
        "idx.add([f'p{i}' for i in range(20)], np.random.rand(20, 8).astype('float32'))\n"
        "assert idx.uses_ann\n"
        "from paperfeed.search.embed import Embedder\n"
        "print(Embedder.load(model='minilm-l6-v2').embed_query('ok').shape)\n"
    )
    from tests.conftest import REPO_ROOT

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(384,)" in result.stdout


def test_incremental_reload_equals_a_fresh_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    writer = VectorIndex(tmp_path / "vec", "test-model", DIM)
    writer.add([f"p{i}" for i in range(30)], unit(rng, 30))
    reader = VectorIndex(tmp_path / "vec", "test-model", DIM)
    writer.add(["p3", "p40", "p41"], unit(rng, 3))  # replace p3, append two
    writer.remove(["p5", "p40"])
    reader.refresh()
    fresh = VectorIndex(tmp_path / "vec", "test-model", DIM)
    assert reader._state.live_ids() == fresh._state.live_ids()
    assert (reader._state.alive == fresh._state.alive).all()
    q = unit(rng, 1)[0]
    assert reader.search(q, 30) == fresh.search(q, 30)


def test_open_learns_the_dimension_of_a_model_without_metadata(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    from paperfeed.search.backend import open_backend
    from paperfeed.search.embed import MODELS_DIR

    model = tmp_path / "plain-model"
    model.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (model / name).symlink_to(MODELS_DIR / "minilm-l6-v2" / name)
    local = settings.model_copy(update={"embedding_model": str(model)})
    backend = open_backend(local, engine)
    assert backend.dim == 384 and backend.model_id.startswith("plain-model:")
    assert backend.vector_count() == 0


def test_bulk_defers_the_graph_to_the_end_and_searches_exactly_meanwhile(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    idx = VectorIndex(tmp_path / "vec", "test-model", DIM)
    idx.ann_threshold = 500
    mat = unit(rng, 1500)
    ids = [f"p{i}" for i in range(1500)]
    with idx.bulk():
        for start in range(0, 1500, 300):
            idx.add(ids[start : start + 300], mat[start : start + 300])
        assert not idx.uses_ann  # no graph built or extended mid-import
        q = mat[1234]
        assert [h[0] for h in idx.search(q, 5)] == brute(ids, mat, q, 5)
    assert idx.uses_ann and idx._state.manifest.ann_rows == 1500
    assert idx.search(mat[42], 1)[0][0] == "p42"
    # an index opened afterwards by another process sees the graph
    assert VectorIndex(tmp_path / "vec", "test-model", DIM).uses_ann


def test_restricted_search_with_a_graph_scores_like_brute_force(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    idx = VectorIndex(tmp_path / "vec", "test-model", DIM)
    idx.ann_threshold = 500
    mat = unit(rng, 1200)
    ids = [f"p{i}" for i in range(1200)]
    idx.add(ids[:1000], mat[:1000])
    idx.add(ids[1000:], mat[1000:])  # a tail newer than the graph (below ANN_DELTA)
    assert idx.uses_ann and idx._state.manifest.ann_rows == 1000
    allowed = [ids[i] for i in rng.choice(1200, 60, replace=False)]
    rows = [ids.index(a) for a in allowed]
    q = unit(rng, 1)[0]
    got = idx.search(q, 10, allowed)
    assert [h[0] for h in got] == brute(allowed, mat[rows], q, 10)
    want = {a: float(mat[r] @ q) for a, r in zip(allowed, rows, strict=True)}
    assert all(abs(score - want[pid]) < 2e-3 for pid, score in got)  # f16 copy in the graph


def test_expansion_search_grows_with_the_graph() -> None:
    ef = [graph.expansion_search_for(n) for n in (1_000, 20_000, 200_000, 1_000_000, 10**9)]
    assert ef == sorted(ef)
    assert ef[0] == ef[1] == graph.ANN_EXPANSION_SEARCH
    assert ef[3] == 512 and ef[4] == graph.ANN_EF_MAX


def test_a_restored_graph_uses_the_effort_for_its_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    idx = VectorIndex(tmp_path / "vec", "test-model", DIM)
    idx.ann_threshold = 100
    idx.add([f"p{i}" for i in range(300)], unit(rng, 300))
    reopened = VectorIndex(tmp_path / "vec", "test-model", DIM)
    assert reopened.expansion_search() == graph.expansion_search_for(300)
    assert VectorIndex(tmp_path / "empty", "test-model", DIM).expansion_search() is None
