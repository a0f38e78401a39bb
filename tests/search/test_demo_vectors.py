"""The demo corpus ships precomputed vectors: `load_demo` stores them, search works at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import Engine

import paperfeed.demo as demo
from paperfeed.config import Settings
from paperfeed.search.embed import Embedder, document_text, model_info
from paperfeed.search.indexing import due_papers
from paperfeed.storage import embeddings as store
from paperfeed.storage.papers import get_paper
from paperfeed.storage.vectors.files import VectorFiles

FOLDER = Path(demo.__file__).parent



def files_of(settings: Settings, engine: Engine) -> VectorFiles:
    """The configured model's vector files as a fresh process would open them."""
    info = model_info(settings.embedding_model)
    return VectorFiles.open(settings.data_dir, info.model_id, info.dim, engine)

def test_demo_vectors_match_the_bundled_model_and_corpus() -> None:
    ids = (FOLDER / demo.IDS_NAME).read_text().split()
    mat = np.load(FOLDER / demo.VECTORS_NAME)
    assert mat.dtype == np.float16 and mat.shape == (len(ids), 384) and len(set(ids)) == len(ids)
    assert (FOLDER / demo.MODEL_NAME).read_text().strip() == model_info("minilm-l6-v2").model_id


def test_load_demo_stores_vectors_so_semantic_search_is_ready(
    settings: Settings, engine: Engine
) -> None:
    demo.load_demo(engine, settings=settings)
    model_id = model_info(settings.embedding_model).model_id
    with engine.connect() as conn:
        assert store.count_embeddings(conn, model_id) == 2926
    assert due_papers(engine, model_id)[0] == []  # nothing left for `paperfeed index`
    index = files_of(settings, engine)
    assert len(index) == 2926
    # a paper's own title + abstract, embedded now, finds that paper among the stored vectors
    pid = (FOLDER / demo.IDS_NAME).read_text().split()[100]
    with engine.connect() as conn:
        row = get_paper(conn, pid)
    assert row is not None
    query = Embedder.load(settings).embed_query(document_text(row["title"], row["abstract"]))
    hits = index.search(query, 3)
    assert hits[0][0] == pid and hits[0][1] > 0.95
    similar = index.similar(pid, 5)
    assert len(similar) == 5 and pid not in [h[0] for h in similar]
    # a second start imports nothing again
    demo.load_demo(engine, settings=settings)
    with engine.connect() as conn:
        assert store.count_embeddings(conn, model_id) == 2926
