"""Rank fusion and pinning rules: pure functions of ranked lists (no I/O)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

from paperfeed.errors import BadRequest
from paperfeed.models import parse_arxiv_id
from paperfeed.search.query import STOPWORDS


def rrf(
    ranked: Sequence[Sequence[str]], *, weights: Sequence[float] | None = None, k: float = 60.0
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Ties break by the best single rank, then by first appearance, so the order is stable.
    """
    weights = list(weights) if weights is not None else [1.0] * len(ranked)
    if len(weights) != len(ranked):
        raise ValueError("rrf: one weight per ranked list")
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for items, w in zip(ranked, weights, strict=True):
        for rank, doc in enumerate(items, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
            best[doc] = min(best.get(doc, rank), rank)
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], order[kv[0]]))


def score_blend(
    keyword: Sequence[tuple[str, float]],
    cosine: dict[str, float],
    *,
    keyword_weight: float = 0.5,
    boost: dict[str, float] | None = None,
) -> list[tuple[str, float]]:
    """Blend BM25 and cosine scores over the union of candidates, each standardised (z-score)
    within this query: score = w * z(bm25) + (1 - w) * z(cosine).

    Papers the keyword side did not find count as BM25 0; every candidate needs a cosine
    (the caller computes it for keyword-only hits), missing ones count as the lowest seen.
    Scores, unlike ranks, keep how far apart candidates are, which RRF throws away. `boost`
    adds to the blended score of the papers it names (the keyword side's clear leader).
    """
    bm25 = dict(keyword)
    ids = list(dict.fromkeys([*bm25, *cosine]))
    if not ids:
        return []
    floor = min(cosine.values()) if cosine else 0.0
    b = [bm25.get(i, 0.0) for i in ids]
    c = [cosine.get(i, floor) for i in ids]

    def z(values: list[float]) -> list[float]:
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        sd = var**0.5
        return [(v - mean) / sd if sd > 1e-12 else 0.0 for v in values]

    zb, zc = z(b), z(c)
    extra = boost or {}
    scored = [
        (doc, keyword_weight * zb[n] + (1 - keyword_weight) * zc[n] + extra.get(doc, 0.0))
        for n, doc in enumerate(ids)
    ]
    return sorted(scored, key=lambda kv: -kv[1])


STANDOUT_MIN_LIST = 10  # fewer semantic candidates than this say nothing about the spread


def semantic_standout(cosines: Sequence[float], *, skip: int = 0) -> float | None:
    """How far the semantic side's best cosine stands above the rest of its own list, in
    standard deviations: (top - mean) / sd, the mean and sd over the side's candidates (its top
    `depth`) after its best `skip`.

    A query the model understands has one or a few papers clearly nearer than the crowd (z 4-7
    on SciFact, titles and summaries); a query it does not has a flat list (z < 3: many
    keyword-bag and paraphrased-description queries). Unlike the raw cosine or the gap from the
    1st to the 10th neighbour, this hardly moves with the catalog's size (median 4.4 on a 5k
    collection and on the 80k catalog). Leaving the best two out of the crowd (`skip=2`) keeps
    two clear hits (a paper and its sibling, or two answers) from lifting the crowd's spread
    and so reading as a flat list. None when the list is too short to tell (filters)."""
    if len(cosines) - max(skip, 0) < STANDOUT_MIN_LIST:
        return None
    values = sorted((float(c) for c in cosines), reverse=True)
    rest = values[max(skip, 0):]
    mean = sum(rest) / len(rest)
    sd = (sum((v - mean) ** 2 for v in rest) / len(rest)) ** 0.5
    return (values[0] - mean) / sd if sd > 1e-12 else None


def blend_weight(
    base: float, standout: float | None, *, flat: float, sharp: float, shift: float
) -> float:
    """The keyword share of the score blend for one query: `base` when the semantic side is
    sure of itself (standout >= `sharp`), rising linearly to `base + shift` as its list
    flattens (standout <= `flat`). A weak semantic side then cannot push the keyword side's
    clear answer down (bench/README.md, "Fusion rules")."""
    if standout is None or shift == 0.0 or sharp <= flat:
        return base
    t = min(max((sharp - standout) / (sharp - flat), 0.0), 1.0)
    return min(max(base + shift * t, 0.0), 1.0)


KEYWORD_LIKE_MAX_WORDS = 10  # a bag of at most this many words, none of them a stopword


def keyword_like(words: Sequence[str]) -> bool:
    """True for a query typed as bare keywords ("sparse attention video diffusion"): at most
    KEYWORD_LIKE_MAX_WORDS words and no stopword among them. A sentence or question ("how do
    ...", "a benchmark for ...") always holds one. Such a query names the paper's own terms, so
    the keyword side's matches are the better evidence; the model, trained on sentences, reads
    a bag of terms poorly (bench/README.md, "Fourth pass")."""
    lowered = [w.lower() for w in words]
    return 0 < len(lowered) <= KEYWORD_LIKE_MAX_WORDS and not any(w in STOPWORDS for w in lowered)


def keyword_lead(scores: Sequence[float]) -> float | None:
    """How far the keyword side's best paper leads its second: BM25 #1 / #2 (None without a
    hit; a lone hit leads by any measure, so it counts as a large lead). Unlike the z of the top
    score, a ratio of two scores does not move with how many papers matched."""
    if not scores:
        return None
    if len(scores) < 2 or scores[1] <= 0:
        return float("inf")
    return float(scores[0]) / float(scores[1])


