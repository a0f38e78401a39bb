"""Keyword search over real papers: BM25 field weights, filters, query syntax, pinning."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from paperfeed.search.hybrid import SearchService
from paperfeed.search.keyword import KeywordParams, effective_filters, keyword_search
from paperfeed.search.query import parse
from paperfeed.storage.search import SearchFilters
from tests.search.conftest import CODE_ID, FEATURED_ID, HIDDEN_ID, real_papers


def kw_hits(engine: Engine, text: str, *, limit: int = 20, posting_cap: int | None = None,
            params: KeywordParams = KeywordParams()) -> list[tuple[str, float]]:
    """The keyword side alone, as the service runs it (plan, then the engine's backend)."""
    query = parse(text)
    hits, _ = keyword_search(SearchService(engine).backend, query,
                             effective_filters(query, SearchFilters()), limit=limit,
                             params=params, posting_cap=posting_cap)
    return [(h.paper_id, h.score) for h in hits]


def ids(engine: Engine, text: str, **kw: object) -> list[str]:
    service = SearchService(engine)
    return [h.paper_id for h in service.search(text, mode="keyword", **kw).hits]  # type: ignore[arg-type]


def test_keyword_search_finds_title_words_first(catalog: Engine) -> None:
    assert ids(catalog, "voice cloning benchmark")[0] == "2504.20581"
    assert ids(catalog, "zooplankton") == []  # the only match is hidden


def test_title_match_outranks_abstract_match(catalog: Engine) -> None:
    hits = kw_hits(catalog, "diffusion")
    titles_with = {"2602.22661", "2505.21848", "2509.01134", "2606.14756"}
    top = [h[0] for h in hits[: len(titles_with)]]
    assert set(top) == titles_with


def test_filters_category_year_featured_code(catalog: Engine) -> None:
    cats = {p.id: p.categories for p in real_papers()}
    everything = ids(catalog, "language", limit=50)
    cl = ids(catalog, "language cat:cs.cl", limit=50)
    assert cl and all("cs.CL" in cats[p] for p in cl)
    assert set(cl) == {p for p in everything if "cs.CL" in cats[p]}
    assert "2504.13359" in cl  # cs.CL as a secondary category counts
    assert ids(catalog, "diffusion", filters=SearchFilters(featured_only=True)) == [FEATURED_ID]
    assert ids(catalog, "benchmark", filters=SearchFilters(has_code=True)) == [CODE_ID]
    y2025 = ids(catalog, "benchmark year:2025", limit=50)
    assert y2025 and all(p.startswith("25") for p in y2025)
    jun = ids(
        catalog, "benchmark",
        filters=SearchFilters(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30)), limit=50,
    )
    assert jun and all(p.startswith("2606") for p in jun)


def test_exclusion_phrase_and_author(catalog: Engine) -> None:
    with_llm = ids(catalog, "language models", limit=50)
    without = ids(catalog, 'language models -"large language"', limit=50)
    assert without and len(without) < len(with_llm)
    assert ids(catalog, '"voice cloning"') == [CODE_ID]


def test_filter_only_query_lists_newest(catalog: Engine) -> None:
    got = ids(catalog, "cat:cs.GR", limit=10)
    assert got == ["2509.01134", "2506.23957"]


def test_arxiv_id_url_and_exact_title_are_pinned_first(catalog: Engine) -> None:
    service = SearchService(catalog)
    for text in ("2504.20581", "arXiv:2504.20581v2", "https://arxiv.org/abs/2504.20581",
                 "clonEval: an open voice-cloning benchmark"):
        result = service.search(text, mode="keyword")
        assert result.hits[0].paper_id == CODE_ID and result.hits[0].pinned, text
    assert service.search(HIDDEN_ID, mode="keyword").hits == []


@pytest.mark.parametrize("text", ['"', "-", "NEAR(", "*", "x" * 10_000, "a\x00b", "author:", ""])
def test_hostile_queries_return_without_error(catalog: Engine, text: str) -> None:
    result = SearchService(catalog).search(text, mode="hybrid")
    assert isinstance(result.hits, list)


def test_within_cap_keeps_the_rarest_words_that_fit() -> None:
    from paperfeed.search.keyword import within_cap

    df = {"large": 900, "language": 700, "zebrafish": 3, "retina": 40}
    words = ["large", "language", "zebrafish", "retina"]
    assert within_cap(words, df, 50) == ["zebrafish", "retina"]
    assert within_cap(words, df, 800) == ["language", "zebrafish", "retina"]
    assert within_cap(["large", "language"], df, 500) == []


def test_posting_cap_drops_common_words_but_keeps_phrases(catalog: Engine) -> None:
    full = kw_hits(catalog, "voice cloning benchmark")
    capped = kw_hits(catalog, "voice cloning benchmark", posting_cap=0)
    phrase = kw_hits(catalog, '"voice cloning" benchmark', posting_cap=0)
    assert full and full[0][0] == "2504.20581"
    assert capped == []  # every word matches more papers than the cap: nothing scored
    assert [h[0] for h in phrase][:1] == ["2504.20581"]  # a quoted phrase is still searched
