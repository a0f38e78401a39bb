"""Pure ranking pieces: RRF, the score blend and its per-query rules, pinning rules,
common-word pruning."""

from __future__ import annotations

import math

import pytest

from paperfeed.search import fusion
from paperfeed.search.fusion import (
    arxiv_id_in,
    blend_weight,
    keyword_lead,
    keyword_like,
    lead_bonus,
    normalize_title,
    pin_first,
    rrf,
    score_blend,
    semantic_standout,
)
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


def test_semantic_standout_tells_a_clear_best_from_a_flat_list() -> None:
    flat = [0.52, 0.51, 0.51, 0.50, 0.50, 0.49, 0.49, 0.48, 0.48, 0.47, 0.47, 0.46]
    sharp = [0.80, *flat[1:]]
    assert semantic_standout(sharp) > 3.0 > semantic_standout(flat)  # type: ignore[operator]
    assert semantic_standout(flat[:9]) is None  # too few candidates to say (filters)
    assert semantic_standout([0.5] * 20) is None  # no spread at all
    # the order of the list does not matter, only its values
    assert semantic_standout(list(reversed(sharp))) == pytest.approx(semantic_standout(sharp))


def test_semantic_standout_can_leave_the_best_out_of_the_crowd() -> None:
    """Two clear hits above a flat crowd: counted in the crowd they widen its spread and the
    list reads as unsure; measured against ranks 3 and below the best one stands out."""
    crowd = [0.30 - 0.0025 * i for i in range(60)]  # an even spread, as real lists show
    two = [0.42, 0.41, *crowd]
    z0, z2 = semantic_standout(two), semantic_standout(two, skip=2)
    assert z0 is not None and z2 is not None
    assert z0 < 3.7 < z2  # below / above the rule's `standout_sharp`
    flat = [0.32, 0.31, 0.30, *crowd]
    assert semantic_standout(flat, skip=2) < 3.7  # type: ignore[operator]
    assert semantic_standout(two[:11], skip=2) is None  # fewer than 10 left to compare with
    assert semantic_standout(list(reversed(two)), skip=2) == pytest.approx(z2)


def test_blend_weight_moves_toward_keywords_as_the_semantic_side_flattens() -> None:
    rule = {"flat": 2.0, "sharp": 4.0, "shift": 0.4}
    assert blend_weight(0.5, 5.0, **rule) == 0.5
    assert blend_weight(0.5, 4.0, **rule) == 0.5
    assert blend_weight(0.5, 3.0, **rule) == pytest.approx(0.7)
    assert blend_weight(0.5, 1.0, **rule) == pytest.approx(0.9)
    assert blend_weight(0.5, None, **rule) == 0.5  # unknown: the base weight
    assert blend_weight(0.5, 1.0, flat=2.0, sharp=4.0, shift=0.0) == 0.5  # rule off
    assert blend_weight(0.8, 0.0, flat=2.0, sharp=4.0, shift=0.4) == 1.0  # never past 1


def test_keyword_like_tells_a_bag_of_terms_from_a_sentence() -> None:
    assert keyword_like(["sparse", "attention", "video", "diffusion"])
    assert keyword_like(["Transformer"])
    assert not keyword_like(["how", "do", "transformers", "scale"])  # a question
    assert not keyword_like(["a", "benchmark", "for", "voice", "cloning"])  # a title
    assert not keyword_like([])  # nothing typed
    assert not keyword_like(["w"] * 11)  # too long to be a bag of keywords


def test_keyword_lead_is_the_ratio_of_the_best_two_scores() -> None:
    assert keyword_lead([6.0, 4.0, 1.0]) == pytest.approx(1.5)
    assert keyword_lead([3.0]) == float("inf")  # a lone match leads by any measure
    assert keyword_lead([3.0, 0.0]) == float("inf")
    assert keyword_lead([]) is None


def test_lead_bonus_ramps_between_its_bounds() -> None:
    ramp = {"low": 1.1, "high": 1.5, "bonus": 0.5}
    assert lead_bonus(1.05, **ramp) == 0.0
    assert lead_bonus(1.3, **ramp) == pytest.approx(0.25)
    assert lead_bonus(2.0, **ramp) == 0.5
    assert lead_bonus(float("inf"), **ramp) == 0.5
    assert lead_bonus(None, **ramp) == 0.0
    assert lead_bonus(2.0, low=1.1, high=1.5, bonus=0.0) == 0.0  # rule off


def test_score_blend_boost_lifts_only_the_named_paper() -> None:
    keyword = [("a", 5.0), ("b", 4.9)]
    cosine = {"a": 0.30, "b": 0.60, "c": 0.55}
    plain = score_blend(keyword, cosine)
    assert plain[0][0] == "b"
    boosted = score_blend(keyword, cosine, boost={"a": 1.5})
    assert boosted[0][0] == "a"
    assert dict(boosted)["a"] == pytest.approx(dict(plain)["a"] + 1.5)
    assert dict(boosted)["c"] == pytest.approx(dict(plain)["c"])


