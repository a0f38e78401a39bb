"""Pseudo-relevance feedback on the semantic side (Rocchio in vector space), replayed in numpy.

    python bench/semantic_feedback.py --out /tmp/search-cache/heldout --cache-dir /tmp/search-cache/embed \
        [--collections scifact,titles,summaries,descriptions,keywords,questions]

The query vector plus `alpha` times the mean of the stored vectors of the keyword side's top
`k` hits (already in the index: no extra model call), renormalised, rescores the fused
candidates' cosines; the similarity floor and the standout still read the query's own cosines.
`gate` scales alpha by how flat the semantic side's list is (the standout rule's ramp: full at
z <= 1.9, none at z >= 3.7; z over ranks 3-100). Each corpus is indexed once through the
service's code (`EvalStore`), as `bench/fusion_rules.py` does; the replay of the service's
fusion is `fusion_rules.ranking`'s (same candidates, z-score blend and floor), so compare rows
with each other. Cells: nDCG@10 (delta vs the equal blend, queries better / worse).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fusion_rules import DEPTH, FLOOR, ndcg10, zs  # noqa: E402
from heldout_collections import DEFAULT_CACHE, DEFAULT_OUT, collection_paths  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import EvalStore, read_corpus, read_qrels, read_queries  # noqa: E402
from paperfeed.search.fusion import semantic_standout  # noqa: E402
from paperfeed.search.keyword import keyword_search  # noqa: E402
from paperfeed.search.query import parse  # noqa: E402
from paperfeed.storage.search import SearchFilters  # noqa: E402


@dataclass
class Set:
    ids: list[str]
    matrix: np.ndarray  # every document's vector
    hits: list[list[tuple[str, float]]]  # keyword side per query, best first
    cos: np.ndarray  # queries x documents
    rels: list[dict[str, int]]


def load(corpus: Path, sets: dict[str, tuple[Path, Path]], cache: Path) -> dict[str, Set]:
    out: dict[str, Set] = {}
    with EvalStore(corpus, settings=Settings(), with_vectors=True, cache_dir=cache) as store:
        service = store.service()
        embedder, backend = service.embedder(), service.backend
        assert embedder is not None
        ids = [p.id for p in read_corpus(corpus)]
        vecs = backend.vectors(ids)
        matrix = np.stack([vecs[pid] for pid in ids]).astype(np.float32)
        for name, (queries_path, qrels_path) in sets.items():
            queries, qrels = read_queries(queries_path), read_qrels(qrels_path)
            hits, qvecs, rels = [], [], []
            for qid, text in queries.items():
                if qid not in qrels:
                    continue
                query = parse(text)
                found, _ = keyword_search(backend, query, SearchFilters(), limit=DEPTH)
                hits.append([(h.paper_id, h.score) for h in found])
                qvecs.append(np.asarray(embedder.embed_query(query.text), dtype=np.float32))
                rels.append(qrels[qid])
            out[name] = Set(ids, matrix, hits, np.stack(qvecs) @ matrix.T, rels)
            print(f"{name}: {len(rels)} queries over {len(ids)} documents", flush=True)
    return out


def ramp(z: float | None, flat: float = 1.9, sharp: float = 3.7) -> float:
    return 0.0 if z is None else min(max((sharp - z) / (sharp - flat), 0.0), 1.0)


def score(s: Set, cfg: dict[str, Any]) -> np.ndarray:
    """nDCG@10 per query of the service's hybrid path with feedback `cfg` (alpha, k, gate,
    shift: the standout rule's keyword share, 0 for the equal blend)."""
    pos = {p: i for i, p in enumerate(s.ids)}
    out = []
    for n, hits in enumerate(s.hits):
        cos = s.cos[n]
        top = np.argsort(-cos, kind="stable")[:DEPTH]
        best = float(cos[top[0]])
        standout = semantic_standout(cos[top].tolist(), skip=2)
        alpha = cfg.get("alpha", 0.0) * (ramp(standout) if cfg.get("gate") else 1.0)
        kw = [p for p, _ in hits]
        cand = list(dict.fromkeys(kw + [s.ids[i] for i in top]))
        ci = np.array([pos[p] for p in cand])
        c0 = cos[ci].astype(np.float64)
        c = c0
        if alpha and kw:
            feedback = s.matrix[[pos[p] for p in kw[: cfg.get("k", 3)]]].mean(axis=0)
            c = c0 + alpha * (s.matrix[ci] @ feedback).astype(np.float64)
        bm25 = dict(hits)
        b = np.array([bm25.get(p, 0.0) for p in cand])
        inkw = np.array([p in bm25 for p in cand])
        far = (~inkw) & ((best < FLOOR) | (c0 < FLOOR))
        w = 0.5 + cfg.get("shift", 0.0) * ramp(standout)
        order = np.argsort(-(w * zs(b) + (1 - w) * zs(c)), kind="stable") if kw else \
            np.argsort(-c, kind="stable")
        out.append(ndcg10([cand[i] for i in order if not far[i]], s.rels[n]))
    return np.array(out)


CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("equal blend (no feedback, no standout rule)", {}),
    ("standout rule vs ranks 3-100, shift 0.2 (service default)", {"shift": 0.2}),
    *[(f"feedback alpha {a}, top {k} keyword hits", {"alpha": a, "k": k})
      for a in (0.1, 0.2, 0.3, 0.5) for k in (1, 3, 5)],
    *[(f"feedback alpha {a}, top {k}, gated by the standout", {"alpha": a, "k": k, "gate": 1})
      for a in (0.3, 0.5, 1.0) for k in (1, 3)],
    ("standout rule 0.2 + gated feedback alpha 0.3, top 3",
     {"shift": 0.2, "alpha": 0.3, "k": 3, "gate": 1}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the held-out collections")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--collections",
                    default="scifact,titles,summaries,descriptions,keywords,questions")
    args = ap.parse_args()
    paths = collection_paths(args.out)
    names = args.collections.split(",")
    by_corpus: dict[Path, dict[str, tuple[Path, Path]]] = {}
    for name in names:
        col = paths[name]
        by_corpus.setdefault(col.corpus, {})[name] = (col.queries, col.qrels)
    data: dict[str, Set] = {}
    for corpus, sets in by_corpus.items():
        data |= load(corpus, sets, args.cache_dir)
    base = {name: score(data[name], {}) for name in names}
    print("| variant | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, cfg in CONFIGS:
        cells = []
        for name in names:
            got = score(data[name], cfg)
            delta = got.mean() - base[name].mean()
            better, worse = int((got > base[name] + 1e-9).sum()), int((got < base[name] - 1e-9).sum())
            cells.append(f"{got.mean():.4f} ({delta:+.4f}, {better}/{worse})")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
