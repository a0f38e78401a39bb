"""The per-member model, the pure part: fit a query vector from labelled paper vectors, and
score candidates with it. No I/O; `service.py` feeds it from storage.

A member's taste is three things, fitted whenever they act and stored in a few KB:
- `weights`: an L2-regularised logistic regression over the paper embeddings (positives =
  upvotes, submissions, saves, "more like this", thumbs up; negatives = "not interested",
  thumbs down, and a background sample of recent papers). It is the query vector handed to the
  vector index (`Neighbours.nearest`), so ranking the catalog is one nearest-neighbour search.
- `keywords`: the tf-idf centroid of the positives' titles and abstracts (top terms only):
  exact words such as a method's name, which sentence embeddings blur.
- `anchors`: the positive papers themselves; a candidate's nearest anchor adds a "close to
  one thing you liked" term and is the explanation shown with it.

`combine` z-scores each part over the candidates and adds them with the weights chosen on
`paperfeed eval recommend` (bench/README.md, "For you").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAMBDA = 30.0  # L2 strength: strong, so a handful of positives gives a stable direction
KEYWORD_WEIGHT = 0.75
NEAREST_WEIGHT = 0.5
POPULARITY_WEIGHT = 0.5  # only when the member opts in
MAX_STEPS = 200


@dataclass(slots=True)
class Fit:
    weights: np.ndarray  # unit length, float32
    steps: int


def fit_weights(
    positives: np.ndarray,
    negatives: np.ndarray,
    *,
    positive_weights: np.ndarray | None = None,
    negative_weights: np.ndarray | None = None,
    lam: float = LAMBDA,
    warm: np.ndarray | None = None,
    tol: float = 1e-5,
) -> Fit:
    """Class-balanced logistic regression (with intercept) by Nesterov-accelerated gradient
    descent; returns the unit-length weight vector (the intercept does not change rankings).

    The strong L2 term keeps the problem well conditioned, so a few dozen gradient steps (each
    two matrix-vector products over a few hundred rows) converge: well under 20 ms at 384-d.
    `warm` (the member's previous weights) starts the descent nearer the answer."""
    dim = positives.shape[1] if positives.size else negatives.shape[1]
    if len(positives) == 0:
        return Fit(np.zeros(dim, dtype=np.float32), 0)
    x = np.vstack([positives, negatives]).astype(np.float64, copy=False)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    pw = np.ones(len(positives)) if positive_weights is None else positive_weights
    nw = np.ones(len(negatives)) if negative_weights is None else negative_weights
    n = len(x)
    # Balanced: each class carries half the total weight, within a class as given.
    sw = np.concatenate([
        pw / max(pw.sum(), 1e-12) * n / 2,
        nw / max(nw.sum(), 1e-12) * n / 2 if len(negatives) else np.zeros(0),
    ])
    theta = np.zeros(dim + 1)
    if warm is not None and warm.shape == (dim,) and np.isfinite(warm).all():
        theta[:dim] = warm  # a direction only: its scale is relearned below
    row_norms = (x * x).sum(axis=1) + 1.0
    lipschitz = lam + 0.25 * float((sw * row_norms).sum())
    step = 1.0 / lipschitz

    def grad(t: np.ndarray) -> np.ndarray:
        z = x @ t[:dim] + t[dim]
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid
        r = sw * (p - y)
        g = np.empty_like(t)
        g[:dim] = x.T @ r + lam * t[:dim]
        g[dim] = r.sum()
        return g

    prev = theta.copy()
    steps = 0
    for k in range(1, MAX_STEPS + 1):
        steps = k
        look = theta + (k - 1) / (k + 2) * (theta - prev)
        g = grad(look)
        prev, theta = theta, look - step * g
        if float(np.abs(theta - prev).max()) < tol:
            break
    w = theta[:dim]
    norm = float(np.linalg.norm(w))
    unit = (w / norm) if norm > 0 else w
    return Fit(unit.astype(np.float32), steps)


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
    *,
    keyword_weight: float = KEYWORD_WEIGHT,
    nearest_weight: float = NEAREST_WEIGHT,
    popularity_weight: float = POPULARITY_WEIGHT,
) -> np.ndarray:
    """The member's score of each candidate: z-scored parts, weighted and summed. Popularity
    (log upvotes) is only passed when the member opted in to the blend."""
    score = zscore(semantic) + keyword_weight * zscore(keyword) + nearest_weight * zscore(nearest)
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


def sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, value))))
