""""For you": fit a member's model when they act, rank papers for them, explain each pick.

`Recommender` (one per engine and process, `open_recommender`) is what the web pages, the JSON
API, the digests and `paperfeed eval recommend` call. It reads signals and writes profiles only
through `storage.recommend`, and reaches paper vectors only through `search.neighbours`
(`vectors()` for given papers, `nearest()` with the member's weights as the query for the
whole catalog), never through the search service's internals.

Shared, slowly changing inputs are cached per process for `CACHE_SECONDS`: the background
sample (recent papers whose vectors are the sampled negatives, and whose texts give the
keyword idf) and the anchors' vectors of recently seen profile versions.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.recommend import keywords as kw
from paperfeed.recommend.model import combine, fit_weights, nearest_anchor
from paperfeed.search.neighbours import Neighbours, open_neighbours
from paperfeed.storage import recommend as store
from paperfeed.storage.db import write

log = logging.getLogger(__name__)

BACKGROUND = 500  # sampled negatives per fit
BACKGROUND_POOL = 3000  # recent papers the sample and the keyword idf come from
ANCHORS = 200  # newest positives kept for reasons and the nearest-positive term
CATEGORY_PAPERS = 30  # recent papers standing in for each chosen category at cold start
CATEGORY_WEIGHT = 0.2
EXPLICIT_NEGATIVE_WEIGHT = 10.0  # "not interested" counts as ten sampled negatives
CATALOG_POOL = 4  # catalog ranking rescores pool x k nearest papers
CACHE_SECONDS = 900.0
POSITIVE_WEIGHT = {"upvote": 1.0, "submit": 1.0, "save": 1.0, "more": 2.0, "up": 1.0,
                   "seed": 1.0, "import": 1.0}
NEGATIVE_KINDS = frozenset(store.NEGATIVE_FEEDBACK)
VERBS = {"upvote": "you upvoted", "submit": "you submitted", "save": "you saved",
         "more": "you asked for more like", "up": "you liked", "seed": "you picked",
         "import": "you wrote"}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is recommended: the member's positive paper nearest to it."""

    paper_id: str
    title: str
    kind: str  # the signal kind (upvote, submit, ...)
    similarity: float

    @property
    def text(self) -> str:
        return f"Because {VERBS.get(self.kind, 'you liked')} “{self.title}”"


@dataclass(slots=True)
class Recommendation:
    paper_id: str
    score: float
    reason: Reason | None = None
    not_interested: bool = False


@dataclass(slots=True)
class Ranking:
    """A ranked candidate list for one member (`cold` when they have told us nothing yet)."""

    items: list[Recommendation] = field(default_factory=list)
    cold: bool = False
    version: int = 0


@dataclass(slots=True)
class FitReport:
    positives: int
    negatives: int
    version: int
    steps: int
    seconds: float


@dataclass(slots=True)
class _Background:
    ids: list[str]
    matrix: np.ndarray
    space: kw.KeywordSpace
    loaded: float


