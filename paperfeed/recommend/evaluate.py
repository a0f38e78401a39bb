"""`paperfeed eval recommend`: the personal model against baselines, on real submitters.

The Hugging Face archive records who submitted which paper on which day. For each submitter
with enough history, the service's own code fits their model on what they submitted before a
cut date (`Recommender(as_of=cut).refit`, reading the same tables a member's votes land in),
then ranks each later day's list on which they submitted something (`Recommender.rank`); the
papers they actually submitted that day are the relevant ones. Baselines rank the same lists:
the day's popularity (upvotes), random order (mean of several shuffles) and arxiv-sanity-lite's
method on tf-idf of title and abstract (the centroid of the member's papers, and a linear SVM).
A catalog section ranks, for each member, everything published from the cut
(`Recommender.rank_catalog`) and scores where all their later submissions land.

Each member counts once: a metric is the mean over their evaluated days, the headline is the
mean over members, the 95% interval of a difference is a bootstrap over members.

Excluded, and listed in the report: curators (on the days they submit they put more than
`CURATOR_SHARE` of the list up, or they made more than `CURATOR_VOLUME` of all the archive's
submissions and over `CURATOR_MIN` papers: what they submit is "the list", not a taste), and
submitters below the history thresholds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import BadRequest
from paperfeed.models import utcnow
from paperfeed.search.evaluate import mrr_at_k, ndcg_at_k, recall_at_k
from paperfeed.storage import recommend as store
from paperfeed.storage import recommend_eval as eval_store
from paperfeed.storage.db import connect, migrate

log = logging.getLogger(__name__)

CURATOR_SHARE = 0.25  # of a day's list, on the days they submit
CURATOR_VOLUME = 0.03  # of every submission in the archive ...
CURATOR_MIN = 100  # ... when that is at least this many papers
MIN_TOTAL, MIN_BEFORE = 10, 5
RANDOM_SHUFFLES = 20
BOOTSTRAP = 10_000
CATALOG_K = 50  # the catalog section scores each member's top 50
METRICS = ("recall@10", "ndcg@10", "mrr")
# What each tf-idf baseline indexes ("tfidf" is the issue's baseline).
FEATURES = {"tfidf": "title+abstract", "tfidf_authors": "title+abstract+authors"}
Ranker = Callable[[str, list[str]], list[str]]  # (member, candidates) -> ranked candidates


@dataclass(slots=True)
class Member:
    username: str
    user_id: int
    before: list[str]
    days: dict[date, set[str]]  # later day -> papers submitted that day


@dataclass(slots=True)
class Task:
    cut: date
    members: list[Member]
    excluded: list[tuple[str, str]]  # (username, why)
    lists: dict[date, list[tuple[str, int]]]


@dataclass(slots=True)
class Report:
    cut: date
    members: int
    days: int
    methods: dict[str, dict[str, float]] = field(default_factory=dict)
    per_member: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> user -> nDCG
    diffs: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    wins_vs_popularity: float = 0.0
    excluded: list[tuple[str, str]] = field(default_factory=list)
    # for you without its author part vs the title+abstract tf-idf: the content-only margin
    content_diff: tuple[float, float, float] | None = None
    # the member's top 50 of the catalog published from the cut (`catalog_scores`)
    catalog: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        ours = self.methods["for_you"]
        out: dict[str, Any] = {k: ours[k] for k in METRICS}
        out["members"] = self.members
        out["days"] = self.days
        out["cut"] = self.cut.isoformat()
        for name in ("popularity", "random", "tfidf", "tfidf_centroid", "tfidf_svm",
                     "tfidf_authors", "tfidf_authors_centroid", "tfidf_authors_svm",
                     "for_you_content"):
            if name in self.methods:
                out[name] = self.methods[name]
        for name in ("tfidf", "tfidf_authors", "popularity"):
            if name in self.diffs:
                mean, low, high = self.diffs[name]
                out[f"ndcg@10_diff_vs_{name}"] = {"mean": mean, "ci95": [low, high]}
        if self.content_diff is not None:
            mean, low, high = self.content_diff
            out["ndcg@10_diff_for_you_content_vs_tfidf"] = {"mean": mean, "ci95": [low, high]}
        out["wins_vs_popularity"] = self.wins_vs_popularity
        out["excluded"] = len(self.excluded)
        if self.catalog:
            out["catalog"] = self.catalog
        return out


# -- the task (pure) --------------------------------------------------------------------------
def build_task(
    submissions: Sequence[tuple[str, str, date]],
    lists: Mapping[date, list[tuple[str, int]]],
    user_ids: Mapping[str, int],
    cut: date,
    *,
    min_total: int = MIN_TOTAL,
    min_before: int = MIN_BEFORE,
    curator_share: float = CURATOR_SHARE,
    curator_volume: float = CURATOR_VOLUME,
) -> Task:
    """Who is evaluated, on which days, and who is left out (with the reason)."""
    by_user: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for user, pid, day in submissions:
        by_user[user].append((pid, day))
    sizes = {day: len(items) for day, items in lists.items()}
    everything = max(1, len(submissions))
    members: list[Member] = []
    excluded: list[tuple[str, str]] = []
    for user in sorted(by_user):
        rows = by_user[user]
        if len(rows) < min_total:
            continue  # the long tail (thousands of one-off submitters) is not listed
        before = [pid for pid, day in rows if day < cut]
        later: dict[date, set[str]] = defaultdict(set)
        for pid, day in rows:
            if day >= cut and day in sizes:
                later[day].add(pid)
        per_day: dict[date, int] = defaultdict(int)
        for _, day in rows:
            per_day[day] += 1
        shares = [n / max(1, sizes[d]) for d, n in per_day.items() if d in sizes]
        share = float(np.mean(shares)) if shares else 0.0
        volume = len(rows) / everything
        if share > curator_share or (volume > curator_volume and len(rows) >= CURATOR_MIN):
            excluded.append((user, f"curator: {len(rows)} submissions ({volume:.0%} of all), "
                                   f"{share:.0%} of a day's list on the days they submit"))
        elif len(before) < min_before:
            excluded.append((user, f"{len(before)} submissions before the cut (< {min_before})"))
        elif not later:
            excluded.append((user, "no submission on or after the cut"))
        else:
            members.append(Member(user, user_ids[user], before, dict(later)))
    return Task(cut, members, excluded, dict(lists))


# -- metrics (pure) ---------------------------------------------------------------------------
def score_member(ranker: Ranker, member: Member, lists: Mapping[date, list[tuple[str, int]]]
                 ) -> dict[str, float]:
    """Mean recall@10, nDCG@10 and MRR of one member over their evaluated days."""
    rows = []
    for day, relevant in sorted(member.days.items()):
        candidates = [pid for pid, _ in lists[day]]
        ranked = ranker(member.username, candidates)
        rels = {pid: 1 for pid in relevant}
        rows.append((recall_at_k(ranked, rels, 10), ndcg_at_k(ranked, rels, 10),
                     mrr_at_k(ranked, rels, len(ranked) or 1)))
    means = np.mean(np.array(rows), axis=0) if rows else np.zeros(3)
    return dict(zip(METRICS, (float(v) for v in means), strict=True))


def bootstrap_diff(
    ours: Sequence[float], theirs: Sequence[float], *, resamples: int = BOOTSTRAP, seed: int = 13
) -> tuple[float, float, float]:
    """(mean, low, high): the mean per-member difference and its 95% bootstrap interval."""
    d = np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    if d.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(d.mean()), 4), round(float(low), 4), round(float(high), 4)


def summarise(task: Task, results: Mapping[str, Mapping[str, dict[str, float]]]) -> Report:
    """Means over members, differences against each baseline, wins against popularity."""
    users = [m.username for m in task.members]
    report = Report(task.cut, len(users), sum(len(m.days) for m in task.members),
                    excluded=task.excluded)
    for method, per_user in results.items():
        report.methods[method] = {
            k: round(float(np.mean([per_user[u][k] for u in users])) if users else 0.0, 4)
            for k in METRICS
        }
        report.per_member[method] = {u: per_user[u]["ndcg@10"] for u in users}
    ours = [results["for_you"][u]["ndcg@10"] for u in users]
    for method in results:
        if method != "for_you":
            report.diffs[method] = bootstrap_diff(
                ours, [results[method][u]["ndcg@10"] for u in users])
    if "for_you_content" in results and "tfidf" in results:
        report.content_diff = bootstrap_diff(
            [results["for_you_content"][u]["ndcg@10"] for u in users],
            [results["tfidf"][u]["ndcg@10"] for u in users])
    pop = [results["popularity"][u]["ndcg@10"] for u in users]
    wins = sum(1 for a, b in zip(ours, pop, strict=True) if a > b)
    report.wins_vs_popularity = round(wins / len(users), 4) if users else 0.0
    return report


# -- baselines --------------------------------------------------------------------------------
def popularity_ranker(lists: Mapping[date, list[tuple[str, int]]]) -> Ranker:
    upvotes = {pid: up for items in lists.values() for pid, up in items}
    return lambda _user, cands: sorted(cands, key=lambda p: (-upvotes.get(p, 0), p))


def random_score(member: Member, lists: Mapping[date, list[tuple[str, int]]]) -> dict[str, float]:
    """Metrics of random order, averaged over RANDOM_SHUFFLES seeded shuffles."""
    rng = np.random.default_rng(sum(ord(c) for c in member.username))
    runs = []
    for _ in range(RANDOM_SHUFFLES):
        runs.append(score_member(
            lambda _u, cands: [cands[i] for i in rng.permutation(len(cands))], member, lists))
    return {k: float(np.mean([r[k] for r in runs])) for k in METRICS}


def tfidf_rankers(engine: Engine, task: Task, *, svm: bool) -> dict[str, Ranker]:
    """arxiv-sanity-lite's method over every paper of the archive, per member: the centroid of
    their papers and (optionally) a linear SVM whose negatives are all papers featured before
    the cut. Two feature sets: tf-idf of title and abstract (`tfidf_*`, the issue's baseline)
    and of title, abstract and author names (`tfidf_authors_*`, what arxiv-sanity-lite really
    indexes)."""
    from paperfeed.recommend.tfidf import TfidfFeatures, linear_svm

    with engine.connect() as conn:
        first = eval_store.paper_days(conn)
        ids = sorted(first)
        docs = store.paper_docs(conn, ids)
    row = {pid: i for i, pid in enumerate(ids)}
    earlier = [row[p] for p in ids if first[p] < task.cut]
    out: dict[str, Ranker] = {}
    for prefix, with_authors in (("tfidf", False), ("tfidf_authors", True)):
        x = TfidfFeatures().fit_transform(
            f"{docs[p].title} {docs[p].abstract}"
            + (" " + " ".join(docs[p].authors) if with_authors else "") for p in ids)
        centroids: dict[str, np.ndarray] = {}
        svms: dict[str, tuple[np.ndarray, float]] = {}
        for m in task.members:
            pos = [row[p] for p in m.before if p in row]
            centroids[m.username] = x.mean(pos)
            if svm:
                posset = set(pos)
                train = pos + [i for i in earlier if i not in posset]
                y = np.concatenate([np.ones(len(pos)), -np.ones(len(train) - len(pos))])
                svms[m.username] = linear_svm(x.take(train), y)

        def by(x: Any, weights: Callable[[str], tuple[np.ndarray, float]]) -> Ranker:
            def rank(user: str, cands: list[str]) -> list[str]:
                w, b = weights(user)
                scores = x.take([row[p] for p in cands]).dot(w) + b
                return [cands[i] for i in np.argsort(-scores, kind="stable")]
            return rank

        out[f"{prefix}_centroid"] = by(x, _lookup({u: (c, 0.0) for u, c in centroids.items()}))
        if svm:
            out[f"{prefix}_svm"] = by(x, _lookup(svms))
    return out


def _lookup(table: Mapping[str, tuple[np.ndarray, float]]
            ) -> Callable[[str], tuple[np.ndarray, float]]:
    return lambda user: table[user]


# -- the run ----------------------------------------------------------------------------------
class RecommendEvalStore:
    """A temporary store holding the archive, loaded and embedded by the service's code:
    `ingest hf-daily --from`'s importer, the demo's bundled vectors where they apply, then the
    indexing job through the on-disk embedding cache."""

    def __init__(self, path: Path, *, settings: Settings, cache_dir: Path | None) -> None:
        self.path, self.base_settings, self.cache_dir = path, settings, cache_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.engine: Engine | None = None
        self.settings: Settings | None = None

    def __enter__(self) -> RecommendEvalStore:
        from paperfeed.sources.hf_daily import import_path

        self._tmp = tempfile.TemporaryDirectory(prefix="paperfeed-eval-recommend-")
        root = Path(self._tmp.name)
        self.settings = self.base_settings.model_copy(
            update={"data_dir": root, "database_url": f"sqlite:///{root / 'eval.db'}",
                    "vector_backend": "files"})
        self.engine = connect(self.settings)
        migrate(self.engine)
        summary = import_path(self.engine, self.path)
        log.info("eval: archive loaded: %s", summary.line())
        if summary.new + summary.updated + summary.unchanged == 0:
            raise BadRequest(f"eval: no papers in {self.path}")
        return self

    def embed(self) -> None:
        """Store the demo's bundled vectors where they apply, embed the rest (cached)."""
        from paperfeed.demo import import_demo_vectors
        from paperfeed.search.evaluate import index_vectors

        assert self.engine is not None and self.settings is not None
        import_demo_vectors(self.engine, self.settings)
        index_vectors(self.engine, self.settings, self.cache_dir)

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()


def load_task(engine: Engine, cut: date) -> Task:
    """The evaluation task of a loaded store (BadRequest when nobody qualifies)."""
    with engine.connect() as conn:
        subs = eval_store.submissions(conn)
        lists = eval_store.day_lists(conn)
        user_ids = eval_store.user_ids(conn, sorted({u for u, _, _ in subs}))
    task = build_task(subs, lists, user_ids, cut)
    if not task.members:
        raise BadRequest(
            f"eval: no submitter has >= {MIN_TOTAL} submissions, >= {MIN_BEFORE} before "
            f"{cut.isoformat()} and one after it; pick another --cut")
    return task


def run(engine: Engine, settings: Settings, task: Task, *, svm: bool = True) -> Report:
    """Evaluate every eligible submitter of the task (the store must hold vectors)."""
    from paperfeed.recommend.service import Recommender

    cut = task.cut
    user_ids = {m.username: m.user_id for m in task.members}
    as_of = datetime.combine(cut, datetime.min.time())
    rec = Recommender(engine, settings, as_of=as_of)
    now = utcnow()
    profiles = {}
    for m in task.members:
        rec.refit(m.user_id, now=now)
        profiles[m.username] = rec.profile(m.user_id)

    def ranker(content_only: bool) -> Ranker:
        def rank(user: str, cands: list[str]) -> list[str]:
            profile = profiles[user]
            if content_only and profile is not None:
                profile = dataclasses.replace(profile, authors={})
            ranking = rec.rank(user_ids[user], cands, profile=profile)
            ranked = [r.paper_id for r in ranking.items]
            seen = set(ranked)
            return ranked + [p for p in cands if p not in seen]
        return rank

    rankers: dict[str, Ranker] = {"for_you": ranker(False), "for_you_content": ranker(True),
                                  "popularity": popularity_ranker(task.lists)}
    rankers.update(tfidf_rankers(engine, task, svm=svm))
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in rankers}
    results["random"] = {}
    for m in task.members:
        for name, ranker_ in rankers.items():
            results[name][m.username] = score_member(ranker_, m, task.lists)
        results["random"][m.username] = random_score(m, task.lists)
    best: dict[str, str] = {}
    for group in ("tfidf", "tfidf_authors"):
        variants = [n for n in results if n in (f"{group}_centroid", f"{group}_svm")]
        best[group] = max(variants, key=lambda n: np.mean(
            [results[n][m.username]["ndcg@10"] for m in task.members]))
        results[group] = results[best[group]]
    report = summarise(task, results)
    report.catalog = catalog_scores(rec, task, profiles)
    for group, name in best.items():
        report.methods[group]["method"] = name  # type: ignore[assignment]
        report.methods[group]["features"] = FEATURES[group]  # type: ignore[assignment]
    return report


