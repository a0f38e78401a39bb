"""Fusion rules vs the service's fixed blend, on SciFact train and every held-out collection.

    python bench/fusion_rules.py --out /tmp/search-cache/heldout --cache-dir /tmp/search-cache/embed \
        [--collections scifact,titles,summaries,descriptions,keywords,questions] [--only standout]

Each corpus is indexed once through the service's own code (`EvalStore`); the script then keeps,
per query, the service's keyword hits (`keyword_search`, BM25, the service's depth of 100) and
the query's cosine to every document (the bundled model's vectors, from the evaluation's
embedding cache), and replays the service's fusion in numpy: the union of the top 100 of each
side, a rule's score over it, then the similarity floor (papers found by meaning alone must reach
it; none when the best cosine is below it). The fixed-blend row reproduces `paperfeed eval
retrieval` hybrid to <= 0.0005 on SciFact, summaries, descriptions and keywords, but reads 0.003
high on titles and 0.007 high on questions, so compare rows with each other, not with the
service's tables.

Rules take (bm25, cosine, found-by-keyword mask, per-query facts) over the candidates and return
a score; a per-query rule chooses the keyword share `w` of the z-score blend from signals the
service has at no extra cost: the semantic side's own list (how far its top cosine stands above
the rest), the keyword side's scores and the query words' document counts. Tuning was on SciFact
and descriptions only; titles, summaries, keywords and questions are the held-out check.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from heldout_collections import DEFAULT_CACHE, DEFAULT_OUT, collection_paths  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import EvalStore, read_corpus, read_qrels, read_queries  # noqa: E402
from paperfeed.search.fusion import (  # noqa: E402
    coverage,
    coverage_bonus,
    keyword_lead,
    keyword_like,
    lead_bonus,
    semantic_standout,
    word_weights,
)
from paperfeed.search.keyword import keyword_search  # noqa: E402
from paperfeed.search.query import keyword_term_counts, parse  # noqa: E402
from paperfeed.storage.search import SearchFilters  # noqa: E402

DEPTH = 100  # the service's candidates per side (HybridParams.depth)
FLOOR = 0.40  # the bundled model's calibrated similarity floor


@dataclass
class Row:
    hits: list[tuple[str, float]]  # keyword side, best first
    cos: np.ndarray  # cosine to every document
    rels: dict[str, int]
    idf_mass: float  # sum of the query words' idf (the most BM25 could give, roughly)
    words: tuple[str, ...] = ()  # the parsed query's words (for the query's form)
    weights: dict[str, float] = field(default_factory=dict)  # fusion.word_weights of its words
    texts: dict[str, str] = field(default_factory=dict)  # the corpus: title + abstract by id


@dataclass
class Query:
    """What a rule may look at besides the candidates' two scores."""

    sem: np.ndarray  # the semantic side's cosines, best first (its top DEPTH)
    idf_mass: float
    words: tuple[str, ...] = ()
    cover: Callable[[int], float] = lambda i: 0.0  # fusion.coverage of candidate i


Rule = Callable[[np.ndarray, np.ndarray, np.ndarray, Query], np.ndarray]


def load(corpus: Path, sets: dict[str, tuple[Path, Path]], cache: Path
         ) -> dict[str, tuple[list[str], list[Row]]]:
    out: dict[str, tuple[list[str], list[Row]]] = {}
    texts = {p.id: f"{p.title}\n{p.abstract}" for p in read_corpus(corpus)}  # coverage rule
    with EvalStore(corpus, settings=Settings(), with_vectors=True, cache_dir=cache) as store:
        service = store.service()
        embedder, backend = service.embedder(), service.backend
        assert embedder is not None
        ids = [p.id for p in read_corpus(corpus)]
        vecs = backend.vectors(ids)
        matrix = np.stack([vecs[pid] for pid in ids]).astype(np.float32)
        for name, (queries_path, qrels_path) in sets.items():
            queries, qrels = read_queries(queries_path), read_qrels(qrels_path)
            rows = []
            for qid, text in queries.items():
                if qid not in qrels:
                    continue
                query = parse(text)
                found, _ = keyword_search(backend, query, SearchFilters(), limit=DEPTH)
                words = list(keyword_term_counts(query))
                stats = backend.term_stats(words) if words else None
                mass = 0.0
                weights = word_weights(stats.docs, stats.papers) if stats is not None else {}
                if stats is not None:
                    n = stats.papers
                    mass = sum(math.log((n - d + 0.5) / (d + 0.5)) for d in stats.docs.values()
                               if 0 < d < n / 2)
                rows.append(Row([(h.paper_id, h.score) for h in found],
                                matrix @ embedder.embed_query(query.text), qrels[qid], mass,
                                query.words, weights, texts))
            out[name] = (ids, rows)
            print(f"{name}: {len(rows)} queries over {len(ids)} documents", flush=True)
    return out


