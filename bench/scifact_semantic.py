"""SciFact (BEIR, training split) nDCG@10 / Recall@100 of semantic-only search, per model variant.

Embeddings are cached in /work/cache/embed/scifact/<variant>-<subset>.npy so no text is embedded
twice. `--subset N` keeps every judged document plus random others up to N documents (a cheaper
proxy for comparing variants); 0 means the whole corpus (5,183 documents).

    python bench/scifact_semantic.py --models /work/cache/embed/models/e-int8-opt-pc-256 [--subset 1500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from paperfeed.search.embed import Embedder, document_text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
if not DATA.exists():
    DATA = Path("/work/shared/data/scifact")
CACHE = Path("/work/cache/embed/scifact")


def load(subset: int) -> tuple[list[str], list[str], dict[str, str], dict[str, set[str]]]:
    corpus: dict[str, str] = {}
    with gzip.open(DATA / "corpus.jsonl.gz", "rt") as fh:
        for line in fh:
            d = json.loads(line)
            corpus[str(d["_id"])] = document_text(d.get("title", ""), d.get("text", ""))
    queries = {}
    for line in (DATA / "queries_train.jsonl").read_text().splitlines():
        d = json.loads(line)
        queries[str(d["_id"])] = d["text"]
    qrels: dict[str, set[str]] = {}
    for i, line in enumerate((DATA / "qrels_train_cited.tsv").read_text().splitlines()):
        parts = line.split("\t")
        if i == 0 or len(parts) < 2:
            continue
        qrels.setdefault(parts[0], set()).add(parts[1])
    ids = sorted(corpus)
    if subset:
        judged = {d for rel in qrels.values() for d in rel}
        rest = [i for i in ids if i not in judged]
        random.Random(0).shuffle(rest)
        ids = sorted(judged | set(rest[: max(0, subset - len(judged))]))
    queries = {q: t for q, t in queries.items() if q in qrels}
    return ids, [corpus[i] for i in ids], queries, qrels


def ndcg_recall(scores: np.ndarray, ids: list[str], qids: list[str], qrels: dict[str, set[str]]):
    nd, r100 = [], []
    for row, q in enumerate(qids):
        top = np.argsort(-scores[row])[:100]
        rel = qrels[q]
        hits = [ids[j] in rel for j in top]
        dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits[:10]) if h)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(rel), 10)))
        nd.append(dcg / idcg)
        r100.append(sum(hits) / len(rel))
    return float(np.mean(nd)), float(np.mean(r100))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", required=True, help="model names or directories")
    ap.add_argument("--subset", type=int, default=0)
    args = ap.parse_args()
    ids, texts, queries, qrels = load(args.subset)
    qids = sorted(queries)
    CACHE.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        emb = Embedder.load(model=model, threads=2)
        tag = f"{emb.model_id.replace('/', '_')}-{args.subset or 'full'}"
        path = CACHE / f"{tag}.npy"
        if path.exists():
            docs = np.load(path)
            rate = float("nan")
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            docs = emb.embed_documents(texts)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            rate = 2 * len(texts) / dc
            np.save(path, docs)
            print(f"  embedded {len(texts)} in {dt:.0f}s wall, {dc:.0f} CPU-s")
        qv = emb.embed_documents([queries[q] for q in qids])
        nd, r = ndcg_recall(qv @ docs.T, ids, qids, qrels)
        print(f"{model}: docs={len(ids)} nDCG@10={nd:.4f} R@100={r:.4f} "
              f"throughput={rate:.1f} abstracts per 2 CPU-seconds", flush=True)


if __name__ == "__main__":
    main()
