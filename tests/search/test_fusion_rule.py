"""The hybrid fusion rule on a real catalog (40 real papers, the bundled model), on SQLite and
PostgreSQL: when the semantic side cannot tell papers apart, the keyword side's clear answer
stays first; when no word matches, the semantic side answers alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search import fusion
from paperfeed.search.hybrid import HybridParams, SearchService
from paperfeed.search.indexing import index_papers
from paperfeed.search.query import parse
from paperfeed.storage.db import connect, migrate
from paperfeed.storage.search import SearchFilters
from tests.search.conftest import CODE_ID, load_catalog

# Four words of one paper's abstract (2512.14140), none of its title: the keyword side finds it
# first by a clear margin (BM25 5.7 vs 4.7 on SQLite), while to the model the four words mean
# little, so its list is flat (the best cosine stands ~2.1 sd above the rest, below the 3.7 at
# which the rule starts).
BAG = "existing sampling regions controllability"
BAG_PAPER = "2512.14140"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def indexed(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[Engine, Settings]]:
    """The 40-paper catalog with real vectors, on each engine."""
    chosen = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    chosen.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(chosen)
    migrate(engine)
    load_catalog(engine, utcnow())
    index_papers(engine, chosen)
    yield engine, chosen
    engine.dispose()


def test_a_flat_semantic_side_keeps_the_keyword_answer_first(
    indexed: tuple[Engine, Settings],
) -> None:
    engine, settings = indexed
    service = SearchService(engine, settings)
    got = service._semantic(parse(BAG), SearchFilters(), service.params.depth)
    assert got is not None
    standout = fusion.semantic_standout([c for _, c in got[0]])
    assert standout is not None and standout < service.params.standout_sharp - 0.5
    keyword = service.search(BAG, mode="keyword").hits
    assert keyword[0].paper_id == BAG_PAPER
    hybrid = service.search(BAG)
    assert hybrid.used == "hybrid"
    assert hybrid.hits[0].paper_id == BAG_PAPER
    assert hybrid.hits[0].keyword_rank == 1
    # the semantic side still contributes below the top: more than the keyword side found,
    # or the same papers in another order
    keyword_order = [h.paper_id for h in keyword]
    assert [h.paper_id for h in hybrid.hits] != keyword_order[: len(hybrid.hits)]


def test_without_the_rule_the_flat_semantic_side_pushes_the_answer_down(
    settings: Settings, catalog: Engine,
) -> None:
    """What the rule is for: the fixed equal blend ranks the keyword side's answer third."""
    index_papers(catalog, settings)
    fixed = SearchService(catalog, settings, params=replace(HybridParams(), standout_shift=0.0))
    assert [h.paper_id for h in fixed.search(BAG).hits].index(BAG_PAPER) >= 1
    ruled = SearchService(catalog, settings)
    assert ruled.search(BAG).hits[0].paper_id == BAG_PAPER


def test_a_query_no_word_matches_is_answered_by_meaning(indexed: tuple[Engine, Settings]) -> None:
    engine, settings = indexed
    service = SearchService(engine, settings)
    text = "mimicking someone's vocal timbre"  # ClonEval (voice cloning) shares none of these
    # words on either engine's stemmer; its cosine is 0.48, above the 0.40 floor
    assert service.search(text, mode="keyword").hits == []
    result = service.search(text)
    assert result.used == "semantic"
    assert result.hits[0].paper_id == CODE_ID
    assert result.hits[0].keyword_rank is None


def test_a_sharp_semantic_side_keeps_the_equal_blend(indexed: tuple[Engine, Settings]) -> None:
    """A query the model understands (its best paper far above the rest) is blended equally."""
    engine, settings = indexed
    service = SearchService(engine, settings)
    text = "an open benchmark for evaluating voice cloning systems"
    got = service._semantic(parse(text), SearchFilters(), service.params.depth)
    assert got is not None
    standout = fusion.semantic_standout([c for _, c in got[0]])
    assert standout is not None and standout >= service.params.standout_sharp
    p = service.params
    assert fusion.blend_weight(p.blend_weight, standout, flat=p.standout_flat,
                               sharp=p.standout_sharp, shift=p.standout_shift) == p.blend_weight
    assert service.search(text).hits[0].paper_id == CODE_ID