def test_word_weights_are_bm25_idf_and_zero_for_common_words() -> None:
    weights = fusion.word_weights({"rare": 1, "common": 600, "half": 500, "none": 0}, 1000)
    assert weights["rare"] == pytest.approx(math.log(999.5 / 1.5))
    assert weights["common"] == 0.0 and weights["half"] == 0.0
    assert weights["none"] > weights["rare"]


def test_coverage_is_the_idf_weighted_share_of_words_held() -> None:
    weights = {"diffusion": 3.0, "optimizes": 1.0, "gan": 1.0}
    text = "Optimization of DIFFUSION models"  # "optimizes" held through its first five letters
    assert fusion.coverage(weights, text) == pytest.approx(0.8)
    assert fusion.coverage(weights, "gans and diffusion") == pytest.approx(0.6)  # "gan" whole only
    assert fusion.coverage(weights, "GAN: a diffusion optimizer") == pytest.approx(1.0)
    assert fusion.coverage({}, text) == 0.0 and fusion.coverage({"a": 0.0}, text) == 0.0
    assert fusion.coverage(weights, "") == 0.0


def test_coverage_bonus_needs_the_floor_and_ramps_with_the_margin() -> None:
    kw = {"floor": 0.5, "low": 0.05, "high": 0.15, "bonus": 0.75}
    assert fusion.coverage_bonus(0.45, 0.0, **kw) == 0.0  # below the floor: no bonus at all
    assert fusion.coverage_bonus(0.9, 0.86, **kw) == 0.0  # not clearly more
    assert fusion.coverage_bonus(0.9, 0.8, **kw) == pytest.approx(0.375)
    assert fusion.coverage_bonus(0.9, 0.5, **kw) == pytest.approx(0.75)
    assert fusion.coverage_bonus(0.9, 0.5, **{**kw, "bonus": 0.0}) == 0.0


def test_phrase_shares_weigh_each_pair_by_its_commoner_word() -> None:
    weights = {"gaussian": 3.0, "splatting": 4.0, "regularization": 1.0, "model": 0.0}
    pairs = fusion.pair_weights(["gaussian splatting", "splatting regularization",
                                 "regularization model", "unknown word"], weights)
    # keyed by the pair's words; a pair holding a word found everywhere, or unknown, weighs 0
    assert pairs == {" gaussian splatting ": 3.0, " splatting regularization ": 1.0}
    # held side by side, case and punctuation ignored; apart, reversed or longer does not count
    shares = fusion.phrase_shares(pairs, {
        "a": "3D Gaussian-Splatting, with no regularization",
        "b": "Gaussian fields; splatting regularization.",
        "c": "Splatting Gaussian regularization",
        "d": "gaussian splattings",
    })
    # out of the pairs some paper holds (4), each held pair counting for the share of the
    # compared papers not holding it (3 of 4)
    assert shares == pytest.approx({"a": 3.0 * 0.75 / 4, "b": 1.0 * 0.75 / 4, "c": 0.0,
                                    "d": 0.0})
    # a pair none holds does not dilute the others
    assert fusion.phrase_shares(pairs, {"a": "gaussian splatting", "c": "splatting gaussian"}) \
        == {"a": 0.5, "c": 0.0}
    assert fusion.phrase_shares(pairs, {"c": "nothing here"}) == {"c": 0.0}
    assert fusion.phrase_shares({}, {"a": "regularization model"}) == {"a": 0.0}
    # a hyphenated query word is held by the same words in the text
    hyphen = fusion.pair_weights(["supervised fine-tuning"], {"supervised": 2.0,
                                                              "fine-tuning": 1.5})
    assert fusion.phrase_shares(hyphen, {
        "a": "Supervised Fine-Tuning (SFT) of models", "b": "supervised fine tuning",
        "c": "supervised finetuning"}) == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 0.0})


def test_a_pair_most_compared_papers_hold_tells_them_apart_by_little() -> None:
    """A stock phrase ("without sacrificing") or the topic's own name held by every compared
    paper lifts none of them; held by all but one, it lifts them by a little (bench/README.md,
    "Seventh pass": without this a title's stock phrase took the phrase check's whole bonus)."""
    pairs = fusion.pair_weights(["without sacrificing", "sacrificing accuracy", "reasonxl model"],
                                {"without": 1.5, "sacrificing": 3.0, "accuracy": 1.0,
                                 "reasonxl": 8.0, "model": 0.5})
    every = {f"p{n}": "faster, without sacrificing accuracy" for n in range(5)}
    assert fusion.phrase_shares(pairs, every) == dict.fromkeys(every, 0.0)
    most = {**every, "t": "the ReasonXL model keeps its accuracy"}
    shares = fusion.phrase_shares(pairs, most)
    # the five stock-phrase papers each hold 2.5 of the 3.0 held weight, but 5 of 6 hold it
    assert shares["p0"] == pytest.approx(2.5 / 3.0 * (1 / 6))
    # the one paper holding a pair nobody else holds counts it almost fully
    assert shares["t"] == pytest.approx(0.5 / 3.0 * (5 / 6))
