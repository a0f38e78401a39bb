"""Passage-level semantic scoring ("MaxP") on SciFact train: does scoring a paper by its best
window of sentences lift semantic and hybrid nDCG@10 over one title+abstract vector?

    python bench/search_passages.py embed  [--data DIR] [--cache-dir DIR]   # once (CPU-heavy)
    python bench/search_passages.py score  [--data DIR] [--cache-dir DIR] [--doc-cache DIR]

Why: all-MiniLM-L6-v2 was trained on short texts, the service truncates at 256 tokens, and 72%
of SciFact abstracts (title + abstract, median 317 tokens) are longer than that, so their last
sentences (often the findings a claim cites) are never embedded. A claim usually matches one or
two sentences, so a paper's best window may be the better semantic score.

`embed` embeds, with the bundled model, every paper's title alone and its abstract split into
windows of `--window` sentences moving by `--stride` (title prepended to each window, as
`document_text` does), plus every judged query one at a time (as the service does). Everything
goes through `CachedEmbedder` (keyed by model id + text hash), so an interrupted run resumes and
`score` never re-embeds. The whole-document vectors come from the evaluation cache
(`paperfeed eval retrieval --cache-dir`), and are embedded (and cached) only if missing there.

`score` builds the keyword index through the service's code (`EvalStore`, keyword only), takes
each claim's 100 best BM25 hits, then scores each semantic variant exactly in numpy over all
papers and fuses it like the service (`fusion.score_blend`, z-scores, weight 0.5, 100
candidates per side, cosines computed for keyword-only hits). Metrics: `evaluate.score_runs`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import fusion  # noqa: E402
from paperfeed.search.embed import Embedder, document_text  # noqa: E402
from paperfeed.search.embed_cache import CachedEmbedder  # noqa: E402
from paperfeed.search.evaluate import (  # noqa: E402
    EvalStore,
    ndcg_at_k,
    read_qrels,
    read_queries,
    score_runs,
)
from paperfeed.search.query import parse  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
DEPTH = 100


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(" ".join(text.split())) if s]


def windows(title: str, abstract: str, size: int, stride: int) -> list[str]:
    """Title + `size` consecutive sentences, every `stride` sentences; at least one window."""
    sents = sentences(abstract)
    if len(sents) <= size:
        return [document_text(title, " ".join(sents))]
    starts = list(range(0, len(sents) - size + 1, stride))
    if starts[-1] + size < len(sents):
        starts.append(len(sents) - size)
    return [document_text(title, " ".join(sents[i : i + size])) for i in starts]


def load_corpus(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def embed_cached(emb: CachedEmbedder, texts: list[str], label: str, chunk: int = 512) -> np.ndarray:
    out = []
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), chunk):
        out.append(emb.embed_documents(texts[start : start + chunk]))
        emb.flush()
        print(f"  {label}: {min(start + chunk, len(texts))}/{len(texts)} "
              f"({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU)",
              flush=True)
    return np.concatenate(out) if out else np.zeros((0, emb.dim), dtype=np.float32)


def query_vectors(embedder: Embedder, texts: list[str], path: Path) -> np.ndarray:
    if path.is_file():
        vecs = np.load(path)
        if len(vecs) == len(texts):
            return vecs
    vecs = np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)
    np.save(path, vecs)
    return vecs


def prepare(args: argparse.Namespace) -> dict[str, object]:
    corpus = load_corpus(args.data / "corpus.jsonl.gz")
    queries = read_queries(args.data / "queries_train.jsonl")
    qrels = read_qrels(args.data / "qrels_train_cited.tsv")
    qids = [q for q in queries if q in qrels]
    embedder = Embedder.load(Settings(), threads=args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    seed = CachedEmbedder(embedder, args.doc_cache).path  # whole-document vectors of the eval
    target = args.cache_dir / seed.name
    if seed.is_file() and not target.is_file():
        shutil.copyfile(seed, target)  # start from them (never written back there)
    passages = CachedEmbedder(embedder, args.cache_dir)
    qtexts = [parse(queries[q]).text for q in qids]
    qvec = query_vectors(embedder, qtexts, args.cache_dir / "queries.npy")
    dvec = embed_cached(passages, [document_text(d["title"], d["text"]) for d in corpus], "documents")
    tvec = embed_cached(passages, [d["title"] or " " for d in corpus], "titles")
    owners: list[int] = []
    texts: list[str] = []
    for n, d in enumerate(corpus):
        for w in windows(d["title"], d["text"], args.window, args.stride):
            owners.append(n)
            texts.append(w)
    print(f"{len(texts)} windows of {args.window} sentences (stride {args.stride}) for "
          f"{len(corpus)} papers: {len(texts) / len(corpus):.2f} per paper", flush=True)
    pvec = embed_cached(passages, texts, "windows")
    return {"corpus": corpus, "queries": queries, "qrels": qrels, "qids": qids, "qvec": qvec,
            "dvec": dvec, "tvec": tvec, "pvec": pvec, "owners": np.asarray(owners)}


def max_per_doc(scores: np.ndarray, owners: np.ndarray, ndocs: int) -> np.ndarray:
    """(queries x windows) -> (queries x papers): the best window of each paper."""
    out = np.full((scores.shape[0], ndocs), -np.inf, dtype=np.float32)
    np.maximum.at(out.T, owners, scores.T)
    return out


def mean_per_doc(scores: np.ndarray, owners: np.ndarray, ndocs: int) -> np.ndarray:
    sums = np.zeros((scores.shape[0], ndocs), dtype=np.float32)
    np.add.at(sums.T, owners, scores.T)
    return sums / np.bincount(owners, minlength=ndocs)[None, :]


def score(args: argparse.Namespace) -> None:
    data = prepare(args)
    corpus = data["corpus"]
    ids = [str(d["_id"]) for d in corpus]
    qids: list[str] = data["qids"]  # type: ignore[assignment]
    queries: dict[str, str] = data["queries"]  # type: ignore[assignment]
    qrels = data["qrels"]
    qvec, dvec, tvec, pvec = (data[k] for k in ("qvec", "dvec", "tvec", "pvec"))
    owners: np.ndarray = data["owners"]  # type: ignore[assignment]
    n = len(ids)
    doc = qvec @ dvec.T  # type: ignore[operator]
    title = qvec @ tvec.T  # type: ignore[operator]
    win = qvec @ pvec.T  # type: ignore[operator]
    maxp = max_per_doc(win, owners, n)
    meanp = mean_per_doc(win, owners, n)
    variants: list[tuple[str, np.ndarray]] = [
        ("title+abstract vector, 256 tokens (service today)", doc),
        (f"MaxP: best window ({args.window} sentences, stride {args.stride})", maxp),
        ("max(whole-document vector, best window)", np.maximum(doc, maxp)),
        ("MaxP + 0.1 x mean of windows", maxp + 0.1 * meanp),
        ("(whole-document + best window) / 2", (doc + maxp) / 2),
        ("title-only vector", title),
        ("(whole-document + title-only) / 2", (doc + title) / 2),
        ("(best window + title-only) / 2", (maxp + title) / 2),
    ]

    settings = Settings()
    with EvalStore(args.data / "corpus.jsonl.gz", settings=settings, with_vectors=False) as store:
        service = store.service()
        keyword = {
            q: [(h.paper_id, h.score) for h in service.search(
                queries[q], limit=DEPTH, mode="keyword").hits]
            for q in qids
        }
    index = {pid: i for i, pid in enumerate(ids)}
    kw_runs = {q: [p for p, _ in keyword[q]] for q in qids}
    m = score_runs(kw_runs, qrels)  # type: ignore[arg-type]
    print(f"\nkeyword (FTS5 bm25, service default): nDCG@10 {m['ndcg@10']:.4f}\n")
    print("| semantic score of a paper | semantic nDCG@10 | R@100 | hybrid nDCG@10 | "
          "R@10 | R@100 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    per_query: dict[str, dict[str, float]] = {}
    for label, matrix in variants:
        sem_runs, hyb_runs = fuse(matrix, qids, ids, index, keyword)
        s = score_runs(sem_runs, qrels)  # type: ignore[arg-type]
        h = score_runs(hyb_runs, qrels)  # type: ignore[arg-type]
        per_query[label] = {q: ndcg_at_k(hyb_runs[q], qrels[q]) for q in qids}  # type: ignore[index]
        print(f"| {label} | {s['ndcg@10']:.4f} | {s['recall@100']:.4f} | {h['ndcg@10']:.4f} | "
              f"{h['recall@10']:.4f} | {h['recall@100']:.4f} | {h['mrr@10']:.4f} |", flush=True)
    for w in (0.4, 0.6):
        _, hyb_runs = fuse(maxp, qids, ids, index, keyword, weight=w)
        h = score_runs(hyb_runs, qrels)  # type: ignore[arg-type]
        print(f"| MaxP, hybrid keyword weight {w} (instead of 0.5) | | | {h['ndcg@10']:.4f} | "
              f"{h['recall@10']:.4f} | {h['recall@100']:.4f} | {h['mrr@10']:.4f} |", flush=True)
    hyb_runs = fuse3(doc, maxp, qids, ids, index, keyword)
    h = score_runs(hyb_runs, qrels)  # type: ignore[arg-type]
    print(f"| three signals: 0.5 z(bm25) + 0.25 z(whole-document) + 0.25 z(best window) | | | "
          f"{h['ndcg@10']:.4f} | {h['recall@10']:.4f} | {h['recall@100']:.4f} | "
          f"{h['mrr@10']:.4f} |", flush=True)
    base, label = variants[0][0], variants[1][0]
    delta = [per_query[label][q] - per_query[base][q] for q in qids]
    halves = [np.mean(delta[0::2]), np.mean(delta[1::2])]
    print(f"\nMaxP vs today, hybrid nDCG@10 per claim: {sum(d > 1e-9 for d in delta)} better, "
          f"{sum(d < -1e-9 for d in delta)} worse, {sum(abs(d) <= 1e-9 for d in delta)} equal; "
          f"mean gain on odd / even claims {halves[0]:+.4f} / {halves[1]:+.4f}")


def fuse(
    matrix: np.ndarray,
    qids: list[str],
    ids: list[str],
    index: dict[str, int],
    keyword: dict[str, list[tuple[str, float]]],
    blend: Callable[..., list[tuple[str, float]]] = fusion.score_blend,
    weight: float = 0.5,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Semantic runs (top 100 by the variant's score) and hybrid runs fused like the service."""
    sem_runs: dict[str, list[str]] = {}
    hyb_runs: dict[str, list[str]] = {}
    for row, q in enumerate(qids):
        scores = matrix[row]
        top = np.argpartition(-scores, DEPTH)[:DEPTH]
        top = top[np.argsort(-scores[top], kind="stable")]
        sem = [(ids[i], float(scores[i])) for i in top]
        sem_runs[q] = [p for p, _ in sem]
        kw = keyword[q]
        if not kw:
            hyb_runs[q] = sem_runs[q]
            continue
        cos = dict(sem)
        for pid, _ in kw:
            cos.setdefault(pid, float(scores[index[pid]]))
        hyb_runs[q] = [p for p, _ in blend(kw, cos, keyword_weight=weight)][:DEPTH]
    return sem_runs, hyb_runs


