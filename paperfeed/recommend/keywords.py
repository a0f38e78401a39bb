"""Keyword features of the per-member model: tf-idf of a paper's title and abstract, with the
document frequencies estimated on a sample of recent papers.

Why a sample: the idf only has to tell common words (dropped above `MAX_DF`) from rare ones, and
a few thousand recent papers tell that as well as the whole catalog, in a second, per process,
with no table to keep in step. Words the sample never saw get the highest idf (rare by
definition). Paper vectors are cached (bounded LRU), so ranking a day that other members
already ranked, or refitting a member after one more vote, tokenises at most the new papers.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from paperfeed.recommend.tfidf import terms

MAX_DF = 0.1  # terms in more than this share of papers carry no taste
PROFILE_TERMS = 256  # terms kept in a member's stored profile
CACHE_PAPERS = 20_000

KeywordVector = dict[str, float]


class KeywordSpace:
    """Document frequencies of unigrams and bigrams over a sample of papers."""

    def __init__(self, texts: Iterable[str]) -> None:
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            df.update(set(terms(text)))
            n += 1
        self.documents = n
        self.max_count = max(2.0, MAX_DF * n)
        self._df = df
        self._cache: OrderedDict[str, KeywordVector] = OrderedDict()
        self._lock = threading.Lock()

    def idf(self, term: str) -> float:
        return math.log((1 + self.documents) / (1 + self._df.get(term, 0))) + 1.0

    def vector(self, text: str) -> KeywordVector:
        """Sublinear tf x idf of the text's terms (common terms dropped), unit length."""
        counts = Counter(terms(text))
        values = {
            t: (1.0 + math.log(c)) * self.idf(t)
            for t, c in counts.items()
            if self._df.get(t, 0) <= self.max_count
        }
        norm = math.sqrt(sum(v * v for v in values.values()))
        return {t: v / norm for t, v in values.items()} if norm else {}

    def paper_vectors(self, texts: Mapping[str, str]) -> dict[str, KeywordVector]:
        """{paper id: vector} for {paper id: text}, through the LRU cache (keyed by id and text)."""
        out: dict[str, KeywordVector] = {}
        missing: list[tuple[str, str]] = []
        with self._lock:
            for pid, text in texts.items():
                key = f"{pid}\x00{hash(text)}"
                found = self._cache.get(key)
                if found is None:
                    missing.append((pid, text))
                else:
                    self._cache.move_to_end(key)
                    out[pid] = found
        for pid, text in missing:
            vec = self.vector(text)
            out[pid] = vec
            with self._lock:
                self._cache[f"{pid}\x00{hash(text)}"] = vec
                while len(self._cache) > CACHE_PAPERS:
                    self._cache.popitem(last=False)
        return out


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
    """Dot product of the member's profile with each candidate's vector."""
    return np.array(
        [sum(v * profile_terms.get(t, 0.0) for t, v in vec.items()) for vec in vectors],
        dtype=np.float64,
    )
