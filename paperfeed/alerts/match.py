"""Matching a batch of new papers against saved searches, the pure part (a percolator).

Words pass: the batch is indexed once (token -> papers); each candidate search looks up only
the papers that hold one of its anchor tokens (`Rule.anchors`: its rarest required word, or
its categories) and tests those. Cost: the batch's tokens + the candidate pairs; searches
whose anchor is not in the batch cost nothing here (storage finds the candidates with an
indexed lookup of the batch's vocabulary).

Meaning pass: the vectors of every semantic search (S x d) times the batch's paper vectors
(d x P), one matrix product per block of searches; pairs above the threshold are tested for
the search's other conditions. Cost: S x P x d multiply-adds (100k searches x 1,000 papers x
384 = 3.8e10, BLAS: seconds), independent of the catalog's size.

A search only matches papers first stored at or after it was saved, and never its own paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from paperfeed.alerts.rules import ANY, PaperTerms, Rule, passes_filters, words_match

BLOCK = 8192  # searches per matrix product (bounds memory: BLOCK x P floats)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A saved search as the matcher needs it."""

    id: int
    rule: Rule
    created_at: datetime
    anchors: tuple[str, ...] = ()
    like_paper_id: str | None = None
    semantic: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    search_id: int
    paper_id: str
    score: float
    via: str  # words | meaning | like


def postings(papers: Sequence[PaperTerms]) -> dict[str, set[int]]:
    """token (and cat:<category>) -> indices of the batch's papers that hold it."""
    index: dict[str, set[int]] = {ANY: set(range(len(papers)))}
    for i, paper in enumerate(papers):
        for token in paper.tokens | paper.pseudo_tokens():
            index.setdefault(token, set()).add(i)
    return index


def _holders(rule: Rule, index: dict[str, set[int]]) -> set[int]:
    """Papers of the batch that can match `rule`: those holding every required token (the
    smallest posting sets intersected first), or one of its categories, or any."""
    tokens = set(rule.required_tokens())
    if tokens:
        sets = []
        for token in tokens:
            found = index.get(token)
            if not found:
                return set()
            sets.append(found)
        sets.sort(key=len)
        return sets[0].intersection(*sets[1:])
    if rule.categories:
        return set().union(*(index.get(f"cat:{c}", set()) for c in rule.categories))
    return index[ANY]


def match_words(
    searches: Iterable[Candidate],
    papers: Sequence[PaperTerms],
    indexed_at: Sequence[datetime],
    index: dict[str, set[int]] | None = None,
) -> list[Found]:
    """Searches matched by their words and filters (like-this-paper searches are matched by
    meaning only). Storage chose the candidates by their anchors; here each one's papers are
    the intersection of its words' posting sets, and only rules with more than plain words
    (phrases, authors, exclusions, categories, years) test each paper further."""
    index = index if index is not None else postings(papers)
    found: list[Found] = []
    for search in searches:
        rule = search.rule
        if search.like_paper_id is not None or rule.empty:
            continue
        check = rule.needs_check
        for i in _holders(rule, index):
            if indexed_at[i] < search.created_at:
                continue
            if check and not words_match(rule, papers[i]):
                continue
            found.append(Found(search.id, papers[i].paper_id, 1.0, "words"))
    return found


def match_meaning(
    searches: Sequence[Candidate],
    vectors: np.ndarray,
    papers: Sequence[PaperTerms],
    paper_vectors: np.ndarray,
    indexed_at: Sequence[datetime],
    *,
    text_threshold: float,
    like_threshold: float,
) -> list[Found]:
    """Searches whose vector (row i of `vectors`, unit length) is close to a paper's (row j of
    `paper_vectors`): semantic text searches above `text_threshold` that pass their filters,
    like-this-paper searches above `like_threshold` that also hold their words."""
    if not len(searches) or not len(papers):
        return []
    found: list[Found] = []
    thresholds = np.array(
        [like_threshold if s.like_paper_id else text_threshold for s in searches],
        dtype=np.float32,
    )
    pt = np.ascontiguousarray(paper_vectors.T, dtype=np.float32)
    for start in range(0, len(searches), BLOCK):
        block = np.asarray(vectors[start : start + BLOCK], dtype=np.float32)
        sims = block @ pt
        rows, cols = np.nonzero(sims >= thresholds[start : start + BLOCK, None])
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            search = searches[start + r]
            paper = papers[c]
            if indexed_at[c] < search.created_at or paper.paper_id == search.like_paper_id:
                continue
            if search.like_paper_id:
                if not (all(paper.has(seq) for seq in search.rule.terms)
                        and passes_filters(search.rule, paper)):
                    continue
                via = "like"
            else:
                if not passes_filters(search.rule, paper):
                    continue
                via = "meaning"
            found.append(Found(search.id, paper.paper_id, float(sims[r, c]), via))
    return found
