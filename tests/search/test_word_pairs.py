"""Word pairs on the keyword side (issue 10 item 3), on SQLite and PostgreSQL: a query of bare
keywords also scores adjacent pairs of its words as phrases, which lifts the paper holding them
side by side; a sentence or question is left as it was; a pair only re-ranks what its words
match, and a pair of common words is left out rather than scanned past the posting cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.hybrid import HybridParams, SearchService
from paperfeed.search.keyword import KeywordParams, keyword_search, pairs_within, plan
from paperfeed.search.query import parse
from paperfeed.storage.db import connect, migrate
from paperfeed.storage.search import SearchFilters, TermStats
from tests.conftest import pg_database
from tests.search.conftest import load_catalog

BBR = "2606.14731"  # BBR-Net: Boundary-Balanced Replay for Continual Medical Image Segmentation
NUCLEI = "2506.07023"  # ... Image-to-Image Translation for Nuclei Segmentation of ... Images
OFF = KeywordParams(bigrams="off")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    """The 40 real papers on one engine, keywords only (no model: these are keyword tests)."""
    root = tmp_path_factory.mktemp(f"pairs-{request.param}")
    url = None
    if request.param == "postgres":
        with pg_database(request.getfixturevalue("pg_server_url")) as url:
            yield from _store(root, url)
    else:
        yield from _store(root, url)


def _store(root: Path, url: str | None) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(data_dir=root, environment="development", database_url=url,
                        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                        embedding_model=str(root / "no-model"))
    engine = connect(settings)
    migrate(engine)
    load_catalog(engine, utcnow())
    yield settings, engine
    engine.dispose()


def ranked(store: tuple[Settings, Engine], text: str,
           keyword: KeywordParams | None = None) -> list[tuple[str, float]]:
    settings, engine = store
    params = HybridParams() if keyword is None else HybridParams(keyword=keyword)
    result = SearchService(engine, settings, params=params).search(text, mode="keyword",
                                                                   limit=50)
    return [(h.paper_id, h.score) for h in result.hits]


def test_bare_two_word_query_ranks_the_paper_holding_the_phrase_first(
    store: tuple[Settings, Engine],
) -> None:
    words_apart = [p for p, _ in ranked(store, "image segmentation", OFF)]
    assert words_apart[0] == NUCLEI and BBR in words_apart[:3]  # what the words alone give
    with_pairs = [p for p, _ in ranked(store, "image segmentation")]
    assert with_pairs[0] == BBR  # its title holds "Image Segmentation" side by side
    assert sorted(with_pairs) == sorted(words_apart)  # a pair re-ranks, never widens


def test_a_question_is_unchanged(store: tuple[Settings, Engine]) -> None:
    question = "which methods improve the segmentation of medical images"
    assert plan(parse(question), None)[0].pairs == ()  # not bare keywords: no pair is formed
    assert plan(parse(question), None, KeywordParams(bigrams="all"))[0].pairs  # it has some
    assert ranked(store, question) == ranked(store, question, OFF)


def test_pairs_of_common_words_stay_within_the_posting_cap(
    store: tuple[Settings, Engine],
) -> None:
    settings, engine = store
    backend = SearchService(engine, settings).backend
    query = parse("language models")
    stats = backend.term_stats(["language", "models"])
    both = stats.docs["language"] + stats.docs["models"]
    rarer = min(stats.docs.values())
    assert rarer >= 5  # common in the 40 papers, as the test assumes
    # Room for both words but not for the pair (its rarer word's papers): the pair is left out.
    tight, dropped = plan(query, stats, posting_cap=both)
    assert tight.terms == ("language", "models") and tight.pairs == () and not dropped
    roomy, _ = plan(query, stats, posting_cap=both + rarer)
    assert roomy.pairs == ("language models",)
    # Keywords alone, under a cap even the rarer word is over: the scan is cut at the cap and
    # no pair is sent beside the words (nothing is left of the cap for it).
    alone, _ = plan(query, stats, posting_cap=rarer - 1, alone=True)
    assert alone.scan_limit == rarer - 1 and alone.pairs == ()
    hits, limited = keyword_search(backend, query, SearchFilters(), limit=50,
                                   posting_cap=rarer - 1, alone=True)
    assert limited and 1 <= len(hits) <= rarer - 1


def test_pairs_within_keeps_the_cheapest_pairs_that_fit() -> None:
    df = {"large": 900, "language": 700, "model": 800, "zebrafish": 3, "retina": 40}
    pairs = ["large language", "language model", "zebrafish retina"]
    assert pairs_within(pairs, df, 2) == []
    assert pairs_within(pairs, df, 100) == ["zebrafish retina"]
    assert pairs_within(pairs, df, 800) == ["large language", "zebrafish retina"]
    assert pairs_within(pairs, df, 1_500) == pairs
    assert pairs_within(["unknown pair"], df, 10**9) == []  # a word never counted: left out


def test_plan_forms_pairs_for_bare_keywords_only() -> None:
    stats = TermStats(papers=1_000, docs={"sparse": 10, "attention": 40, "video": 30,
                                          "diffusion": 20, "how": 900, "do": 900})
    bare = KeywordParams(bigrams="bare")
    request, _ = plan(parse("sparse attention video diffusion"), stats, bare, posting_cap=1_000)
    assert request.pairs == ("sparse attention", "attention video", "video diffusion")
    question, _ = plan(parse("how do sparse attention video diffusion"), stats, bare,
                       posting_cap=1_000)
    assert question.pairs == ()
    assert plan(parse("sparse attention"), stats, replace(bare, bigrams="off"))[0].pairs == ()