def _z(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / sd if sd > 1e-12 else np.zeros_like(values)


def fuse3(
    doc: np.ndarray,
    maxp: np.ndarray,
    qids: list[str],
    ids: list[str],
    index: dict[str, int],
    keyword: dict[str, list[tuple[str, float]]],
) -> dict[str, list[str]]:
    """Hybrid runs from three standardised signals over the union of the three candidate lists."""
    runs: dict[str, list[str]] = {}
    for row, q in enumerate(qids):
        cand: dict[int, None] = {}
        for matrix in (doc, maxp):
            top = np.argpartition(-matrix[row], DEPTH)[:DEPTH]
            cand.update(dict.fromkeys(top.tolist()))
        bm25 = {index[p]: s for p, s in keyword[q]}
        cand.update(dict.fromkeys(bm25))
        rows = np.fromiter(cand, dtype=np.int64)
        b = np.array([bm25.get(int(r), 0.0) for r in rows])
        score = 0.5 * _z(b) + 0.25 * _z(doc[row, rows]) + 0.25 * _z(maxp[row, rows])
        runs[q] = [ids[int(rows[i])] for i in np.argsort(-score, kind="stable")[:DEPTH]]
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["embed", "score"])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "scifact")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="cache for window/title/query vectors (default <data dir>/cache/passages)")
    ap.add_argument("--doc-cache", type=Path, default=None,
                    help="an eval cache holding whole-document vectors (copied, read only)")
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data_dir = Path(Settings().data_dir)
    args.cache_dir = args.cache_dir or data_dir / "cache" / "passages"
    args.doc_cache = args.doc_cache or data_dir / "cache"  # where bench/eval_scifact.sh caches
    if args.step == "embed":
        prepare(args)
    else:
        score(args)


if __name__ == "__main__":
    main()
