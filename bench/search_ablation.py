"""Ablation of search choices on SciFact (train split), through the service's own code paths.

    python bench/search_ablation.py [--data ../shared/data/scifact] [--cache-dir DIR] [--quick]

The corpus is indexed once in a temporary store (`EvalStore`: upsert -> FTS triggers; the
indexing job -> vector index, document embeddings read from the on-disk cache); then each
variant of `HybridParams` / `KeywordParams` is scored with `evaluate()`. Candidate depth is at
least the result limit (100 here, for Recall@100), so smaller depths cannot be scored this way.
Query embeddings are memoised within the run (every variant searches the same 809 claims);
`paperfeed eval retrieval` gives true latency.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import EvalStore, evaluate, read_qrels, read_queries  # noqa: E402
from paperfeed.search.hybrid import HybridParams  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))


def variants(quick: bool) -> list[tuple[str, str, HybridParams]]:
    base = HybridParams()
    kw = base.keyword
    rows = [
        ("keyword", "FTS5 bm25, title 3 / authors 2 / abstract 1, OR of words (default)", base),
        ("keyword", "title 10 / authors 3 / abstract 1", replace(base, keyword=replace(kw, weights=(10, 3, 1)))),
        ("keyword", "all fields weight 1", replace(base, keyword=replace(kw, weights=(1, 1, 1)))),
        ("keyword", "no common-word pruning", replace(base, keyword=replace(kw, max_df_ratio=1.0, posting_budget=0))),
        ("keyword", "AND of words", replace(base, keyword=replace(kw, operator="AND"))),
        ("keyword", "+ adjacent-word phrases (bigrams)", replace(base, keyword=replace(kw, bigrams="all", pair_weight=1.0))),
        ("semantic", "MiniLM-L6 int8, exact cosine", base),
        ("hybrid", "RRF k=60, depth 100", replace(base, fusion="rrf", rrf_k=60)),
        ("hybrid", "RRF k=10, depth 100", replace(base, fusion="rrf", rrf_k=10)),
        ("hybrid", "score blend (z-scores) w=0.5, depth 100 (default)", base),
        ("hybrid", "score blend w=0.3", replace(base, blend_weight=0.3)),
        ("hybrid", "score blend w=0.7", replace(base, blend_weight=0.7)),
        ("hybrid", "score blend, depth 300", replace(base, depth=300)),
        ("hybrid", "score blend, keyword without pruning", replace(base, keyword=replace(kw, max_df_ratio=1.0, posting_budget=0))),
    ]
    if quick:
        rows = [r for r in rows if "default" in r[1] or r[0] == "semantic"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "scifact")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="only the default of each mode")
    args = ap.parse_args()
    settings = Settings()
    cache = args.cache_dir or settings.data_dir / "cache"
    queries = read_queries(args.data / "queries_train.jsonl")
    qrels = read_qrels(args.data / "qrels_train_cited.tsv")
    t = time.perf_counter()
    with EvalStore(
        args.data / "corpus.jsonl.gz", settings=settings, with_vectors=True, cache_dir=cache
    ) as store:
        print(f"indexed {store.documents} documents in {time.perf_counter() - t:.0f} s")
        backend = store.embedder
        backend.embed_query = functools.lru_cache(maxsize=None)(backend.embed_query)
        print("| mode | variant | nDCG@10 | Recall@10 | Recall@100 | MRR@10 |")
        print("|---|---|---|---|---|---|")
        for mode, label, params in variants(args.quick):
            m = evaluate(store, queries, qrels, mode=mode, params=params).metrics
            print(f"| {mode} | {label} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | "
                  f"{m['recall@100']:.4f} | {m['mrr@10']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
