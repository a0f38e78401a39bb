"""Pure ranking pieces: RRF, the score blend, pinning rules, common-word pruning."""

from __future__ import annotations

import pytest

from paperfeed.search.fusion import arxiv_id_in, normalize_title, pin_first, rrf, score_blend
from paperfeed.search.keyword import KeywordParams, select_terms


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=10)
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 11 + 1 / 12)
    assert scores["c"] == pytest.approx(1 / 13 + 1 / 11)
    assert [d for d, _ in fused] == ["a", "c", "b"]
    weighted = rrf([["a"], ["b"]], weights=[1.0, 2.0], k=0)
    assert [d for d, _ in weighted] == ["b", "a"]


def test_score_blend_standardises_both_sides() -> None:
    # a: strong keyword, weak cosine; b: weak keyword, strong cosine; c: semantic only.
    fused = score_blend([("a", 10.0), ("b", 2.0)], {"a": 0.2, "b": 0.8, "c": 0.5})
    assert [d for d, _ in fused][0] in ("a", "b")
    assert dict(fused)["c"] < max(dict(fused).values())
    only_kw = score_blend([("a", 3.0), ("b", 1.0)], {"a": 0.5, "b": 0.5}, keyword_weight=0.5)
    assert [d for d, _ in only_kw] == ["a", "b"]
    assert score_blend([], {}) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2401.01234", "2401.01234"), ("arXiv:2401.01234v3", "2401.01234"),
     ("https://arxiv.org/abs/2401.01234", "2401.01234"), ("http://arxiv.org/pdf/2401.01234v1", "2401.01234"),
     ("hep-th/9901001", "hep-th/9901001"), ("2401.01234 diffusion", None), ("diffusion", None), ("", None)],
)
def test_arxiv_id_in(text: str, expected: str | None) -> None:
    assert arxiv_id_in(text) == expected


def test_normalize_title_ignores_case_accents_punctuation() -> None:
    assert normalize_title("ClonEval: An Open Voice-Cloning  Benchmark") == normalize_title(
        "cloneval an open voice cloning benchmark"
    )
    assert normalize_title("Café") == "cafe"


def test_pin_first_dedupes() -> None:
    assert pin_first(["a", "b", "c"], ["c"]) == ["c", "a", "b"]


def test_select_terms_drops_common_words_but_keeps_the_rarest() -> None:
    params = KeywordParams(max_df_ratio=0.25, posting_budget=1000, min_terms=2)
    df = {"model": 900, "zooplankton": 2, "learning": 200, "geo": 40, "nowhere": 0}
    words = ["model", "zooplankton", "learning", "geo", "nowhere"]
    assert select_terms(words, df, 1000, params) == ["zooplankton", "learning", "geo"]
    tight = KeywordParams(max_df_ratio=0.25, posting_budget=100, min_terms=2)
    assert select_terms(words, df, 1000, tight) == ["zooplankton", "geo"]
    common = {"model": 900, "learning": 800}
    assert select_terms(["model", "learning"], common, 1000, params) == ["model", "learning"]
