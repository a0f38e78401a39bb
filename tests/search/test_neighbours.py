"""The public nearest-papers door (`search.neighbours`) on SQLite (index files) and on
PostgreSQL (pgvector), with the real bundled model over 40 real arXiv papers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.embed import Embedder
from paperfeed.search.indexing import index_papers
from paperfeed.search.neighbours import open_neighbours
from paperfeed.storage.db import connect, migrate
from paperfeed.storage.search import SearchFilters
from tests.search.conftest import CODE_ID, FEATURED_ID, HIDDEN_ID, MemoEmbedder, load_catalog

VOICE_QUERY = "how good are systems that imitate someone's vocal identity"


@pytest.fixture(scope="module")
def embedder() -> MemoEmbedder:
    return MemoEmbedder(Embedder.load(Settings(environment="development")))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, embedder: MemoEmbedder) -> Iterator[
    tuple[Settings, Engine]
]:
    settings: Settings = request.getfixturevalue(
        "settings" if request.param == "sqlite" else "pg_settings"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    load_catalog(engine, utcnow())
    assert index_papers(engine, settings, embedder=embedder, batch_size=16).embedded == 40
    yield settings, engine
    engine.dispose()


def test_nearest_finds_the_paper_by_meaning_and_honours_filters_and_exclusions(
    backend: tuple[Settings, Engine], embedder: MemoEmbedder
) -> None:
    settings, engine = backend
    near = open_neighbours(settings, engine)
    assert open_neighbours(settings, engine) is near  # one per engine and process
    assert near.dim == 384 and near.model_id == embedder.model_id
    q = embedder.embed_query(VOICE_QUERY)
    hits = near.nearest(q, 5)
    assert hits[0][0] == CODE_ID and len(hits) == 5
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert HIDDEN_ID not in {p for p, _ in near.nearest(q, 40)}
    assert CODE_ID not in {p for p, _ in near.nearest(q, 5, exclude=[CODE_ID])}
    featured = near.nearest(q, 5, filters=SearchFilters(featured_only=True))
    assert [p for p, _ in featured] == [FEATURED_ID]
    within = near.nearest(q, 5, ids=[FEATURED_ID, CODE_ID])
    assert [p for p, _ in within] == [CODE_ID, FEATURED_ID]
    old = near.nearest(q, 5, filters=SearchFilters(date_to=date(2000, 1, 1)))
    assert old == []


def test_vectors_returns_stored_unit_vectors_for_known_papers_only(
    backend: tuple[Settings, Engine],
) -> None:
    settings, engine = backend
    near = open_neighbours(settings, engine)
    got = near.vectors([CODE_ID, FEATURED_ID, "9999.99999"])
    assert set(got) == {CODE_ID, FEATURED_ID}
    assert abs(float(got[CODE_ID] @ got[CODE_ID]) - 1.0) < 1e-3
    top = near.nearest(got[CODE_ID], 1)
    assert top[0][0] == CODE_ID


def test_nearest_vectors_answers_like_nearest_with_each_hits_vector(
    backend: tuple[Settings, Engine], embedder: MemoEmbedder
) -> None:
    settings, engine = backend
    near = open_neighbours(settings, engine)
    q = embedder.embed_query(VOICE_QUERY)
    both = near.nearest_vectors(q, 5, exclude=[FEATURED_ID])
    assert both.ids == [p for p, _ in near.nearest(q, 5, exclude=[FEATURED_ID])]
    assert both.ids[0] == CODE_ID and FEATURED_ID not in both.ids
    stored = near.vectors(both.ids)
    assert all(np.array_equal(both.matrix[i], stored[p]) for i, p in enumerate(both.ids))
