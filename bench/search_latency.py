"""Hybrid search latency, in-process, over the real arxiv-cs catalog (74,728 papers).

    PAPERFEED_DATA_DIR=/tmp/pf-bench-search python bench/search_latency.py [--queries 300]

Steps (each skipped when already done in that data directory):
1. `paperfeed init` + `paperfeed ingest jsonl ../shared/data/arxiv-cs/...jsonl.gz` (timed: the
   keyword index is built by the FTS triggers inside the ingest transactions).
2. Vectors: real embeddings for `--real N` papers (the indexing job, `paperfeed index` code path),
   the rest imported as synthetic vectors (a real vector of another paper plus Gaussian noise,
   renormalised) with `import_vectors` — embedding all 75k for real takes ~30 min on 2 shared
   cores, and the vector values do not change the cost of an exact (matrix) or ANN search.
3. Queries: real titles, first abstract sentences and short keyword phrases of random papers,
   each searched with `SearchService.search` (query embedding + FTS5 + vector search + fusion +
   pinning), after a warm-up. Prints p50/p95/mean for hybrid, keyword and semantic.

`--ab`: instead, hybrid with the defaults (A) against the fixed equal blend (B, no per-query
rule: `standout_shift=0`, `keywords_shift=0`, `lead_bonus=0`, `coverage_bonus=0`; with
`--ab-coverage`, B is the defaults without the coverage check only; with `--ab-phrases`, the
defaults without the phrase check only), alternating per query over one
backend and one embedder, so both see the same load (a query vector is reused by the second of
each pair). It also counts the queries the bare-keywords rule applies to, and scores both on
finding the paper each query was taken from (nDCG@10 per kind of query; nobody tuned on it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATA = SHARED / "arxiv-cs" / "arxiv_cs_daily_2025-03_2026-07.jsonl.gz"


def run_cli(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "paperfeed", *args], check=True, env=env)


KINDS = ("title", "first sentence", "3 title words")


def queries_from(rows: list[dict], n: int, seed: int = 1) -> list[str]:
    return [q for q, _, _ in sourced_queries(rows, n, seed)]


def sourced_queries(rows: list[dict], n: int, seed: int = 1) -> list[tuple[str, str, int]]:
    """(query, the paper it was taken from, its kind: an index into KINDS)."""
    rng = random.Random(seed)
    picks = rng.sample(rows, n)
    out = []
    for i, r in enumerate(picks):
        title = " ".join(r["title"].split())
        abstract = " ".join(r["abstract"].split())
        kind = i % 3
        if kind == 0:
            q = title
        elif kind == 1:
            q = re.split(r"(?<=\.)\s", abstract, maxsplit=1)[0][:300]
        else:
            words = [w for w in re.findall(r"[A-Za-z]{4,}", title)]
            q = " ".join(rng.sample(words, min(3, len(words)))) or title
        out.append((q, r["id"], kind))
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--real", type=int, default=2000, help="papers embedded for real")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--ab", action="store_true", help="defaults vs the fixed blend, alternating")
    ap.add_argument("--ab-pairs", action="store_true",
                    help="defaults vs no word pairs on the keyword side, hybrid and keyword "
                    "mode, alternating")
    ap.add_argument("--ab-coverage", action="store_true",
                    help="with --ab: B is the defaults without the coverage check")
    ap.add_argument("--ab-phrases", action="store_true",
                    help="with --ab: B is the defaults without the phrase check")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from paperfeed.config import Settings
    from paperfeed.search.hybrid import SearchService
    from paperfeed.storage.db import connect

    settings = Settings()
    db = settings.data_dir / "paperfeed.db"
    if not db.exists():
        run_cli("init")
        t = time.perf_counter()
        run_cli("ingest", "jsonl", "--no-progress", "--no-index", str(DATA))
        print(f"ingest + keyword index of {DATA.name}: {time.perf_counter() - t:.1f} s")
    engine = connect(settings)
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    ensure_vectors(settings, engine, rows, args.real)
    queries = queries_from(rows, args.queries)
    service = SearchService(engine, settings)
    for q in queries[:10]:  # warm-up: load the model, page in the index
        service.search(q, limit=args.limit)
    print(f"{len(rows)} papers, {len(queries)} queries, limit {args.limit}")
    if args.ab or args.ab_pairs:
        for mode in ("hybrid", "keyword") if args.ab_pairs else ("hybrid",):
            against = ("nopairs" if args.ab_pairs else "coverage" if args.ab_coverage
                       else "phrases" if args.ab_phrases else "fixed")
            ab(service, sourced_queries(rows, args.queries), args.limit, mode=mode,
               against=against)
        return
    print(f"{'mode':<9} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8}")
    for mode in ("hybrid", "keyword", "semantic"):
        embedder = service.embedder()
        if embedder is not None:
            embedder.forget_queries()  # each mode pays for its query embeddings
        times = []
        for q in queries:
            t = time.perf_counter()
            result = service.search(q, limit=args.limit, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
            assert result.used in (mode, "pinned", "keyword", "semantic", "none"), result.used
        print(f"{mode:<9} {pct(times, 50):7.1f} {pct(times, 95):7.1f} {statistics.mean(times):8.1f}")
    emb = service.embedder()
    if emb is not None:
        times = []
        for q in queries:
            t = time.perf_counter()
            emb.embedder.embed_query(q)  # type: ignore[attr-defined]
            times.append((time.perf_counter() - t) * 1000)
        print(f"{'embed q':<9} {pct(times, 50):7.1f} {pct(times, 95):7.1f} {statistics.mean(times):8.1f}")


def ab(service, queries: list[tuple[str, str, int]], limit: int, *, mode: str = "hybrid",  # type: ignore[no-untyped-def]
       against: str = "fixed") -> None:
    """p50/p95 and CPU per query of `mode`, defaults (A) vs the fixed blend (B; `against`
    "coverage": the defaults without the coverage check; "phrases": without the phrase check;
    "nopairs": the keyword side without
    word pairs), interleaved (A first on even queries, B first on odd ones, so neither always
    pays for the vector). Also a known-item check nobody tuned on: nDCG@10 of the paper each
    query was taken from, per kind of query, A vs B."""
    import math
    from dataclasses import replace

    from paperfeed.search.fusion import keyword_like
    from paperfeed.search.hybrid import SearchService
    from paperfeed.search.query import parse

    bare = sum(keyword_like(parse(q).words) for q, _, _ in queries)
    print(f"bare-keyword queries (keywords_shift, lead_bonus apply): {bare} of {len(queries)}")
    off = replace(service.params, coverage_bonus=0.0, phrase_bonus=0.0)
    if against == "fixed":
        off = replace(off, standout_shift=0.0, keywords_shift=0.0, lead_bonus=0.0)
    elif against == "coverage":
        off = replace(service.params, coverage_bonus=0.0)
    elif against == "phrases":  # A: the defaults (the phrase check on), B: without it
        off = replace(service.params, phrase_bonus=0.0)
    elif against == "nopairs":
        off = replace(service.params, keyword=replace(service.params.keyword, bigrams="off"))
    fixed = SearchService(service.engine, service.settings, params=off,
                          backend=service.backend, embedder=service.embedder())
    b_label = {"coverage": "no coverage", "nopairs": "no pairs",
               "phrases": "no phrases"}.get(against, "fixed blend")
    runs: dict[str, tuple[list[float], list[float]]] = {"A": ([], []), "B": ([], [])}
    found: dict[tuple[str, int], list[float]] = {}
    for n, (q, source, kind) in enumerate(queries):
        pair = [("A", service), ("B", fixed)]
        for name, svc in pair if n % 2 == 0 else pair[::-1]:
            t, c = time.perf_counter(), time.thread_time()
            hits = svc.search(q, limit=limit, mode=mode).hits
            runs[name][0].append((time.perf_counter() - t) * 1000)
            runs[name][1].append((time.thread_time() - c) * 1000)
            ids = [h.paper_id for h in hits[:10]]
            gain = 1 / math.log2(ids.index(source) + 2) if source in ids else 0.0
            found.setdefault((name, kind), []).append(gain)
    for name, label in (("A", "defaults"), ("B", b_label)):
        wall, cpu = runs[name]
        print(f"{mode} {label:<12} p50 {pct(wall, 50):6.1f} p95 {pct(wall, 95):6.1f} ms; "
              f"caller-thread CPU mean {statistics.mean(cpu):5.2f} ms")
    for kind, what in enumerate(KINDS):
        a, b = found.get(("A", kind), []), found.get(("B", kind), [])
        if a:
            better = sum(x > y for x, y in zip(a, b, strict=True))
            worse = sum(x < y for x, y in zip(a, b, strict=True))
            print(f"known item, {what:<15} nDCG@10 defaults {statistics.mean(a):.4f} "
                  f"{b_label} {statistics.mean(b):.4f} ({better} better, {worse} worse)")


def ensure_vectors(settings, engine, rows: list[dict], real: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from paperfeed.search.embed import model_info
    from paperfeed.search.indexing import import_vectors, index_papers

    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM embeddings")).scalar_one()
    if have >= len(rows):
        return
    info = model_info(settings.embedding_model)
    rng = np.random.default_rng(0)
    ids = [r["id"] for r in rows]
    rng.shuffle(ids)
    real_ids, synth_ids = ids[:real], ids[real:]
    t = time.perf_counter()
    # Real vectors first: import the synthetic ones only after, from the real ones.
    with engine.connect() as conn:
        real_have = conn.execute(text("SELECT count(*) FROM embeddings")).scalar_one()
    if real_have < real:
        vec_dir = settings.data_dir / "bench-synth"
        vec_dir.mkdir(parents=True, exist_ok=True)
        # mark every non-sample paper as done by importing placeholders is not possible before
        # real vectors exist, so embed the sample through the job with a limit.
        from paperfeed.search.embed import Embedder

        emb = Embedder.load(settings)
        texts = {r["id"]: (r["title"], r["abstract"]) for r in rows}
        from paperfeed.search.embed import document_text

        vecs = emb.embed_documents([document_text(*texts[i]) for i in real_ids])
        np.save(vec_dir / "real.npy", vecs)
        (vec_dir / "real_ids.txt").write_text("\n".join(real_ids))
        print(f"embedded {real} real papers: {time.perf_counter() - t:.1f} s "
              f"({real / (time.perf_counter() - t):.1f}/s)")
        base = vecs
        noise = rng.normal(0, 0.04, size=(len(synth_ids), base.shape[1])).astype(np.float32)
        synth = base[rng.integers(0, len(base), len(synth_ids))] + noise
        synth /= np.linalg.norm(synth, axis=1, keepdims=True)
        allv = np.concatenate([vecs, synth]).astype(np.float32)
        np.save(vec_dir / "all.npy", allv)
        (vec_dir / "all_ids.txt").write_text("\n".join([*real_ids, *synth_ids]))
        (vec_dir / "model.txt").write_text(info.model_id)
        t = time.perf_counter()
        import_vectors(engine, settings, vec_dir / "all.npy", vec_dir / "all_ids.txt",
                       model_id=info.model_id)
        print(f"imported {len(allv)} vectors ({real} real): {time.perf_counter() - t:.1f} s")
    index_papers(engine, settings)  # nothing due; syncs the index


if __name__ == "__main__":
    main()
