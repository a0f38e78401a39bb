"""The per-member model, the pure part: fit a query vector from labelled paper vectors, and
score candidates with it. No I/O; `service.py` feeds it from storage.

A member's taste is four things, fitted whenever they act and stored in a few KB:
- `weights`: a class-balanced ridge classifier over the paper embeddings (positives = upvotes,
  submissions, saves, "more like this", thumbs up; negatives = "not interested", thumbs down,
  and a background sample of recent papers), solved in closed form. It is the query vector
  handed to the vector index (`Neighbours.nearest`), so ranking the catalog is one
  nearest-neighbour search.
- `keywords`: the tf-idf centroid of the positives' titles and abstracts (top terms only):
  exact words such as a method's name, which sentence embeddings blur.
- `authors`: the share of the positives each author is on, weighed by the evidence behind it
  (times the name's rarity), counting only authors on at least two of them (`authors.py`):
  the people whose work the member keeps coming back to, their own name first when they
  submit or import their own papers.
- `anchors`: the positive papers themselves; a candidate's nearest anchor adds a "close to
  one thing you liked" term and is the explanation shown with it.

`combine` z-scores the three content parts over the candidates and adds the author affinity
as it is (see `combine`), with the weights chosen on `paperfeed eval recommend`'s development
window (bench/README.md, "For you").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LAMBDA = 100.0  # L2 strength: strong, so a handful of positives gives a stable direction
KEYWORD_WEIGHT = 0.75
NEAREST_WEIGHT = 0.5
AUTHOR_WEIGHT = 40.0  # per unit of author affinity (evidence-weighed share x rarity, 0..1)
POPULARITY_WEIGHT = 0.5  # only when the member opts in


@dataclass(slots=True)
class Fit:
    weights: np.ndarray  # unit length, float32
    steps: int  # 1 for the closed form, 0 when there was nothing to fit


@dataclass(frozen=True, slots=True)
class Background:
    """Sampled negatives shared by every member's fit, with their Gram matrix (of the rows
    with a constant 1 appended for the intercept) computed once per sample: a member's fit
    then only adds their own few rows to it."""

    matrix: np.ndarray  # (n, dim) float32
    gram: np.ndarray  # (dim + 1, dim + 1) float64

    @classmethod
    def of(cls, matrix: np.ndarray) -> Background:
        rows = _with_ones(matrix)
        return cls(np.asarray(matrix, dtype=np.float32), rows.T @ rows)

    def __len__(self) -> int:
        return len(self.matrix)


def _with_ones(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    return np.hstack([m, np.ones((len(m), 1))])


def _weighted_gram(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return (rows * weights[:, None]).T @ rows


def fit_weights(
    positives: np.ndarray,
    negatives: np.ndarray | None = None,
    *,
    background: Background | None = None,
    drop: Sequence[int] = (),
    positive_weights: np.ndarray | None = None,
    negative_weights: np.ndarray | None = None,
    lam: float = LAMBDA,
) -> Fit:
    """Class-balanced ridge classification (targets 1 / 0, intercept unpenalised) in closed
    form; returns the unit-length weight vector (the intercept does not change rankings).

    Rows: `positives`, explicit `negatives` (weighted by `negative_weights`, e.g. "not
    interested" counts as ten sampled papers) and the shared `background` sample (weight 1
    each) minus its rows `drop` (papers the member rated themselves). Each class carries half
    the total weight. On this task it ranks like the L2-regularised logistic regression it
    replaced (bench/README.md) and costs one (dim+1)-square solve instead of tens of gradient
    steps: the background's Gram matrix is computed once per sample, so a fit only adds the
    member's own rows. With no negative at all, the weighted mean of the positives."""
    dim = positives.shape[1] if positives.ndim == 2 and positives.shape[1] else (
        background.matrix.shape[1] if background is not None else
        (negatives.shape[1] if negatives is not None else 0))
    if len(positives) == 0:
        return Fit(np.zeros(dim, dtype=np.float32), 0)
    neg = np.zeros((0, dim)) if negatives is None else np.asarray(negatives, dtype=np.float64)
    pw = np.ones(len(positives)) if positive_weights is None else np.asarray(positive_weights,
                                                                             dtype=np.float64)
    nw = np.ones(len(neg)) if negative_weights is None else np.asarray(negative_weights,
                                                                       dtype=np.float64)
    drop = sorted({i for i in drop if background is not None and 0 <= i < len(background)})
    n_bg = (len(background) - len(drop)) if background is not None else 0
    neg_total = float(nw.sum()) + n_bg
    if neg_total <= 0:
        mean = np.average(np.asarray(positives, dtype=np.float64), axis=0, weights=pw)
        return Fit(_unit(mean), 0)
    n = len(positives) + len(neg) + n_bg
    pos_rows = _with_ones(positives)
    pos_s = pw / max(float(pw.sum()), 1e-12) * n / 2
    per_negative = n / 2 / neg_total  # the weight of one background row
    a = _weighted_gram(pos_rows, pos_s)
    if len(neg):
        a += _weighted_gram(_with_ones(neg), nw * per_negative)
    if background is not None and n_bg:
        a += per_negative * background.gram
        if drop:
            gone = _with_ones(background.matrix[drop])
            a -= per_negative * (gone.T @ gone)
    a[np.arange(dim), np.arange(dim)] += lam
    rhs = pos_rows.T @ pos_s
    theta = np.linalg.solve(a, rhs)
    return Fit(_unit(theta[:dim]), 1)


def _unit(w: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(w))
    return (w / norm if norm > 0 else w).astype(np.float32)


def zscore(values: np.ndarray) -> np.ndarray:
    """(v - mean) / std over the candidates; all zeros when they do not differ."""
    if values.size == 0:
        return values.astype(np.float64)
    v = values.astype(np.float64)
    std = float(v.std())
    return (v - v.mean()) / std if std > 1e-12 else np.zeros_like(v)


def combine(
    semantic: np.ndarray,
    keyword: np.ndarray,
    nearest: np.ndarray,
    popularity: np.ndarray | None = None,
    authors: np.ndarray | None = None,
    *,
    keyword_weight: float = KEYWORD_WEIGHT,
    nearest_weight: float = NEAREST_WEIGHT,
    author_weight: float = AUTHOR_WEIGHT,
    popularity_weight: float = POPULARITY_WEIGHT,
) -> np.ndarray:
    """The member's score of each candidate: z-scored content parts, weighted and summed, plus
    the author affinity. The affinity is added as it is, not z-scored: it is already on a fixed
    scale (the evidence-weighed share of the member's liked papers by the candidate's most-liked
    author, times that name's rarity), so an author on half of them lifts a paper far up while
    one on a twentieth of them, or on two of three, nudges it; z-scoring would blow up a single
    weak match in a list where nobody else matches. Popularity (log upvotes) is only passed
    when the member opted in to the blend."""
    score = zscore(semantic) + keyword_weight * zscore(keyword) + nearest_weight * zscore(nearest)
    if authors is not None and authors.size:
        score = score + author_weight * authors.astype(np.float64)
    if popularity is not None:
        score = score + popularity_weight * zscore(np.log1p(np.maximum(popularity, 0)))
    return score


def nearest_anchor(candidates: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best similarity, index of the nearest anchor) per candidate row."""
    if len(anchors) == 0 or len(candidates) == 0:
        return np.zeros(len(candidates)), np.full(len(candidates), -1)
    sims = candidates.astype(np.float32, copy=False) @ anchors.astype(np.float32, copy=False).T
    best = sims.argmax(axis=1)
    return sims[np.arange(len(candidates)), best].astype(np.float64), best