def catalog_scores(rec: Any, task: Task, profiles: Mapping[str, Any], *, k: int = CATALOG_K
                   ) -> dict[str, Any]:
    """Each member's top `k` of the whole catalog published from the cut
    (`Recommender.rank_catalog`, the vector index's nearest papers to their weights, then
    rescored), as served and with the keyword part put back: recall@k and nDCG@k of all their
    later submissions, means over members, and the nDCG difference with its bootstrap
    interval. This is the figure behind leaving keywords out of the catalog ranking."""
    from paperfeed.storage.search import SearchFilters

    filters = SearchFilters(date_from=task.cut)
    per: dict[str, dict[str, dict[str, float]]] = {"served": {}, "with_keywords": {}}
    for m in task.members:
        rels = {pid: 1 for papers in m.days.values() for pid in papers}
        for name, keywords in (("served", False), ("with_keywords", True)):
            ranking = rec.rank_catalog(m.user_id, k, exclude_seen=False,
                                       profile=profiles[m.username], filters=filters,
                                       keywords=keywords)
            ranked = [r.paper_id for r in ranking.items]
            per[name][m.username] = {f"recall@{k}": recall_at_k(ranked, rels, k),
                                     f"ndcg@{k}": ndcg_at_k(ranked, rels, k)}
    users = [m.username for m in task.members]
    out: dict[str, Any] = {}
    for name, rows in per.items():
        out[name] = {metric: round(float(np.mean([rows[u][metric] for u in users])), 4)
                     for metric in (f"recall@{k}", f"ndcg@{k}")}
    mean, low, high = bootstrap_diff([per["served"][u][f"ndcg@{k}"] for u in users],
                                     [per["with_keywords"][u][f"ndcg@{k}"] for u in users])
    out[f"ndcg@{k}_diff_served_vs_with_keywords"] = {"mean": mean, "ci95": [low, high]}
    return out


