""""For you": fit a member's model when they act, rank papers for them, explain each pick.

`Recommender` (one per engine and process, `open_recommender`) is what the web pages, the JSON
API, the digests and `paperfeed eval recommend` call. It reads signals and writes profiles only
through `storage.recommend`, and reaches paper vectors only through `search.neighbours`
(`vectors()` for given papers, `nearest()` with the member's weights as the query for the
whole catalog), never through the search service's internals.

Shared, slowly changing inputs are cached per process for `CACHE_SECONDS` (`background.py`):
the background sample (recent papers whose vectors are the sampled negatives, with their Gram
matrix; their texts give the keyword and author idf; their ai_keywords give the cold-start
topics) and each paper's sparse features; plus the anchors of recently seen profile versions.

A stored model is brought up to date when it is read (`current`): after the embedding model
changed it is fitted again on the new model's vectors (the member keeps their list instead of
starting over), and when some liked papers had no vector yet at the last fit (a fresh
submission is embedded just after the response) it is fitted again once a minute until they
have one; `postingest` also refits the members who acted on papers it has just embedded.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.caching import BoundedCache
from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.recommend import authors as au
from paperfeed.recommend import keywords as kw
from paperfeed.recommend.background import POOL, RecentPapers, load_recent, top_topics
from paperfeed.recommend.model import AUTHOR_WEIGHT, combine, fit_weights, nearest_anchor
from paperfeed.search.neighbours import Neighbours, open_neighbours
from paperfeed.storage import recommend as store
from paperfeed.storage.db import write

log = logging.getLogger(__name__)

ANCHORS = 200  # newest positives kept for reasons and the nearest-positive term
CATEGORY_PAPERS = 30  # recent papers standing in for each chosen category or topic
CATEGORY_WEIGHT = 0.2
EXPLICIT_NEGATIVE_WEIGHT = 10.0  # "not interested" counts as ten sampled negatives
CATALOG_POOL = 4  # catalog ranking rescores pool x k nearest papers
CATALOG_KEYWORDS = False  # catalog ranking: no keyword part (see `rank_catalog`)
CACHE_SECONDS = 900.0
REFIT_MISSING_SECONDS = 60.0  # a model fitted without some liked papers' vectors: refit delay
AUTHOR_REASON = 1.0  # an author term this large names the shared author in the reason
POSITIVE_WEIGHT = {"upvote": 1.0, "submit": 1.0, "save": 1.0, "more": 2.0, "up": 1.0,
                   "seed": 1.0, "import": 1.0}
NEGATIVE_KINDS = frozenset(store.NEGATIVE_FEEDBACK)
VERBS = {"upvote": "you upvoted", "submit": "you submitted", "save": "you saved",
         "more": "you asked for more like", "up": "you liked", "seed": "you picked",
         "import": "you wrote"}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is recommended: the member's positive paper nearest to it (one by the same
    author when a shared author is what lifted it)."""

    paper_id: str
    title: str
    kind: str  # the signal kind (upvote, submit, ...)
    similarity: float
    author: str | None = None  # the shared author's name, as the candidate's byline gives it

    @property
    def text(self) -> str:
        text = f"Because {VERBS.get(self.kind, 'you liked')} “{self.title}”"
        return f"{text}, also by {self.author}" if self.author else text


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
    missing: int = 0