def lead_bonus(lead: float | None, *, low: float, high: float, bonus: float) -> float:
    """The bonus (in the blend's z units) given to the keyword side's best paper: none at a
    lead of `low` or less, all of `bonus` from `high` on, linear between."""
    if lead is None or bonus == 0.0 or high <= low:
        return 0.0
    return bonus * min(max((lead - low) / (high - low), 0.0), 1.0)


COVERAGE_PREFIX = 5  # letters of a word that stand for its stem in `coverage`
_TEXT_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def word_weights(docs: dict[str, int], papers: int) -> dict[str, float]:
    """Each query word's weight for `coverage`: its BM25 idf, log((N - n + 0.5) / (n + 0.5)),
    from the counts the keyword side already asked for (0 for a word in half the papers or
    more: it says nothing about which paper is meant)."""
    out: dict[str, float] = {}
    for word, n in docs.items():
        out[word] = math.log((papers - n + 0.5) / (n + 0.5)) if n < papers / 2 else 0.0
    return out


def coverage(weights: dict[str, float], text: str) -> float:
    """The share of the query's informative words a paper's text holds, each word weighted by
    its idf (`word_weights`): 1.0 when every word is there. A word counts as there when a word
    of the text starts with its first COVERAGE_PREFIX letters (the whole word when shorter), a
    crude stem that is the same on every engine ("optimizes" finds "optimization"). Unlike BM25
    it does not weigh the title above the abstract nor shorten a long abstract's due: it asks
    only whether the paper says what the query says."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    n = COVERAGE_PREFIX
    held = {w[:n] for w in _TEXT_WORD.findall(text.lower())}
    return sum(v for w, v in weights.items() if w.lower()[:n] in held) / total


def ramp(value: float, low: float, high: float) -> float:
    """0 at `low` or below, 1 at `high` or above, linear between."""
    if high <= low:
        return 1.0 if value >= high else 0.0
    return min(max((value - low) / (high - low), 0.0), 1.0)


def coverage_bonus(keyword_top: float, fused_top: float, *, floor: float, low: float,
                   high: float, bonus: float) -> float:
    """The bonus (z units) for the keyword side's best paper when it is not the blend's first:
    none unless it holds at least `floor` of the query's informative words (`coverage`), then
    ramped from nothing to all of `bonus` as its coverage exceeds the blend's first paper's by
    `low` to `high`."""
    if bonus == 0.0 or keyword_top < floor:
        return 0.0
    return bonus * ramp(keyword_top - fused_top, low, high)


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _word_run(text: str) -> str:
    """The text's words, lower-cased, one space between and around them, so a phrase is held
    when its own run is a substring: "Fine-Tuning," becomes " fine tuning "."""
    return f" {_NOT_WORD.sub(' ', text.lower())} "


def pair_weights(pairs: Sequence[str], weights: dict[str, float]) -> dict[str, float]:
    """Each adjacent word pair's weight for `phrase_share`, keyed by the pair's word run
    (" supervised fine tuning "): the `word_weights` idf of its commoner word (a pair of two
    rare words is rare; a pair holding a word found everywhere says little, and a word
    `weights` does not know weighs 0). Pairs that weigh nothing are left out."""
    out: dict[str, float] = {}
    for pair in pairs:
        weight = min((weights.get(w, 0.0) for w in pair.split()), default=0.0)
        if weight > 0:
            out[_word_run(pair)] = weight
    return out


def phrase_shares(weights: dict[str, float], texts: dict[str, str]) -> dict[str, float]:
    """For each paper, the share of the query's adjacent word pairs (`pair_weights`) its text
    holds side by side, each pair weighted, out of the pairs that any of these papers holds: a
    pair none of them holds (two terms the query put next to each other, "splatting mean-pool")
    says nothing about which of them is meant.

    Each pair a paper holds counts only for the share of the compared papers that do *not*
    hold it: a pair most of them hold ("without sacrificing", "video generation": a title's
    stock phrase, or the topic's name every paper on it uses) cannot tell them apart either, so
    it lifts them all alike and by little; a pair one paper alone holds (a method's own name)
    counts almost fully. Without this a paper holding only common pairs could take the whole
    bonus from one that holds none (bench/README.md, "Seventh pass"). 1.0 is out of reach; a
    paper holding every held pair, each held by few others, comes near it.
    Words are compared whole, split as the text is split ("supervised fine-tuning" is held by
    "Supervised Fine-Tuning (SFT)"), so the same on every engine."""
    runs = {pid: _word_run(text) for pid, text in texts.items()}
    held = {pid: {pair for pair in weights if pair in run} for pid, run in runs.items()}
    total = sum(weights[pair] for pair in set().union(*held.values()))
    if total <= 0:
        return dict.fromkeys(texts, 0.0)
    n = len(held)
    rare = {pair: 1.0 - sum(1 for pairs in held.values() if pair in pairs) / n
            for pair in weights}
    return {pid: sum(weights[pair] * rare[pair] for pair in pairs) / total
            for pid, pairs in held.items()}


def arxiv_id_in(text: str) -> str | None:
    """The arXiv id when the whole query is an id, `arXiv:` id or arXiv URL, else None."""
    candidate = text.strip()
    if not candidate or len(candidate) > 200 or " " in candidate:
        return None
    try:
        return parse_arxiv_id(candidate)[0]
    except BadRequest:
        return None


def normalize_title(text: str) -> str:
    """Case-, accent-, punctuation- and LaTeX-brace-insensitive form for exact-title pinning."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", text.lower()).strip()


def pin_first(ranked: Sequence[str], pinned: Sequence[str]) -> list[str]:
    """`pinned` ids first (in order), then the rest of `ranked` without duplicates."""
    seen: set[str] = set()
    out: list[str] = []
    for doc in (*pinned, *ranked):
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out
