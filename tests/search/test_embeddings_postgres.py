"""Embedding storage and the vector index's catch-up on a real PostgreSQL server (pgserver)."""

from __future__ import annotations

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.vectors.files import VectorFiles
from tests.search.conftest import real_papers

pytestmark = pytest.mark.postgres


def test_store_replace_delete_and_sync_on_postgresql(pg_settings: Settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    now = utcnow()
    papers = real_papers()[:5]
    ids = [p.id for p in papers]
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((5, 8)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    with write(engine) as conn:
        upsert_papers(conn, papers, now=now)
        stamp = store.store_embeddings(conn, model_id="m", paper_ids=ids,
                                       content_hashes=["h"] * 5, vectors=mat, now=now)
    assert stamp is not None
    with write(engine) as conn:  # replace one (upsert), delete another
        store.store_embeddings(conn, model_id="m", paper_ids=[ids[0]], content_hashes=["h2"],
                               vectors=mat[1:2], now=now)
        assert store.delete_embeddings(conn, [ids[4]], now=now) == 1
    with engine.connect() as conn:
        got_ids, hashes, got = store.load_vectors(conn, "m", ids, 8)
        assert store.embeddings_version(conn) not in (None, stamp)
    assert sorted(got_ids) == sorted(ids[:4])
    assert hashes[got_ids.index(ids[0])] == "h2"
    assert np.allclose(got[got_ids.index(ids[0])], mat[1])
    index = VectorFiles.open(pg_settings.data_dir, "m", 8, engine)
    assert len(index) == 4 and ids[4] not in index
    top = [h[0] for h in index.search(mat[1], 2)]
    assert set(top) == {ids[0], ids[1]}
    engine.dispose()
