"""One suite, every search backend: SQLite (FTS5 + vector files), PostgreSQL + pgvector and
PostgreSQL + vector files answer every method of `SearchBackend` the same way over the same 40
real papers (real bundled model). A method missing or behaving differently on one fails here."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.backend import open_backend
from paperfeed.search.embed import Embedder
from paperfeed.search.indexing import index_papers
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.search import KeywordRequest, SearchFilters, StatsRefresh
from paperfeed.storage.search.backend import SearchBackend
from tests.search.conftest import CODE_ID, FEATURED_ID, HIDDEN_ID, MemoEmbedder, load_catalog

KINDS = ["sqlite", pytest.param("pg+pgvector", marks=pytest.mark.postgres),
         pytest.param("pg+files", marks=pytest.mark.postgres)]
VOICE = "how good are systems that imitate someone's vocal identity"


@pytest.fixture(scope="module")
def embedder() -> MemoEmbedder:
    return MemoEmbedder(Embedder.load(Settings(environment="development")))


def make_store(kind: str, root: Path, request: pytest.FixtureRequest) -> tuple[Settings, Engine]:
    """Settings and a migrated engine of one kind, the 40 papers loaded (one hidden)."""
    base = Settings(data_dir=root / "data", environment="development",
                    secret_key="test-secret-key-for-paperfeed-tests")  # type: ignore[arg-type]
    if kind != "sqlite":
        server: str = request.getfixturevalue("pg_server_url")
        name = f"c_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

        request.addfinalizer(drop)
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        base = base.model_copy(update={
            "database_url": url,
            "vector_backend": "files" if kind == "pg+files" else "pgvector"})
    base.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(base)
    request.addfinalizer(engine.dispose)
    migrate(engine)
    load_catalog(engine, utcnow())
    return base, engine


@pytest.fixture(scope="module", params=KINDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          embedder: MemoEmbedder) -> tuple[str, Settings, Engine]:
    settings, engine = make_store(request.param, tmp_path_factory.mktemp("contract"), request)
    assert index_papers(engine, settings, embedder=embedder, batch_size=16).embedded == 40
    return request.param, settings, engine


@pytest.fixture
def backend(built: tuple[str, Settings, Engine]) -> SearchBackend:
    return open_backend(built[1], built[2])


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h[0] if isinstance(h, tuple) else h.paper_id for h in hits]


def test_backend_kind(built: tuple[str, Settings, Engine], backend: SearchBackend) -> None:
    kind = built[0]
    assert backend.name == ("sqlite" if kind == "sqlite" else "postgresql")
    assert backend.vector_store == ("pgvector" if kind == "pg+pgvector" else "files")
    assert backend.dim == 384 and backend.model_id.startswith("all-MiniLM-L6-v2")
    assert open_backend(built[1], built[2]) is backend  # one per engine and process


def test_term_stats_count_papers_per_word(backend: SearchBackend) -> None:
    stats = backend.term_stats(["voice", "cloning", "xqzvbl", "models"])
    assert stats.papers >= 39
    assert stats.docs["xqzvbl"] == 0
    assert 1 <= stats.docs["voice"] < stats.docs["models"] <= stats.papers


def test_keyword_ranks_matches_and_applies_filters_and_constraints(
    backend: SearchBackend,
) -> None:
    plain = backend.keyword(KeywordRequest(terms=("voice", "cloning", "benchmark")),
                            SearchFilters(), limit=10)
    assert plain[0].paper_id == CODE_ID and plain[0].title.startswith("ClonEval")
    assert [h.score for h in plain] == sorted((h.score for h in plain), reverse=True)
    assert ids(backend.keyword(KeywordRequest(terms=("zooplankton",)), SearchFilters(),
                               limit=10)) == []  # the one match is hidden
    coded = backend.keyword(KeywordRequest(terms=("benchmark",)), SearchFilters(has_code=True),
                            limit=10)
    assert ids(coded) == [CODE_ID]
    featured = backend.keyword(KeywordRequest(terms=("diffusion",)),
                               SearchFilters(featured_only=True), limit=10)
    assert ids(featured) == [FEATURED_ID]
    june = backend.keyword(KeywordRequest(terms=("benchmark",)), SearchFilters(
        date_from=date(2026, 6, 1), date_to=date(2026, 6, 30)), limit=40)
    assert june and all(p.startswith("2606") for p in ids(june))
    phrase = backend.keyword(KeywordRequest(phrases=("voice cloning",)), SearchFilters(),
                             limit=10)
    assert ids(phrase) == [CODE_ID]
    wide = ids(backend.keyword(KeywordRequest(terms=("language", "models")), SearchFilters(),
                               limit=40))
    narrow = ids(backend.keyword(KeywordRequest(terms=("language", "models"),
                                                excluded=("large language",)),
                                 SearchFilters(), limit=40))
    assert narrow and set(narrow) < set(wide)
    both = ids(backend.keyword(KeywordRequest(terms=("voice", "diffusion"), require_all=True),
                               SearchFilters(), limit=40))
    assert CODE_ID not in both
    hostile = KeywordRequest(terms=('NEAR("', "a*", "&", "!x", "<->", "'; DROP TABLE papers"),
                             phrases=('"',), excluded=("-",))
    backend.keyword(hostile, SearchFilters(), limit=5)  # never raises


def test_restrict_keeps_papers_holding_phrases_and_authors_without_exclusions(
    backend: SearchBackend,
) -> None:
    every = [CODE_ID, FEATURED_ID, HIDDEN_ID, "2506.23957"]
    assert backend.restrict(KeywordRequest(phrases=("voice cloning",)), every) == [CODE_ID]
    assert CODE_ID not in backend.restrict(KeywordRequest(excluded=("cloning",)), every)
    assert backend.restrict(KeywordRequest(), every) == every  # no constraint: all kept


def test_latest_lists_newest_passing_filters_and_constraints(backend: SearchBackend) -> None:
    newest = backend.latest(KeywordRequest(), SearchFilters(categories=("cs.GR",)), limit=10)
    assert newest == ["2509.01134", "2506.23957"]
    assert HIDDEN_ID not in backend.latest(KeywordRequest(), SearchFilters(), limit=100)
    assert backend.latest(KeywordRequest(phrases=("voice cloning",)), SearchFilters(),
                          limit=5) == [CODE_ID]


def test_visible_titles_and_texts_never_show_hidden_papers(backend: SearchBackend) -> None:
    assert backend.visible(CODE_ID) == CODE_ID
    assert backend.visible(HIDDEN_ID) is None and backend.visible("9999.99999") is None
    titles = backend.titles([CODE_ID, HIDDEN_ID])
    assert list(titles) == [CODE_ID] and titles[CODE_ID].startswith("ClonEval")
    texts = backend.texts([CODE_ID, HIDDEN_ID, "9999.99999"])
    assert list(texts) == [CODE_ID] and texts[CODE_ID].startswith(titles[CODE_ID])
    assert "voice cloning" in texts[CODE_ID].lower().split("\n", 1)[1]  # the abstract follows
    assert backend.texts([]) == {}


def test_refresh_stats_answers_on_every_engine(backend: SearchBackend) -> None:
    assert isinstance(backend.refresh_stats(now=datetime(2026, 1, 1)), StatsRefresh)


def test_semantic_finds_by_meaning_within_filters_and_constraints(
    backend: SearchBackend, embedder: MemoEmbedder
) -> None:
    q = embedder.embed_query(VOICE)
    hits = backend.semantic(q, None, SearchFilters(), k=40)
    assert hits[0][0] == CODE_ID and len(hits) == 39 and HIDDEN_ID not in ids(hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert ids(backend.semantic(q, None, SearchFilters(has_code=True), k=5)) == [CODE_ID]
    phrase = backend.semantic(q, KeywordRequest(phrases=("voice cloning",)), SearchFilters(), k=5)
    assert ids(phrase) == [CODE_ID]
    without = backend.semantic(q, KeywordRequest(excluded=("cloning",)), SearchFilters(), k=5)
    assert without and CODE_ID not in ids(without)
    nobody = backend.semantic(q, KeywordRequest(authors=("Nobody Nowhere",)), SearchFilters(),
                              k=5)
    assert nobody == []


def test_nearest_cosines_similar_and_vectors_agree(
    backend: SearchBackend, embedder: MemoEmbedder
) -> None:
    q = embedder.embed_query(VOICE)
    top = backend.nearest(q, 5)
    assert top[0][0] == CODE_ID and len(top) == 5
    assert CODE_ID not in ids(backend.nearest(q, 5, exclude=[CODE_ID]))
    assert ids(backend.nearest(q, 5, ids=[FEATURED_ID, CODE_ID, HIDDEN_ID])) == [
        CODE_ID, FEATURED_ID]
    assert backend.nearest(q, 5, filters=SearchFilters(date_to=date(2000, 1, 1))) == []
    cos = backend.cosines(q, [CODE_ID, FEATURED_ID])
    assert set(cos) == {CODE_ID, FEATURED_ID}
    assert cos[CODE_ID] == pytest.approx(top[0][1], abs=2e-3)
    vecs = backend.vectors([CODE_ID, "9999.99999"])
    assert list(vecs) == [CODE_ID] and float(vecs[CODE_ID] @ vecs[CODE_ID]) == pytest.approx(
        1.0, abs=1e-3)
    similar = backend.similar(CODE_ID, 5)
    assert len(similar) == 5 and CODE_ID not in ids(similar) and HIDDEN_ID not in ids(similar)
    assert backend.similar("9999.99999", 5) == []
    assert backend.vector_count() == 40 and isinstance(backend.uses_ann(), bool)


def test_nearest_vectors_returns_the_nearest_hits_with_their_stored_vectors(
    backend: SearchBackend, embedder: MemoEmbedder
) -> None:
    q = embedder.embed_query(VOICE)
    near = backend.nearest_vectors(q, 8)
    plain = backend.nearest(q, 8)
    assert near.ids == ids(plain) and near.ids[0] == CODE_ID
    assert [s for _, s in near.hits] == pytest.approx([s for _, s in plain], abs=1e-5)
    assert near.matrix.shape == (8, 384) and near.matrix.dtype == np.float32
    stored = backend.vectors(near.ids)
    for i, pid in enumerate(near.ids):  # row i is hit i's stored vector, bit for bit
        assert np.array_equal(near.matrix[i], stored[pid])
        assert float(near.matrix[i] @ q) == pytest.approx(near.hits[i][1], abs=2e-3)
    within = backend.nearest_vectors(q, 5, ids=[FEATURED_ID, CODE_ID, HIDDEN_ID])
    assert within.ids == [CODE_ID, FEATURED_ID] and within.matrix.shape == (2, 384)
    old = backend.nearest_vectors(q, 5, filters=SearchFilters(date_to=date(2000, 1, 1)))
    assert old.hits == [] and old.matrix.shape == (0, 384)
    assert backend.nearest_vectors(q, 0).hits == []


def test_nearest_fills_k_past_a_long_exclusion_list(
    backend: SearchBackend, embedder: MemoEmbedder
) -> None:
    """A member's catalog excludes every paper they acted on (up to 500), most of them the
    very papers nearest to their taste: the answer still holds k papers, none excluded, and
    ids that are unknown or carry quotes are just ids."""
    q = embedder.embed_query(VOICE)
    order = ids(backend.nearest(q, 39))
    skip = order[:30] + [f"x'{i}\\\"" for i in range(470)]
    for found in (ids(backend.nearest(q, 5, exclude=skip)),
                  backend.nearest_vectors(q, 5, exclude=skip).ids):
        assert found == order[30:35]
    assert ids(backend.nearest(q, 20, exclude=skip)) == order[30:]  # all that is left


@pytest.mark.parametrize("kind", KINDS)
def test_vector_upkeep_follows_the_embeddings_table(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings, engine = make_store(kind, tmp_path, request)
    backend = open_backend(settings, engine)
    backend.prepare_vectors()
    backend.prepare_vectors()  # idempotent
    rng = np.random.default_rng(3)
    mat = rng.standard_normal((3, 384)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    ids3 = [CODE_ID, FEATURED_ID, "2506.23957"]
    with backend.bulk():  # imports write many rows, then fix the index once
        with write(engine) as conn:
            stamp = store.store_embeddings(conn, model_id=backend.model_id, paper_ids=ids3,
                                           content_hashes=["h"] * 3, vectors=mat, now=utcnow())
        assert backend.add_vectors(ids3, mat, ["h"] * 3, db_version=stamp) == 3
        assert backend.nearest(mat[1], 1)[0][0] == FEATURED_ID  # searchable inside the block
    backend.sync_vectors()
    assert backend.vector_count() == 3
    with write(engine) as conn:
        store.delete_embeddings(conn, [FEATURED_ID], now=utcnow())
    backend.remove_vectors([FEATURED_ID])
    assert FEATURED_ID not in ids(backend.nearest(mat[1], 3)) and backend.vector_count() == 2
    gone = backend.nearest_vectors(mat[1], 3)  # no hit without its vector, on every backend
    assert FEATURED_ID not in gone.ids and gone.matrix.shape == (len(gone.ids), 384)
    with write(engine) as conn:  # written by another process: the next sync picks it up
        store.store_embeddings(conn, model_id=backend.model_id, paper_ids=[FEATURED_ID],
                               content_hashes=["h2"], vectors=mat[1:2], now=utcnow())
    # stored vectors are read as stored, before this process syncs (alerts compare a new paper
    # to a liked one right after another process's ingest)
    fresh = backend.vectors([FEATURED_ID])
    assert list(fresh) == [FEATURED_ID]
    assert float(fresh[FEATURED_ID] @ mat[1]) == pytest.approx(1.0, abs=1e-3)
    backend.sync_vectors()
    assert backend.nearest(mat[1], 1)[0][0] == FEATURED_ID
    assert isinstance(backend.retire_other_models(), list)