def format_report(report: Report) -> list[str]:
    """Human-readable lines (the CLI adds the JSON line)."""
    lines = [f"cut {report.cut.isoformat()}: {report.members} submitters, "
             f"{report.days} submitter-days ranked"]
    names = {"for_you": "for you", "for_you_content": "for you, no authors",
             "tfidf_centroid": "tf-idf centroid", "tfidf_svm": "tf-idf linear SVM",
             "tfidf_authors_centroid": "tf-idf+authors centroid",
             "tfidf_authors_svm": "tf-idf+authors SVM",
             "popularity": "popularity", "random": "random"}
    for method, label in names.items():
        if method in report.methods:
            m = report.methods[method]
            lines.append(f"  {label:24s} recall@10 {m['recall@10']:.4f}  nDCG@10 "
                         f"{m['ndcg@10']:.4f}  MRR {m['mrr']:.4f}")
    for group, text in (("tfidf", "title + abstract: the issue's baseline, JSON key \"tfidf\""),
                        ("tfidf_authors", "title + abstract + author names, JSON key "
                                          "\"tfidf_authors\"")):
        if group in report.methods:
            best = str(report.methods[group].get("method", group))
            lines.append(f"  best tf-idf on {text}: {names.get(best, best)}")
    for method, (mean, low, high) in sorted(report.diffs.items()):
        if method in names:
            lines.append(f"  nDCG@10 difference vs {names[method]}: {mean:+.4f} "
                         f"(95% bootstrap interval {low:+.4f} .. {high:+.4f})")
    if report.content_diff is not None:
        mean, low, high = report.content_diff
        lines.append(f"  nDCG@10 difference, for you without authors vs tf-idf (title + "
                     f"abstract): {mean:+.4f} (95% bootstrap interval {low:+.4f} .. {high:+.4f})")
    lines.append(f"  beats popularity for {report.wins_vs_popularity:.0%} of submitters")
    if report.catalog:
        c = report.catalog
        for name, label in (("served", "as served (no keyword part)"),
                            ("with_keywords", "with the keyword part")):
            row = "  ".join(f"{metric} {value:.4f}" for metric, value in c[name].items())
            lines.append(f"  catalog top {CATALOG_K}, {label}: {row}")
        diff = c[f"ndcg@{CATALOG_K}_diff_served_vs_with_keywords"]
        lines.append(f"  catalog nDCG@{CATALOG_K} difference, as served vs with keywords: "
                     f"{diff['mean']:+.4f} (95% bootstrap interval {diff['ci95'][0]:+.4f} .. "
                     f"{diff['ci95'][1]:+.4f})")
    if report.excluded:
        lines.append(f"  excluded ({len(report.excluded)}):")
        lines.extend(f"    {user}: {why}" for user, why in report.excluded)
    return lines


def parse_cut(text: str | None, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"eval: --cut must be YYYY-MM-DD, not {text!r}") from exc


def default_cut(lists: Mapping[date, object]) -> date:
    """Two thirds of the way through the archive's days."""
    days = sorted(lists)
    return days[min(len(days) - 1, math.floor(len(days) * 2 / 3))]