class Recommender:
    """Fits and ranks for members of one database; thread-safe, cheap to share."""

    def __init__(
        self, engine: Engine, settings: Settings, neighbours: Neighbours | None = None, *,
        as_of: datetime | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self._neighbours = neighbours
        self.as_of = as_of  # evaluation: only papers published before this exist
        self._lock = threading.Lock()
        self._background: _Background | None = None
        self._anchor_cache: OrderedDict[tuple[int, int], tuple[list[str], np.ndarray]] = (
            OrderedDict()
        )

    @property
    def neighbours(self) -> Neighbours:
        if self._neighbours is None:
            self._neighbours = open_neighbours(self.settings, self.engine)
        return self._neighbours

    # -- shared inputs --------------------------------------------------------------------
    def background(self) -> _Background:
        """Recent papers: a fixed random sample of their vectors (negatives) and the keyword
        space of their texts. Reloaded every CACHE_SECONDS."""
        with self._lock:
            bg = self._background
            if bg is not None and time.monotonic() - bg.loaded < CACHE_SECONDS:
                return bg
        nb = self.neighbours
        with self.engine.connect() as conn:
            pool = store.recent_ids(conn, nb.model_id, limit=BACKGROUND_POOL, before=self.as_of)
            texts = store.paper_texts(conn, pool)
        rng = np.random.default_rng(len(pool))
        pick = sorted(rng.choice(len(pool), size=min(BACKGROUND, len(pool)), replace=False)
                      ) if pool else []
        sample = [pool[i] for i in pick]
        found = nb.vectors(sample)
        ids = [pid for pid in sample if pid in found]
        matrix = (np.stack([found[p] for p in ids]) if ids
                  else np.zeros((0, nb.dim), dtype=np.float32))
        space = kw.KeywordSpace(f"{t} {a}" for t, a in texts.values())
        bg = _Background(ids, matrix, space, time.monotonic())
        with self._lock:
            self._background = bg
        return bg

    def _keyword_vectors(self, paper_ids: Sequence[str]) -> dict[str, kw.KeywordVector]:
        space = self.background().space
        with self.engine.connect() as conn:
            texts = store.paper_texts(conn, paper_ids)
        return space.paper_vectors({pid: f"{t} {a}" for pid, (t, a) in texts.items()})

    # -- fitting --------------------------------------------------------------------------
    def refit(self, user_id: int, *, now: datetime) -> FitReport:
        """Fit the member's model from everything they did (before `as_of` in evaluations)
        and store it. Called after each upvote, submission or feedback."""
        start = time.perf_counter()
        nb = self.neighbours
        with self.engine.connect() as conn:
            signals = store.member_signals(conn, user_id, before=self.as_of)
        signals = merge_saves(signals, saved(self.engine, user_id, self.as_of))
        with self.engine.connect() as conn:
            stored = store.get_profile(conn, user_id)
            categories = stored.categories if stored else []
            category_ids = (
                store.recent_ids(conn, nb.model_id, limit=CATEGORY_PAPERS * len(categories),
                                 before=self.as_of, categories=categories)
                if categories else []
            )
        latest: dict[str, store.Signal] = {}
        for s in signals:  # newest first: a paper's latest signal wins
            latest.setdefault(s.paper_id, s)
        positives = [s for s in latest.values() if s.kind not in NEGATIVE_KINDS]
        negatives = [s for s in latest.values() if s.kind in NEGATIVE_KINDS]
        weights_by_id = {s.paper_id: POSITIVE_WEIGHT.get(s.kind, 1.0) for s in positives}
        for pid in category_ids:
            if pid not in latest:
                weights_by_id.setdefault(pid, CATEGORY_WEIGHT)
        vectors = nb.vectors(list(weights_by_id) + [s.paper_id for s in negatives])
        pos_ids = [pid for pid in weights_by_id if pid in vectors]
        neg_ids = [s.paper_id for s in negatives if s.paper_id in vectors]
        bg = self.background()
        taken = set(pos_ids) | set(neg_ids)
        keep = [i for i, pid in enumerate(bg.ids) if pid not in taken]
        background = bg.matrix[keep]
        dim = nb.dim
        pos = np.stack([vectors[p] for p in pos_ids]) if pos_ids else np.zeros((0, dim))
        neg = np.vstack([np.stack([vectors[p] for p in neg_ids]) if neg_ids
                         else np.zeros((0, dim)), background])
        neg_w = np.concatenate([np.full(len(neg_ids), EXPLICIT_NEGATIVE_WEIGHT),
                                np.ones(len(background))])
        warm = stored.weights if stored is not None and stored.model_id == nb.model_id else None
        fit = fit_weights(pos, neg, positive_weights=np.array([weights_by_id[p] for p in pos_ids]),
                          negative_weights=neg_w, warm=warm)
        anchors = [(s.paper_id, s.kind) for s in positives if s.paper_id in vectors][:ANCHORS]
        kw_vectors = self._keyword_vectors(pos_ids)
        profile = kw.profile([kw_vectors.get(p, {}) for p in pos_ids],
                             [weights_by_id[p] for p in pos_ids])
        with write(self.engine) as conn:
            version = store.save_fit(
                conn, user_id, model_id=nb.model_id if pos_ids else None,
                weights=fit.weights if pos_ids else None, keywords=profile, anchors=anchors,
                positives=len(positives), negatives=len(negatives), now=now,
            )
        return FitReport(len(positives), len(negatives), version, fit.steps,
                         time.perf_counter() - start)

    # -- ranking --------------------------------------------------------------------------
    def _anchors(self, profile: store.StoredProfile) -> tuple[list[str], np.ndarray]:
        key = (profile.user_id, profile.version)
        with self._lock:
            hit = self._anchor_cache.get(key)
            if hit is not None:
                self._anchor_cache.move_to_end(key)
                return hit
        ids = [pid for pid, _ in profile.anchors]
        found = self.neighbours.vectors(ids)
        kept = [pid for pid in ids if pid in found]
        matrix = (np.stack([found[p] for p in kept]) if kept
                  else np.zeros((0, self.neighbours.dim), dtype=np.float32))
        with self._lock:
            self._anchor_cache[key] = (kept, matrix)
            while len(self._anchor_cache) > 2048:
                self._anchor_cache.popitem(last=False)
        return kept, matrix

    def profile(self, user_id: int) -> store.StoredProfile | None:
        with self.engine.connect() as conn:
            return store.get_profile(conn, user_id)

    def usable(self, profile: store.StoredProfile | None) -> bool:
        return (profile is not None and profile.weights is not None
                and profile.model_id == self.neighbours.model_id)

    def rank(
        self, user_id: int, paper_ids: Sequence[str], *,
        profile: store.StoredProfile | None = None,
    ) -> Ranking:
        """Score the given candidates (a day's or a week's list) for the member, best first;
        papers they marked "not interested" go last."""
        if profile is None:
            profile = self.profile(user_id)
        if not self.usable(profile):
            return Ranking(cold=True)
        assert profile is not None and profile.weights is not None
        vectors = self.neighbours.vectors(list(dict.fromkeys(paper_ids)))
        ids = [pid for pid in dict.fromkeys(paper_ids) if pid in vectors]
        if not ids:
            return Ranking(version=profile.version)
        matrix = np.stack([vectors[p] for p in ids])
        return self._score(profile, ids, matrix)

    def _score(
        self, profile: store.StoredProfile, ids: list[str], matrix: np.ndarray
    ) -> Ranking:
        assert profile.weights is not None
        semantic = matrix.astype(np.float64) @ profile.weights.astype(np.float64)
        kw_vectors = self._keyword_vectors(ids)
        keyword = kw.scores(profile.keywords, [kw_vectors.get(p, {}) for p in ids])
        anchor_ids, anchors = self._anchors(profile)
        near, which = nearest_anchor(matrix, anchors)
        with self.engine.connect() as conn:
            feedback = store.feedback_of(conn, profile.user_id, ids)
            cards = store.paper_cards(conn, ids) if profile.popularity else {}
            kinds = dict(profile.anchors)
            titles = store.paper_cards(conn, sorted({anchor_ids[j] for j in which if j >= 0}))
        popularity = (np.array([float(cards.get(p, {}).get("upvotes") or 0) for p in ids])
                      if profile.popularity else None)
        score = combine(semantic, keyword, near, popularity)
        items = []
        for i, pid in enumerate(ids):
            reason = None
            j = int(which[i])
            if j >= 0 and anchor_ids[j] != pid:
                anchor = anchor_ids[j]
                reason = Reason(anchor, str(titles.get(anchor, {}).get("title") or anchor),
                                kinds.get(anchor, "upvote"), float(near[i]))
            items.append(Recommendation(pid, float(score[i]), reason,
                                        feedback.get(pid) in NEGATIVE_KINDS))
        items.sort(key=lambda r: (r.not_interested, -r.score, r.paper_id))
        return Ranking(items=items, version=profile.version)

    def rank_catalog(
        self, user_id: int, k: int, *, exclude_seen: bool = True,
        profile: store.StoredProfile | None = None, filters: Any = None,
    ) -> Ranking:
        """The member's top `k` of the whole catalog: the vector index's nearest papers to the
        member's weights (never a scan), rescored with the keyword and nearest-positive parts.
        Papers the member already acted on are left out."""
        if profile is None:
            profile = self.profile(user_id)
        if not self.usable(profile):
            return Ranking(cold=True)
        assert profile is not None and profile.weights is not None
        exclude: Collection[str] = ()
        if exclude_seen:
            with self.engine.connect() as conn:
                exclude = {s.paper_id for s in store.member_signals(conn, user_id, limit=500)}
        hits = self.neighbours.nearest(profile.weights, max(k, 1) * CATALOG_POOL,
                                       filters=filters, exclude=exclude)
        ids = [pid for pid, _ in hits]
        if not ids:
            return Ranking(version=profile.version)
        vectors = self.neighbours.vectors(ids)
        ids = [pid for pid in ids if pid in vectors]
        ranking = self._score(profile, ids, np.stack([vectors[p] for p in ids]))
        ranking.items = ranking.items[:k]
        return ranking


def saved(engine: Engine, user_id: int, before: datetime | None) -> list[store.Signal]:
    """Papers the member saved to collections (`library.saved_papers`, their public read)."""
    from paperfeed.library import saved_papers

    return [store.Signal(s.paper_id, "save", s.saved_at) for s in saved_papers(engine, user_id)
            if before is None or s.saved_at < before]


def merge_saves(signals: list[store.Signal], saves: list[store.Signal]) -> list[store.Signal]:
    """All signals newest first (a paper's newest signal decides whether it is liked)."""
    return sorted(signals + saves, key=lambda s: s.at, reverse=True)


_CACHE: weakref.WeakKeyDictionary[Engine, Recommender] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def open_recommender(settings: Settings, engine: Engine) -> Recommender:
    """The process's Recommender for this engine."""
    with _LOCK:
        found = _CACHE.get(engine)
        if found is None:
            found = Recommender(engine, settings)
            _CACHE[engine] = found
        return found


def member_acted(engine: Engine, settings: Settings, user_id: int, *, now: datetime) -> None:
    """Refit after an upvote, submission or feedback; a failure (no vectors yet, a model being
    swapped) is logged and never fails the member's action."""
    try:
        report = open_recommender(settings, engine).refit(user_id, now=now)
        log.debug("for you: refit member %d in %.1f ms (%d+, %d-)", user_id,
                  report.seconds * 1000, report.positives, report.negatives)
    except Exception:  # noqa: BLE001 - recommendations must never break voting
        log.warning("for you: could not refit member %d", user_id, exc_info=True)
