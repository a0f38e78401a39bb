"""Keyword features of the per-member model: tf-idf of a paper's title and abstract, with the
document frequencies estimated on a sample of recent papers.

Why a sample: the idf only has to tell common words (dropped above `MAX_DF`) from rare ones, and
a few thousand recent papers tell that as well as the whole catalog, in a second, per process,
with no table to keep in step. Words the sample never saw get the highest idf (rare by
definition). Paper vectors are cached by `background.RecentPapers`.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from paperfeed.recommend.tfidf import terms

MAX_DF = 0.1  # terms in more than this share of papers carry no taste
PROFILE_TERMS = 256  # terms kept in a member's stored profile

KeywordVector = dict[str, float]


def term_counts(text: str) -> Counter[str]:
    """Unigram and bigram counts of a text (the tokenisation of `tfidf.terms`)."""
    return Counter(terms(text))


class KeywordSpace:
    """Document frequencies of unigrams and bigrams over a sample of papers (given as texts,
    or as their `term_counts` when the caller keeps those to build vectors from)."""

    def __init__(self, texts: Iterable[str] = (), *,
                 counts: Iterable[Mapping[str, int]] | None = None) -> None:
        df: Counter[str] = Counter()
        n = 0
        for c in counts if counts is not None else (term_counts(t) for t in texts):
            df.update(c.keys())
            n += 1
        self.documents = n
        self.max_count = max(2.0, MAX_DF * n)
        self._df = df
        # Each seen term's weight, 0 for the common ones (dropped); unseen terms get the top
        # idf. One dict lookup per term when vectorising a paper, not a log.
        self._top = math.log(1 + n) + 1.0
        self._weight = {t: (self.idf(t) if c <= self.max_count else 0.0) for t, c in df.items()}

    def idf(self, term: str) -> float:
        return math.log((1 + self.documents) / (1 + self._df.get(term, 0))) + 1.0

    def vector(self, text: str) -> KeywordVector:
        """Sublinear tf x idf of the text's terms (common terms dropped), unit length."""
        return self.vector_of(term_counts(text))

    def vector_of(self, counts: Mapping[str, int]) -> KeywordVector:
        weight, top, log = self._weight, self._top, math.log
        values = {}
        for t, c in counts.items():
            w = weight.get(t, top)
            if w:
                values[t] = (1.0 + log(c)) * w if c > 1 else w
        norm = math.sqrt(sum(v * v for v in values.values()))
        return {t: v / norm for t, v in values.items()} if norm else {}


def profile(
    vectors: Sequence[KeywordVector], weights: Sequence[float] | None = None,
    *, keep: int = PROFILE_TERMS,
) -> KeywordVector:
    """The weighted centroid of the positives' vectors, cut to its `keep` heaviest terms."""
    if not vectors:
        return {}
    ws = list(weights) if weights is not None else [1.0] * len(vectors)
    total = sum(ws) or 1.0
    acc: dict[str, float] = {}
    for vec, w in zip(vectors, ws, strict=True):
        for t, v in vec.items():
            acc[t] = acc.get(t, 0.0) + v * w / total
    top = heapq.nlargest(keep, acc.items(), key=lambda kv: kv[1])
    return dict(sorted(top, key=lambda kv: (-kv[1], kv[0])))


def scores(profile_terms: Mapping[str, float], vectors: Sequence[KeywordVector]) -> np.ndarray:
    """Dot product of the member's profile with each candidate's vector (over the shared
    terms only: the key intersection runs in C, and a candidate shares a few of its ~200
    terms with the profile's 256, so this is ~5x faster than walking every term)."""
    keys = profile_terms.keys()
    return np.array(
        [sum(vec[t] * profile_terms[t] for t in keys & vec.keys()) for vec in vectors],
        dtype=np.float64,
    )