@dataclass(slots=True)
class _Anchors:
    ids: list[str]
    matrix: np.ndarray
    titles: dict[str, str] | None = None


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
        self._background: RecentPapers | None = None
        self._reloading = False
        # (member, profile version) -> their anchors' vectors: a refit makes a new version
        self._anchor_cache: BoundedCache[tuple[int, int], _Anchors] = BoundedCache(
            max_entries=2048)

    @property
    def neighbours(self) -> Neighbours:
        if self._neighbours is None:
            self._neighbours = open_neighbours(self.settings, self.engine)
        return self._neighbours

    # -- shared inputs --------------------------------------------------------------------
    def background(self) -> RecentPapers:
        """Recent papers: the sampled negatives, the keyword and author idf, the topics.
        Reloaded every CACHE_SECONDS (and when the embedding model changed)."""
        nb = self.neighbours
        with self._lock:
            bg = self._background
            same = bg is not None and bg.model_id == nb.model_id
            if bg is not None and same and time.monotonic() - bg.loaded < CACHE_SECONDS:
                return bg
            if bg is not None and same and self.as_of is None:
                # Expired: keep serving these while one thread loads the new ones.
                if not self._reloading:
                    self._reloading = True
                    threading.Thread(target=self._reload_quietly, daemon=True,
                                     name="for-you-background").start()
                return bg
        return self._reload()

    def _reload(self) -> RecentPapers:
        bg = load_recent(self.engine, self.neighbours, before=self.as_of)
        with self._lock:
            self._background = bg
        return bg

    def _reload_quietly(self) -> None:
        try:
            self._reload()
        except Exception:  # noqa: BLE001 - the previous inputs stay in use
            log.warning("for you: could not reload the background sample", exc_info=True)
        finally:
            with self._lock:
                self._reloading = False

    def topics(self, limit: int = 40) -> list[tuple[str, int]]:
        """The commonest ai_keywords topics of recent papers (the cold-start picker of catalogs
        whose papers carry no arXiv categories: Hugging Face imports). Read directly, not
        through `background()`: the picker must not wait for the shared inputs to load."""
        with self.engine.connect() as conn:
            found = store.recent_topics(conn, self.neighbours.model_id, pool=POOL,
                                        before=self.as_of)
        return top_topics(found, limit)

    # -- fitting --------------------------------------------------------------------------
    def refit(self, user_id: int, *, now: datetime) -> FitReport:
        """Fit the member's model from everything they did (before `as_of` in evaluations)
        and store it. Called after each upvote, submission or feedback."""
        start = time.perf_counter()
        nb = self.neighbours
        bg = self.background()
        with self.engine.connect() as conn:
            signals = store.member_signals(conn, user_id, before=self.as_of)
            stored = store.get_profile(conn, user_id)
            categories = stored.categories if stored else []
            standins = (
                store.recent_ids(conn, nb.model_id, limit=CATEGORY_PAPERS * len(categories),
                                 before=self.as_of, categories=categories)
                if categories else []
            )
        for topic in stored.topics if stored else []:
            standins += bg.topic_ids.get(topic, [])[:CATEGORY_PAPERS]
        signals = merge_saves(signals, saved(self.engine, user_id, self.as_of))
        latest: dict[str, store.Signal] = {}
        for s in signals:  # newest first: a paper's latest signal wins
            latest.setdefault(s.paper_id, s)
        positives = [s for s in latest.values() if s.kind not in NEGATIVE_KINDS]
        negatives = [s for s in latest.values() if s.kind in NEGATIVE_KINDS]
        liked = {s.paper_id: POSITIVE_WEIGHT.get(s.kind, 1.0) for s in positives}
        weights_by_id = dict(liked)
        for pid in standins:
            if pid not in latest:
                weights_by_id.setdefault(pid, CATEGORY_WEIGHT)
        vectors = nb.vectors(list(weights_by_id) + [s.paper_id for s in negatives])
        pos_ids = [pid for pid in weights_by_id if pid in vectors]
        neg_ids = [s.paper_id for s in negatives if s.paper_id in vectors]
        dim = nb.dim
        pos = np.stack([vectors[p] for p in pos_ids]) if pos_ids else np.zeros((0, dim))
        neg = np.stack([vectors[p] for p in neg_ids]) if neg_ids else np.zeros((0, dim))
        drop = [bg.row[pid] for pid in (*pos_ids, *neg_ids) if pid in bg.row]
        fit = fit_weights(pos, neg, background=bg.sample, drop=drop,
                          positive_weights=np.array([weights_by_id[p] for p in pos_ids]),
                          negative_weights=np.full(len(neg_ids), EXPLICIT_NEGATIVE_WEIGHT))
        # Words and people come from every liked paper, with a vector yet or not.
        feats = bg.features(self.engine, list(weights_by_id))
        words = [p for p in weights_by_id if p in feats]
        profile = kw.profile([feats[p].keywords for p in words],
                             [weights_by_id[p] for p in words])
        people = [p for p in liked if p in feats]
        author_profile = au.profile(bg.author_space, [feats[p].authors for p in people],
                                    [liked[p] for p in people])
        anchors = [(s.paper_id, s.kind) for s in positives if s.paper_id in vectors][:ANCHORS]
        missing = sum(1 for p in liked if p not in vectors)
        usable = bool(pos_ids)
        with write(self.engine) as conn:
            version = store.save_fit(
                conn, user_id, model_id=nb.model_id if usable else None,
                weights=fit.weights if usable else None, keywords=profile, anchors=anchors,
                positives=len(positives), negatives=len(negatives), now=now,
                authors=author_profile, missing=missing,
            )
        # The new version's anchors are in hand: the member's next ranking in this worker
        # (their page right after the vote) need not read them again.
        kept = [pid for pid, _ in anchors]
        self._keep_anchors((user_id, version), _Anchors(
            kept, np.stack([vectors[p] for p in kept]) if kept
            else np.zeros((0, dim), dtype=np.float32)))
        return FitReport(len(positives), len(negatives), version, fit.steps,
                         time.perf_counter() - start, missing)

    # -- reading a model ------------------------------------------------------------------
    def profile(self, user_id: int) -> store.StoredProfile | None:
        with self.engine.connect() as conn:
            return store.get_profile(conn, user_id)

    def current(self, user_id: int) -> store.StoredProfile | None:
        """The member's stored model, fitted again first when it is out of date: made with
        another embedding model, or without liked papers that now may have a vector."""
        return self._brought_up_to_date(user_id, self.profile(user_id))

    def _brought_up_to_date(
        self, user_id: int, profile: store.StoredProfile | None
    ) -> store.StoredProfile | None:
        """`profile` (just read), or the member's model fitted again when it is stale."""
        if profile is None or not self._stale(profile):
            return profile
        try:
            self.refit(user_id, now=utcnow())
        except Exception:  # noqa: BLE001 - an old model is better than an error page
            log.warning("for you: could not refit member %d on load", user_id, exc_info=True)
            return profile
        return self.profile(user_id)

    def _stale(self, profile: store.StoredProfile) -> bool:
        if profile.model_id is not None and profile.model_id != self.neighbours.model_id:
            return True
        if profile.missing <= 0:
            return False
        fitted = profile.fitted_at
        return fitted is None or utcnow() - fitted > timedelta(seconds=REFIT_MISSING_SECONDS)

    def usable(self, profile: store.StoredProfile | None) -> bool:
        return (profile is not None and profile.weights is not None
                and profile.model_id == self.neighbours.model_id)

    def _anchors(self, profile: store.StoredProfile) -> _Anchors:
        return self._anchor_cache.get_or_make((profile.user_id, profile.version),
                                              lambda: self._load_anchors(profile))

    def _load_anchors(self, profile: store.StoredProfile) -> _Anchors:
        ids = [pid for pid, _ in profile.anchors]
        found = self.neighbours.vectors(ids)
        kept = [pid for pid in ids if pid in found]
        matrix = (np.stack([found[p] for p in kept]) if kept
                  else np.zeros((0, self.neighbours.dim), dtype=np.float32))
        return _Anchors(kept, matrix)

    def _keep_anchors(self, key: tuple[int, int], anchors: _Anchors) -> None:
        self._anchor_cache.put(key, anchors)

    def _titles(self, anchors: _Anchors, conn: Connection) -> dict[str, str]:
        if anchors.titles is None:
            cards = store.paper_cards(conn, anchors.ids)
            anchors.titles = {p: str(c.get("title") or p) for p, c in cards.items()}
        return anchors.titles

    # -- ranking --------------------------------------------------------------------------
    def rank(
        self, user_id: int, paper_ids: Sequence[str], *,
        profile: store.StoredProfile | None = None,
    ) -> Ranking:
        """Score the given candidates (a day's or a week's list) for the member, best first;
        papers they marked "not interested" go last."""
        if profile is None:
            profile = self.current(user_id)
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
        self, profile: store.StoredProfile, ids: list[str], matrix: np.ndarray, *,
        keywords: bool = True,
    ) -> Ranking:
        assert profile.weights is not None
        bg = self.background()
        anchors = self._anchors(profile)
        # Every read of the ranking on one connection: the candidates' features not cached
        # yet, the member's feedback on them, the anchors' titles the first time.
        with self.engine.connect() as conn:
            feats = bg.features(conn, ids) if keywords else bg.bylines(conn, ids)
            feedback = store.feedback_of(conn, profile.user_id, ids)
            cards = store.paper_cards(conn, ids) if profile.popularity else {}
            titles = self._titles(anchors, conn) if len(anchors.ids) else {}
        semantic = matrix.astype(np.float64) @ profile.weights.astype(np.float64)
        empty = bg.empty
        keyword = (kw.scores(profile.keywords, [feats.get(p, empty).keywords for p in ids])
                   if keywords else np.zeros(len(ids)))
        author = au.scores(profile.authors, [feats.get(p, empty).authors for p in ids])
        near, which = nearest_anchor(matrix, anchors.matrix)
        popularity = (np.array([float(cards.get(p, {}).get("upvotes") or 0) for p in ids])
                      if profile.popularity else None)
        score = combine(semantic, keyword, near, popularity, author)
        kinds = dict(profile.anchors)
        items = []
        for i, pid in enumerate(ids):
            reason = None
            j = int(which[i])
            if AUTHOR_WEIGHT * author[i] >= AUTHOR_REASON:
                reason = self._author_reason(profile, anchors, feats.get(pid, empty), matrix[i],
                                             pid, kinds, titles)
            if reason is None and j >= 0 and anchors.ids[j] != pid:
                anchor = anchors.ids[j]
                reason = Reason(anchor, titles.get(anchor, anchor), kinds.get(anchor, "upvote"),
                                float(near[i]))
            items.append(Recommendation(pid, float(score[i]), reason,
                                        feedback.get(pid) in NEGATIVE_KINDS))
        items.sort(key=lambda r: (r.not_interested, -r.score, r.paper_id))
        return Ranking(items=items, version=profile.version)

    def _author_reason(
        self, profile: store.StoredProfile, anchors: _Anchors, feat: Any, vector: np.ndarray,
        pid: str, kinds: dict[str, str], titles: dict[str, str],
    ) -> Reason | None:
        """The nearest liked paper sharing the author that lifted the candidate."""
        key = au.top_shared(profile.authors, feat.authors)
        if key is None:
            return None
        anchor_feats = self.background().bylines(self.engine, anchors.ids)
        sharing = [j for j, a in enumerate(anchors.ids)
                   if a != pid and key in anchor_feats.get(a, feat).authors]
        if not sharing:
            return None
        sims = anchors.matrix[sharing] @ vector
        j = sharing[int(np.argmax(sims))]
        anchor = anchors.ids[j]
        return Reason(anchor, titles.get(anchor, anchor), kinds.get(anchor, "upvote"),
                      float(sims.max()), feat.names.get(key))

    def rank_catalog(
        self, user_id: int, k: int, *, exclude_seen: bool = True,
        profile: store.StoredProfile | None = None, filters: Any = None,
        keywords: bool = CATALOG_KEYWORDS, within: Sequence[str] | None = None,
    ) -> Ranking:
        """The member's top `k` of the whole catalog: the vector index's nearest papers to the
        member's weights (never a scan), read with their vectors in one query
        (`nearest_vectors`), rescored with the nearest-positive and author parts.
        Papers the member already acted on are left out; with `within`, only those papers
        are ranked (an arXiv-only digest's new papers).

        The keyword part is left out here (`keywords=True` puts it back, for the evaluation):
        it needs the tf-idf vectors of `CATALOG_POOL` x k candidates, most of them papers no
        member asked for before in this worker (~70 ms of CPU for 200 at 75k, the whole
        p95), and over the catalog it does not measurably help (nDCG@50 within noise of the
        ranking with it on `paperfeed eval recommend`'s catalog section, bench/README.md)."""
        exclude: Collection[str] = ()
        read = profile is None
        if read or exclude_seen:  # the profile and what to leave out: one connection
            with self.engine.connect() as conn:
                if read:
                    profile = store.get_profile(conn, user_id)
                if exclude_seen:
                    exclude = store.acted_on(conn, user_id, limit=500)
        if read:
            profile = self._brought_up_to_date(user_id, profile)
        if not self.usable(profile):
            return Ranking(cold=True)
        assert profile is not None and profile.weights is not None
        near = self.neighbours.nearest_vectors(profile.weights, max(k, 1) * CATALOG_POOL,
                                               filters=filters, ids=within, exclude=exclude)
        if not near.hits:
            return Ranking(version=profile.version)
        ranking = self._score(profile, near.ids, near.matrix, keywords=keywords)
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


def papers_embedded(engine: Engine, settings: Settings, paper_ids: Sequence[str]) -> int:
    """After `postingest` embedded these papers: refit the members whose model was fitted
    without them (they upvoted, submitted or rated one before it had a vector). Returns how
    many members were refitted; failures are logged, never raised."""
    try:
        rec = open_recommender(settings, engine)
        with engine.connect() as conn:
            members = store.members_acting_on(conn, paper_ids)
            profiles = [store.get_profile(conn, uid) for uid in members]
        done = 0
        for uid, profile in zip(members, profiles, strict=True):
            if profile is not None and profile.missing > 0:
                rec.refit(uid, now=utcnow())
                done += 1
        return done
    except Exception:  # noqa: BLE001 - the papers are stored and embedded either way
        log.warning("for you: could not refit members after embedding %s",
                    ", ".join(paper_ids), exc_info=True)
        return 0
