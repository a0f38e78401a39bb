"""Query-dependent fusion rules vs the fixed blend, on SciFact and the held-out collections.

    python bench/fusion_rules.py [--collections DIR] [--scifact DIR] [--cache-dir DIR]

Each collection is indexed once through the service's own code (`EvalStore`); the script then
keeps, per query, the service's keyword hits (`keyword_search`, BM25 scores, top 1,000) and
cosines against every document vector (the bundled model's, from the evaluation's embedding
cache), and scores fusion rules in numpy: the service's blend w*z(bm25) + (1-w)*z(cos) over the
union of the top 100 of each side, with w fixed or chosen per query (by the semantic side's
best cosine, by which side's top hit stands out more, or a bonus for a side's top hit). Numpy
replays the blend exactly (`fusion.score_blend`); nDCG@10 differs from `paperfeed eval
retrieval` by < 0.002 (int8 vectors move slightly with their batch-mates).

Collections: `bench/heldout_collections.py --build-only` writes them (default
/work/cache/heldout/collections); SciFact is read from ../shared/data/scifact.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import EvalStore, read_corpus, read_qrels, read_queries  # noqa: E402
from paperfeed.search.keyword import keyword_search  # noqa: E402
from paperfeed.search.query import parse  # noqa: E402
from paperfeed.storage.search import SearchFilters  # noqa: E402

SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))
Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def load(corpus: Path, query_sets: dict[str, tuple[Path, Path]], cache: Path) -> dict[str, Any]:
    """Index `corpus` once; per query set: keyword hits, cosines to all documents, qrels."""
    out: dict[str, Any] = {}
    with EvalStore(corpus, settings=Settings(), with_vectors=True, cache_dir=cache) as store:
        embedder = store.service().embedder()
        assert embedder is not None
        search_backend = store.service().backend
        ids = [p.id for p in read_corpus(corpus)]
        vecs = search_backend.vectors(ids)
        matrix = np.stack([vecs[pid] for pid in ids])
        for name, (queries_path, qrels_path) in query_sets.items():
            queries, qrels = read_queries(queries_path), read_qrels(qrels_path)
            rows = []
            for qid, text in queries.items():
                if qid not in qrels:
                    continue
                found, _ = keyword_search(search_backend, parse(text), SearchFilters(),
                                          limit=1000)
                hits = [(h.paper_id, h.score) for h in found]
                rows.append((hits, matrix @ embedder.embed_query(text), qrels[qid]))
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


def fused(ids: list[str], hits: list[tuple[str, float]], cos: np.ndarray, rule: Rule) -> list[str]:
    """The service's candidate union and z-score blend, with the score vector from `rule`."""
    pos = {p: i for i, p in enumerate(ids)}
    top = np.argsort(-cos)[:100]
    cand = list(dict.fromkeys([p for p, _ in hits[:100]] + [ids[i] for i in top]))
    bm25 = dict(hits)
    b = np.array([bm25.get(p, 0.0) for p in cand])
    c = cos[np.array([pos[p] for p in cand])]
    return [cand[i] for i in np.argsort(-rule(b, c))]


def blend(w: float) -> Rule:
    return lambda b, c: w * zs(b) + (1 - w) * zs(c)


def by_best_cosine(lo: float, hi: float) -> Rule:
    """Keyword weight 0.7 when the best cosine is <= lo (the model is unsure), 0.5 from hi."""
    def rule(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        t = min(max((c.max() - lo) / (hi - lo), 0.0), 1.0)
        return blend(0.7 - 0.2 * t)(b, c)
    return rule


def by_standout(a: float) -> Rule:
    """Weight moves toward the side whose top hit stands further above its runner-up."""
    def rule(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        zb, zc = zs(b), zs(c)
        gb = np.diff(np.sort(zb)[-2:])[0] if len(zb) > 1 else 0.0
        gc = np.diff(np.sort(zc)[-2:])[0] if len(zc) > 1 else 0.0
        return blend(0.5 + 0.25 * math.tanh(a * (gb - gc)))(b, c)
    return rule


def top_bonus(beta: float, keyword_only: bool) -> Rule:
    """The blend plus `beta` for each side's top hit (a CombMAX-style safety net)."""
    def rule(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        f = blend(0.5)(b, c)
        f[int(np.argmax(b))] += beta
        if not keyword_only:
            f[int(np.argmax(c))] += beta
        return f
    return rule


RULES: list[tuple[str, Rule]] = [
    ("blend w=0.5 (service default)", blend(0.5)),
    ("blend w=0.6", blend(0.6)),
    ("w by best cosine (0.7 at <= 0.3, 0.5 from 0.6)", by_best_cosine(0.3, 0.6)),
    ("w by best cosine (0.7 at <= 0.5, 0.5 from 0.8)", by_best_cosine(0.5, 0.8)),
    ("w by standout of each side's top hit (tanh, a=0.5)", by_standout(0.5)),
    ("w by standout (a=2)", by_standout(2.0)),
    ("+0.5 for each side's top hit", top_bonus(0.5, False)),
    ("+1.0 for the keyword side's top hit", top_bonus(1.0, True)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--collections", type=Path, default=Path("/work/cache/heldout/collections"))
    ap.add_argument("--scifact", type=Path, default=SHARED / "scifact")
    ap.add_argument("--cache-dir", type=Path, default=Path("/work/cache/heldout/embed"))
    ap.add_argument("--scifact-cache-dir", type=Path, default=Path("/tmp/hyb/cache"))
    args = ap.parse_args()
    hf, titles = args.collections / "hf", args.collections / "titles"
    data = load(args.scifact / "corpus.jsonl.gz",
                {"scifact": (args.scifact / "queries_train.jsonl",
                             args.scifact / "qrels_train_cited.tsv")}, args.scifact_cache_dir)
    data |= load(titles / "corpus.jsonl.gz",
                 {"titles": (titles / "queries.jsonl", titles / "qrels.tsv")}, args.cache_dir)
    data |= load(hf / "corpus.jsonl.gz",
                 {n: (hf / f"queries_{n}.jsonl", hf / f"qrels_{n}.tsv")
                  for n in ("summaries", "descriptions", "keywords")}, args.cache_dir)
    names = list(data)
    print("| rule | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    singles: list[tuple[str, Rule]] = [("keyword only", lambda b, c: b),
                                       ("semantic only", lambda b, c: c)]
    for label, rule in singles + RULES:
        cells = []
        for name in names:
            ids, rows = data[name]
            if label == "keyword only":
                scores = [ndcg10([p for p, _ in hits], rels) for hits, _, rels in rows]
            elif label == "semantic only":
                scores = [ndcg10([ids[i] for i in np.argsort(-cos)[:100]], rels)
                          for _, cos, rels in rows]
            else:
                scores = [ndcg10(fused(ids, hits, cos, rule), rels) for hits, cos, rels in rows]
            cells.append(f"{np.mean(scores):.4f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
