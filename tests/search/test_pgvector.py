"""Semantic search on a real PostgreSQL + pgvector (the pgserver wheel), with the real bundled
model over 40 real arXiv papers: migration 0005, the indexing job filling the column and the
HNSW index, filtered search in SQL, similar papers, deletes, and the backend choice."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.backend import open_backend
from paperfeed.search.embed import Embedder, document_text, model_info, text_hash
from paperfeed.search.hybrid import SearchService
from paperfeed.search.indexing import index_papers
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import alembic_config, check_schema, connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.schema import papers
from paperfeed.storage.search import SearchFilters
from paperfeed.storage.search import pgvector as sql
from paperfeed.web.app import create_app
from tests.search.conftest import (
    CODE_ID,
    FEATURED_ID,
    HIDDEN_ID,
    MemoEmbedder,
    load_catalog,
    real_papers,
)

pytestmark = pytest.mark.postgres

MODEL_ID = "all-MiniLM-L6-v2:onnx-int8:256"
VOICE_QUERY = "how good are systems that imitate someone's vocal identity"


@pytest.fixture(scope="module")
def embedder() -> MemoEmbedder:
    return MemoEmbedder(Embedder.load(Settings(environment="development")))


@pytest.fixture
def pg(pg_settings: Settings) -> Iterator[Engine]:
    engine = connect(pg_settings)
    migrate(engine)
    yield load_catalog(engine, utcnow())
    engine.dispose()


@pytest.fixture
def indexed(pg: Engine, pg_settings: Settings, embedder: MemoEmbedder) -> Engine:
    summary = index_papers(pg, pg_settings, embedder=embedder, batch_size=16)
    assert summary.embedded == 40
    return pg


def hnsw_indexes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'embeddings' "
            "AND indexdef ILIKE '%USING hnsw%'")).scalars())


def test_migration_adds_the_pgvector_column_and_fills_it_from_stored_bytes(
    pg_settings: Settings,
) -> None:
    engine = connect(pg_settings)
    command.upgrade(alembic_config(engine), "0004")
    paper = real_papers()[0]
    vec = np.linspace(-1, 1, 8, dtype=np.float32)
    with write(engine) as conn:
        upsert_papers(conn, [paper], now=utcnow())
        store.store_embeddings(conn, model_id="m", paper_ids=[paper.id], content_hashes=["h"],
                               vectors=vec[None, :], now=utcnow())
        assert not sql.info(conn).column  # before 0005: bytes only
    migrate(engine)
    with engine.connect() as conn:
        found = sql.info(conn)
        assert found.usable and found.version == "0.6.2"  # what the pgserver wheel bundles
        assert np.array_equal(sql.stored_vector(conn, "m", paper.id), vec)
        storage = dict(conn.execute(text(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
            "AND attname IN ('embedding', 'vector')")).all())
        assert storage == {"embedding": "m", "vector": "e"}  # searched column kept in the row
    command.downgrade(alembic_config(engine), "0004")
    with engine.connect() as conn:
        assert not sql.info(conn).column
    engine.dispose()


def test_indexing_fills_the_column_and_creates_one_hnsw_index_idempotently(
    indexed: Engine, pg_settings: Settings, embedder: MemoEmbedder
) -> None:
    with indexed.connect() as conn:
        assert sql.count(conn, MODEL_ID) == 40
        paper = real_papers()[5]
        stored = sql.stored_vector(conn, MODEL_ID, paper.id)
        _, _, from_bytes = store.load_vectors(conn, MODEL_ID, [paper.id], 384)
    assert stored is not None and np.array_equal(stored, from_bytes[0])
    (definition,) = hnsw_indexes(indexed)
    assert "vector_cosine_ops" in definition and "vector(384)" in definition
    assert f"model_id)::text = '{MODEL_ID}'" in definition
    again = index_papers(indexed, pg_settings, embedder=embedder)
    assert (again.due, again.embedded) == (0, 0)
    assert len(hnsw_indexes(indexed)) == 1
    backend = open_backend(pg_settings, indexed)
    assert backend.vector_store == "pgvector" and backend.vector_count() == 40
    assert backend.uses_ann()
    assert not (pg_settings.data_dir / "vectors").exists()  # no vector files on this machine
    q = embedder.embed_query(document_text(paper.title, paper.abstract))
    assert backend.nearest(q, 1)[0][0] == paper.id


def test_hybrid_search_on_postgresql_finds_the_semantic_neighbour(
    indexed: Engine, pg_settings: Settings
) -> None:
    service = SearchService(indexed, pg_settings)
    assert CODE_ID not in [h.paper_id for h in service.search(VOICE_QUERY, mode="keyword").hits]
    semantic = service.search(VOICE_QUERY, mode="semantic")
    assert semantic.used == "semantic" and semantic.hits[0].paper_id == CODE_ID
    hybrid = service.search(VOICE_QUERY, mode="hybrid", limit=5)
    assert hybrid.used == "hybrid" and any(h.keyword_rank for h in hybrid.hits)
    top = {h.paper_id: h for h in hybrid.hits}
    assert CODE_ID in top and top[CODE_ID].semantic_rank == 1
    assert service.backend.vector_store == "pgvector"


def test_unfiltered_nearest_query_is_answered_by_the_hnsw_index(
    indexed: Engine, embedder: MemoEmbedder
) -> None:
    seen: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, *_: object) -> None:
        if "<=>" in statement:
            seen.append((statement, params))

    event.listen(indexed, "before_cursor_execute", capture)
    with indexed.connect() as conn:
        sql.nearest(conn, MODEL_ID, 384, embedder.embed_query(VOICE_QUERY), 10)
    event.remove(indexed, "before_cursor_execute", capture)
    statement, params = seen[-1]
    with indexed.connect() as conn:
        # 40 rows: scanning and sorting is cheaper; without a sort the plan must use the
        # HNSW index, which it can only when the query's expression matches the index's
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
    assert sql.index_name(MODEL_ID, 384) in plan, plan + "\n" + statement


@pytest.mark.parametrize("exact_max", [20_000, 0])  # 0: the HNSW path with filters in SQL
def test_filters_are_applied_inside_the_vector_query(
    indexed: Engine, pg_settings: Settings, embedder: MemoEmbedder,
    monkeypatch: pytest.MonkeyPatch, exact_max: int,
) -> None:
    monkeypatch.setattr("paperfeed.storage.search.nearest.ALLOWED_MAX", exact_max)
    index = open_backend(pg_settings, indexed)
    q = embedder.embed_query(VOICE_QUERY)
    rows = {p.id: p for p in real_papers()}

    def ids(filters: SearchFilters, k: int = 40) -> list[str]:
        return [h[0] for h in index.nearest(q, k, filters=filters)]

    assert ids(SearchFilters()) and HIDDEN_ID not in ids(SearchFilters())
    assert len(ids(SearchFilters())) == 39  # every visible paper, nothing else
    assert ids(SearchFilters(has_code=True)) == [CODE_ID]
    assert ids(SearchFilters(featured_only=True)) == [FEATURED_ID]
    cv = ids(SearchFilters(categories=("CS.CV",)))
    assert cv and all("cs.CV" in rows[p].categories for p in cv)
    assert len(cv) == sum("cs.CV" in p.categories for p in rows.values() if p.id != HIDDEN_ID)
    start, end = date(2025, 6, 1), date(2025, 12, 31)
    dated = ids(SearchFilters(date_from=start, date_to=end))
    assert dated and all(
        start <= rows[p].published_at.date() <= end for p in dated  # type: ignore[union-attr]
    )
    assert ids(SearchFilters(date_from=date(2099, 1, 1))) == []
    # the service passes the query's own filters through (cat: and year:)
    service = SearchService(indexed, pg_settings)
    hits = service.search("image generation with diffusion cat:cs.CV", limit=40,
                          mode="semantic").hits
    assert hits
    floor = model_info(pg_settings.embedding_model).similarity_floor
    assert [h.paper_id for h in hits] == [  # what is close in meaning, in the index's order
        h[0] for h in index.nearest(embedder.embed_query("image generation with diffusion"), 40,
                                    filters=SearchFilters(categories=("cs.CV",))) if h[1] >= floor
    ]
    assert service.search("voice cloning", mode="semantic").hits[0].paper_id == CODE_ID


def test_similar_papers_need_no_model_and_deleted_papers_lose_their_vector(
    indexed: Engine, pg_settings: Settings, tmp_path: Path
) -> None:
    meta_only = tmp_path / "meta-only-model"  # no model.onnx: loading the model would fail
    meta_only.mkdir()
    (meta_only / "paperfeed-model.json").write_text(json.dumps({"model_id": MODEL_ID,
                                                                "dim": 384}))
    settings = pg_settings.model_copy(update={"embedding_model": str(meta_only)})
    service = SearchService(indexed, settings)
    similar = service.similar(FEATURED_ID, k=5)
    assert len(similar) == 5 and FEATURED_ID not in similar and HIDDEN_ID not in similar
    backend = service.backend
    gone = similar[0]
    assert gone in backend.vectors([gone])
    with write(indexed) as conn:
        conn.execute(papers.delete().where(papers.c.id == gone))
    assert backend.vectors([gone]) == {} and backend.vector_count() == 39
    assert gone not in service.similar(FEATURED_ID, k=10)
    assert backend.similar(gone, 3) == []


def test_rows_stored_without_the_column_are_filled_by_the_next_index_run(
    indexed: Engine, pg_settings: Settings, embedder: MemoEmbedder
) -> None:
    with write(indexed) as conn:
        conn.execute(text("UPDATE embeddings SET embedding = NULL"))
    backend = open_backend(pg_settings, indexed)
    assert backend.vector_count() == 0
    summary = index_papers(indexed, pg_settings, embedder=embedder)
    assert summary.embedded == 0 and backend.vector_count() == 40
    paper = real_papers()[7]
    with indexed.connect() as conn:
        state = {r.paper_id: r for r in store.scan_papers(conn)}[paper.id]
    assert state.content_hash == text_hash(document_text(paper.title, paper.abstract))


def test_files_backend_can_be_forced_and_pgvector_refuses_sqlite(
    indexed: Engine, pg_settings: Settings, settings: Settings, engine: Engine
) -> None:
    files = pg_settings.model_copy(update={"vector_backend": "files"})
    backend = open_backend(files, indexed)
    assert backend.vector_store == "files" and backend.vector_count() == 40
    assert open_backend(settings, engine).vector_store == "files"  # SQLite: auto = files
    forced = settings.model_copy(update={"vector_backend": "pgvector"})
    with pytest.raises(Exception, match="PAPERFEED_VECTOR_BACKEND"):
        open_backend(forced, engine).vector_count()
    result = SearchService(engine, forced).search("voice cloning")
    assert result.used in ("keyword", "none")  # degrades to keywords, never fails


def test_index_enables_pgvector_installed_after_the_migration(
    pg: Engine, pg_settings: Settings, embedder: MemoEmbedder
) -> None:
    with write(pg) as conn:  # as if the server got pgvector after migration 0005 ran
        conn.execute(text("ALTER TABLE embeddings DROP COLUMN embedding"))
        conn.execute(text("DROP EXTENSION vector"))
    assert open_backend(pg_settings, pg).vector_store == "files"
    assert index_papers(pg, pg_settings, embedder=embedder).embedded == 40
    backend = open_backend(pg_settings, pg)
    assert backend.vector_store == "pgvector" and backend.vector_count() == 40
    assert backend.uses_ann()


def test_a_role_that_may_not_create_the_extension_keeps_the_index_files(
    pg_server_url: str, pg_settings: Settings, embedder: MemoEmbedder
) -> None:
    url = make_url(pg_settings.db_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    role = f"plain_{url.database}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'ALTER DATABASE "{url.database}" OWNER TO "{role}"')
        conn.exec_driver_sql(f'ALTER SCHEMA public OWNER TO "{role}"')
    admin.dispose()
    settings = pg_settings.model_copy(update={
        "database_url": url.set(username=role, password=None).render_as_string(False)})
    engine = connect(settings)
    try:
        migrate(engine)  # CREATE EXTENSION is refused inside a savepoint; the rest goes on
        check_schema(engine)
        with write(engine) as conn:
            upsert_papers(conn, real_papers(), now=utcnow())
            assert sql.info(conn) == sql.PgVectorInfo(None, False)
        assert index_papers(engine, settings, embedder=embedder).embedded == 40
        service = SearchService(engine, settings)
        assert service.backend.vector_store == "files"
        assert service.search(VOICE_QUERY, mode="semantic").hits[0].paper_id == CODE_ID
    finally:
        engine.dispose()


class Renamed:
    """The same vectors under another model id (a model change without a second model)."""

    def __init__(self, inner: MemoEmbedder, model_id: str) -> None:
        self.inner, self.model_id, self.dim = inner, model_id, inner.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)


def test_the_previous_models_hnsw_index_goes_once_every_paper_has_the_new_model(
    indexed: Engine, pg_settings: Settings, embedder: MemoEmbedder
) -> None:
    other = Renamed(embedder, "other-model")
    index_papers(indexed, pg_settings, embedder=other, limit=10)
    assert len(hnsw_indexes(indexed)) == 2  # old-model vectors remain: its index stays
    assert index_papers(indexed, pg_settings, embedder=other).embedded == 30
    (definition,) = hnsw_indexes(indexed)
    assert "'other-model'" in definition


def test_search_api_and_paper_page_on_postgresql_use_pgvector(
    indexed: Engine, pg_settings: Settings
) -> None:
    with TestClient(create_app(pg_settings)) as client:
        found = client.get("/api/papers/search", params={"q": VOICE_QUERY, "limit": 5})
        assert found.status_code == 200
        assert CODE_ID in [item["paper"]["id"] for item in found.json()]
        only_code = client.get("/api/papers/search", params={"q": VOICE_QUERY, "code": "true"})
        assert [item["paper"]["id"] for item in only_code.json()] == [CODE_ID]
        page = client.get(f"/papers/{FEATURED_ID}")
    assert page.status_code == 200 and "Similar papers" in page.text
    assert not (pg_settings.data_dir / "vectors").exists()
