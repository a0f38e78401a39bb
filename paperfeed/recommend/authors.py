"""Author affinity, the per-member model's fourth part: whose papers the member keeps liking.

Members follow people: they upvote their group's and their co-authors' new papers, submit
their own, and at cold start import their own publication list. arxiv-sanity-lite puts author
names into its tf-idf for this reason; here they are a field of their own, so the content
model is not diluted by names and the author part carries its own, interpretable weight.

An author is a normalised name (`storage.authors.name_key`: "Yann  LeCun" = "yann lecun").
The member's profile gives each author on at least `MIN_PAPERS` of their liked papers

    affinity = evidence-weighed share of the liked papers with that author x rarity

The share is weighed by how much evidence there is behind it: it is the lower bound of its
95% Wilson interval over the member's liked papers, times (c - 1) / (c + 1) for an author on c
of them. An author on 2 of a member's 3 liked papers gets 0.21 x 1/3 = 0.07 (the raw 0.67 made
that author's next paper outrank every topical one: two papers say little about whom the
member follows), on 15 of 30 gets 0.33 x 0.88 = 0.29, on 10 of 10 gets 0.72 x 0.82 = 0.59.
With the model's author weight doubled (model.AUTHOR_WEIGHT, 40) the well-evidenced authors
keep their lift; `paperfeed eval recommend` ranks within 0.003 nDCG@10 of the raw share
(bench/README.md, "For you").

The rarity is the author's idf on the sample of recent papers over the largest possible idf
(1 for a name the sample never saw, lower for a large lab's head or a common name, which
say less about a paper). One shared author between two otherwise unrelated liked papers is no
affinity, and a single liked paper makes nobody a favourite. A candidate's affinity is that of
its most-liked author, whatever the length of its byline: following someone means their paper
matters when they are one of forty authors too. Values are in [0, 1]; most candidates get 0.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

MIN_PAPERS = 2  # an author counts once they are on this many of the member's liked papers
EVIDENCE_Z = 1.96  # the share is the lower bound of its 95% Wilson interval ...
EVIDENCE_COUNT = 2.0  # ... times (c - 1) / (c - 1 + this) for an author on c liked papers
PROFILE_AUTHORS = 100  # authors kept in a stored profile


class AuthorSpace:
    """Document frequencies of normalised author names over a sample of papers."""

    def __init__(self, bylines: Iterable[Sequence[str]]) -> None:
        df: Counter[str] = Counter()
        n = 0
        for keys in bylines:
            df.update(set(keys))
            n += 1
        self.documents = n
        self._df = df
        self._max_idf = math.log(1 + n) + 1.0

    def rarity(self, key: str) -> float:
        """The author's idf over the largest possible one: in (0, 1]."""
        return (math.log((1 + self.documents) / (1 + self._df.get(key, 0))) + 1.0) / self._max_idf


def profile(
    space: AuthorSpace, bylines: Sequence[Sequence[str]], weights: Sequence[float] | None = None,
    *, min_papers: int = MIN_PAPERS, keep: int = PROFILE_AUTHORS,
) -> dict[str, float]:
    """{author: affinity} over the liked papers' bylines (see the module docstring), the
    `keep` strongest. The share is weighted (a "more like this" counts twice); the evidence
    behind it is the number of liked papers."""
    if not bylines:
        return {}
    ws = list(weights) if weights is not None else [1.0] * len(bylines)
    total = sum(ws) or 1.0
    papers_by: Counter[str] = Counter()
    share: dict[str, float] = {}
    for keys, w in zip(bylines, ws, strict=True):
        for k in set(keys):
            papers_by[k] += 1
            share[k] = share.get(k, 0.0) + w / total
    n = len(bylines)
    kept = ((k, evidence(s, n, papers_by[k]) * space.rarity(k)) for k, s in share.items()
            if papers_by[k] >= min_papers)
    top = heapq.nlargest(keep, kept, key=lambda kv: kv[1])
    return dict(sorted(((k, round(v, 6)) for k, v in top), key=lambda kv: (-kv[1], kv[0])))


def evidence(share: float, n: int, count: int) -> float:
    """The share of a member's `n` liked papers an author is on (on `count` of them),
    weighed by the evidence behind it (see the module docstring)."""
    return wilson_lower(share, n) * max(0, count - 1) / (count - 1 + EVIDENCE_COUNT)


def wilson_lower(share: float, n: int, z: float = EVIDENCE_Z) -> float:
    """The lower bound of the Wilson score interval of a `share` observed over `n` papers:
    the share the evidence supports (0 with none; close to the share once there is plenty)."""
    if n <= 0 or share <= 0:
        return 0.0
    p = min(1.0, share)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))


def scores(profile_authors: Mapping[str, float], bylines: Sequence[Sequence[str]]) -> np.ndarray:
    """Each candidate's affinity: that of its most-liked author (0 when none is liked)."""
    if not profile_authors:
        return np.zeros(len(bylines))
    return np.array([max((profile_authors.get(k, 0.0) for k in keys), default=0.0)
                     for keys in bylines], dtype=np.float64)


def top_shared(profile_authors: Mapping[str, float], byline: Sequence[str]) -> str | None:
    """The candidate's most-liked author (None when none is liked)."""
    best = max(((profile_authors.get(k, 0.0), k) for k in byline), default=None)
    return best[1] if best is not None and best[0] > 0 else None