def zs(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else x * 0


def ndcg10(ranked: list[str], rels: dict[str, int]) -> float:
    dcg = sum(rels.get(p, 0) / math.log2(i + 2) for i, p in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def ranking(ids: list[str], pos: dict[str, int], row: Row, rule: Rule | str) -> list[str]:
    """The service's hybrid path with `rule` as the score (or one side alone)."""
    cos = row.cos
    top = np.argsort(-cos, kind="stable")[:DEPTH]
    best = float(cos[top[0]])
    if rule == "keyword":
        return [p for p, _ in row.hits]
    if rule == "semantic":
        return [] if best < FLOOR else [ids[i] for i in top if cos[i] >= FLOOR]
    assert callable(rule)
    bm25 = dict(row.hits)
    cand = list(dict.fromkeys([p for p, _ in row.hits] + [ids[i] for i in top]))
    b = np.array([bm25.get(p, 0.0) for p in cand])
    c = cos[np.array([pos[p] for p in cand])].astype(np.float64)
    inkw = np.array([p in bm25 for p in cand])
    far = (~inkw) & ((best < FLOOR) | (c < FLOOR))
    if inkw.any():
        facts = Query(cos[top].astype(np.float64), row.idf_mass, row.words,
                      lambda i: coverage(row.weights, row.texts.get(cand[i], "")))
        order = np.argsort(-rule(b, c, inkw, facts), kind="stable")
    else:
        order = np.arange(len(cand))
    return [cand[i] for i in order if not far[i]]


# -- the rules ------------------------------------------------------------------------------
def blend(w: float) -> Rule:
    return lambda b, c, inkw, q: w * zs(b) + (1 - w) * zs(c)


def by_standout(lo: float, hi: float, shift: float) -> Rule:
    """The service's optional rule (`fusion.blend_weight`): keyword share 0.5, rising to
    0.5 + shift as the semantic side's top cosine stands out less (z within its own list:
    `hi` and above -> 0.5, `lo` and below -> 0.5 + shift)."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        z = semantic_standout(q.sem.tolist())
        t = 0.0 if z is None else min(max((hi - z) / (hi - lo), 0.0), 1.0)
        return blend(0.5 + shift * t)(b, c, inkw, q)
    return rule


def bare_keywords(shift: float, bonus: float, low: float = 1.1, high: float = 1.5,
                  lead_any: bool = False) -> Rule:
    """The service's default since the fourth pass: the standout rule (vs ranks 3-100, 0.2),
    and for a query of bare keywords (`fusion.keyword_like`) the keyword share + `shift` and
    `bonus` (ramped by the BM25 ratio #1/#2 from `low` to `high`) added to the keyword side's
    best paper. `lead_any`: the bonus for every query, not only bare keywords."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        z = semantic_standout(q.sem.tolist(), skip=2)
        t = 0.0 if z is None else min(max((3.7 - z) / (3.7 - 1.9), 0.0), 1.0)
        bare = keyword_like(q.words)
        out = blend(0.5 + 0.2 * t + (shift if bare else 0.0))(b, c, inkw, q)
        if bare or lead_any:
            top = np.sort(b[inkw])[::-1]
            extra = lead_bonus(keyword_lead(top[:2].tolist()), low=low, high=high, bonus=bonus)
            out = out.copy()
            out[int(np.argmax(np.where(inkw, b, -np.inf)))] += extra
        return out
    return rule


def covered(bonus: float, floor: float = 0.5, low: float = 0.05, high: float = 0.15) -> Rule:
    """The service's default since the fifth pass: the fourth pass's rules, then the coverage
    check (`HybridParams.coverage_*`): when the blend's first is not the keyword side's best,
    the keyword best gets up to `bonus` as it holds >= `floor` of the query's idf-weighted
    words and `low`..`high` more than the blend's first (`fusion.coverage`)."""
    inner = bare_keywords(0.1, 1.0)

    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        out = inner(b, c, inkw, q)
        k, f = int(np.argmax(np.where(inkw, b, -np.inf))), int(np.argmax(out))
        if k != f:
            out = out.copy()
            out[k] += coverage_bonus(q.cover(k), q.cover(f), floor=floor, low=low, high=high,
                                     bonus=bonus)
        return out
    return rule


def by_gap(lo: float, hi: float, shift: float) -> Rule:
    """Keyword share up to 0.5 + shift as cosine #1 - cosine #10 falls from hi to lo (depends on
    the catalog's size: the 10th neighbour is closer in a larger catalog)."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        gap = float(q.sem[0] - q.sem[min(9, len(q.sem) - 1)])
        t = min(max((hi - gap) / (hi - lo), 0.0), 1.0)
        return blend(0.5 + shift * t)(b, c, inkw, q)
    return rule


def by_best_cosine(lo: float, hi: float) -> Rule:
    """Keyword weight 0.7 when the best cosine is <= lo (the model is unsure), 0.5 from hi."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        t = min(max((c.max() - lo) / (hi - lo), 0.0), 1.0)
        return blend(0.7 - 0.2 * t)(b, c, inkw, q)
    return rule


def by_coverage(lo: float, hi: float) -> Rule:
    """Keyword share 0.5 -> 0.7 as the keyword top score nears the query's idf mass (the top
    paper holds most of the query's informative words)."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        cov = b.max() / q.idf_mass if q.idf_mass else 0.0
        t = min(max((cov - lo) / (hi - lo), 0.0), 1.0)
        return blend(0.5 + 0.2 * t)(b, c, inkw, q)
    return rule


def by_top_ratio(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
    """w = top z(bm25) / (top z(bm25) + top z(cos)): each side weighted by its own standout."""
    zb, zc = zs(b), zs(c)
    kb, kc = max(zb.max(), 1e-3), max(zc.max(), 1e-3)
    return kb / (kb + kc) * zb + kc / (kb + kc) * zc


def rrf(k: float, wk: float) -> Rule:
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        rb = np.empty(len(b))
        rb[np.argsort(-b, kind="stable")] = np.arange(1, len(b) + 1)
        rc = np.empty(len(c))
        rc[np.argsort(-c, kind="stable")] = np.arange(1, len(c) + 1)
        return np.where(inkw, wk / (k + rb), 0.0) + (1 - wk) / (k + rc)
    return rule


def tm2c2(w: float) -> Rule:
    """Convex combination of theoretically min-max normalised scores (bm25 / max; cosine from
    -1 to its max), Bruch et al. 2023."""
    return lambda b, c, inkw, q: w * b / b.max() + (1 - w) * (c + 1) / (c.max() + 1)


def both_bonus(lam: float) -> Rule:
    return lambda b, c, inkw, q: blend(0.5)(b, c, inkw, q) + lam * (inkw & (c >= FLOOR))


def clipped(m: float) -> Rule:
    return lambda b, c, inkw, q: 0.5 * zs(b) + 0.5 * np.minimum(zs(c), m)


def rerank_product(k: int) -> Rule:
    """The blend's top k re-ranked by (0.1 + minmax bm25) * (0.1 + minmax cosine)."""
    def rule(b: np.ndarray, c: np.ndarray, inkw: np.ndarray, q: Query) -> np.ndarray:
        f = blend(0.5)(b, c, inkw, q)
        top = np.argsort(-f, kind="stable")[:k]
        bb, cc = b[top], c[top]
        nb = (bb - bb.min()) / (bb.max() - bb.min() + 1e-9)
        nc = (cc - cc.min()) / (cc.max() - cc.min() + 1e-9)
        out = f - 1e6
        out[top] = (0.1 + nb) * (0.1 + nc)
        return out
    return rule


RULES: list[tuple[str, Rule]] = [
    ("blend w=0.5 (the fixed equal blend)", blend(0.5)),
    ("blend w=0.55", blend(0.55)),
    ("blend w=0.6", blend(0.6)),
    ("w by the semantic side's standout: 0.5 at z >= 3.7, 0.7 at z <= 1.9 (the service's "
     "first option, vs the whole list)", by_standout(1.9, 3.7, 0.2)),
    ("w by standout: 0.5 at z >= 3.7, 0.9 at z <= 1.9", by_standout(1.9, 3.7, 0.4)),
    ("w by standout: 0.5 at z >= 3.7, 0.7 at z <= 2.7", by_standout(2.7, 3.7, 0.2)),
    ("w by standout: 0.5 at z >= 4.5, 0.9 at z <= 2.5", by_standout(2.5, 4.5, 0.4)),
    ("standout rule vs ranks 3-100, 0.2 (the third pass's default)", bare_keywords(0.0, 0.0)),
    ("standout 0.2 + bare keywords: share +0.1, lead bonus 1.0 (the fourth pass's default)",
     bare_keywords(0.1, 1.0)),
    ("fifth: + coverage check, bonus 0.75, floor 0.5, margin 0.05-0.15 (service default)",
     covered(0.75)),
    ("fifth: + coverage check, bonus 0.5", covered(0.5)),
    ("fifth: + coverage check, bonus 1.0", covered(1.0)),
    ("fifth: + coverage check, margin 0.1-0.2", covered(0.75, low=0.1, high=0.2)),
    ("fifth: + coverage check, floor 0 (any coverage)", covered(0.75, floor=0.0)),
    ("fifth: + coverage check, floor 0.6", covered(0.75, floor=0.6)),
    ("standout 0.2 + bare keywords: share +0.1 only", bare_keywords(0.1, 0.0)),
    ("standout 0.2 + bare keywords: share +0.2 only", bare_keywords(0.2, 0.0)),
    ("standout 0.2 + bare keywords: lead bonus 1.0 only", bare_keywords(0.0, 1.0)),
    ("standout 0.2 + bare keywords: share +0.2, lead bonus 1.0 from ratio 1.05-1.3",
     bare_keywords(0.2, 1.0, 1.05, 1.3)),
    ("standout 0.2 + lead bonus 0.5 for every query (not only bare keywords)",
     bare_keywords(0.0, 0.5, lead_any=True)),
    ("w by cosine #1 - #10: 0.5 at >= 0.10, 0.8 at <= 0.04", by_gap(0.04, 0.10, 0.3)),
    ("w by best cosine (0.7 at <= 0.5, 0.5 from 0.8)", by_best_cosine(0.5, 0.8)),
    ("w by keyword coverage (0.5 at top/idf mass <= 1, 0.7 from 1.5)", by_coverage(1.0, 1.5)),
    ("w by each side's top z (top zb / (top zb + top zc))", by_top_ratio),
    ("RRF k=60", rrf(60, 0.5)),
    ("RRF k=60, keyword 0.6 / semantic 0.4", rrf(60, 0.6)),
    ("TM2C2 (theoretical min-max) w=0.2", tm2c2(0.2)),
    ("blend + 0.3 for papers both sides found", both_bonus(0.3)),
    ("blend with z(cos) clipped at 1.5", clipped(1.5)),
    ("blend's top 30 re-ranked by product of min-max scores", rerank_product(30)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the held-out collections")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--collections",
                    default="scifact,titles,summaries,descriptions,keywords,questions")
    ap.add_argument("--only", default="", help="comma-separated words: only rules whose label "
                    "holds one of them (the single modes are always scored)")
    args = ap.parse_args()
    only = [w for w in args.only.split(",") if w]
    rules = [r for r in RULES if not only or any(w in r[0] for w in only)]
    paths = collection_paths(args.out)
    names = args.collections.split(",")
    by_corpus: dict[Path, dict[str, tuple[Path, Path]]] = {}
    for name in names:
        col = paths[name]
        by_corpus.setdefault(col.corpus, {})[name] = (col.queries, col.qrels)
    data: dict[str, tuple[list[str], list[Row]]] = {}
    for corpus, sets in by_corpus.items():
        data |= load(corpus, sets, args.cache_dir)
    pos = {name: {p: i for i, p in enumerate(data[name][0])} for name in names}

    def mean(rule: Rule | str, name: str) -> float:
        ids, rows = data[name]
        return float(np.mean([ndcg10(ranking(ids, pos[name], r, rule), r.rels) for r in rows]))

    singles = {name: max(mean("keyword", name), mean("semantic", name)) for name in names}
    print("| rule | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, rule in [("keyword only", "keyword"), ("semantic only", "semantic"), *rules]:
        cells = []
        for name in names:
            m = mean(rule, name)
            mark = "" if isinstance(rule, str) or m >= singles[name] else " (<)"
            cells.append(f"{m:.4f}{mark}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    print("\n(<): below the better single mode of that collection")


if __name__ == "__main__":
    main()
