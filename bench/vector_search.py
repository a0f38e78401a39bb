"""Vector index bench: exact vs ANN latency (p50/p95), recall@10 and memory at 75k / 200k / 1M.

Real vectors: the bundled model's embeddings of real abstracts (SciFact documents and the demo
corpus, cached under /work/cache/embed by bench/scifact_semantic.py and scripts/demo_vectors.py;
or any .npy given with --real). Larger catalogs are synthesised from them: each extra vector is
normalise(a*r1 + (1-a)*r2 + noise) of two random real vectors r1, r2 (a ~ U(0.5, 1), noise with
norm ~0.35), which keeps the data on the "shape" of real embeddings instead of a uniform sphere.
Queries are real SciFact claims embedded by the same model.

Each size is built once with `VectorIndex.add` (the service's own code; the HNSW graph is built
and then extended incrementally) into /work/cache/embed/bench-vectors/<n>/, then searched from a
fresh process so RSS is what a web worker pays.

    PYTHONPATH=. python bench/vector_search.py --sizes 75000 200000 1000000 [--baseline FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path("/work/cache/embed")
OUT = CACHE / "bench-vectors"
MODEL_ID, DIM = "bench", 384


def real_vectors(extra: list[Path]) -> np.ndarray:
    paths = extra or [CACHE / "scifact" / "test-e-int8-opt-pc-256-1500.npy",
                      CACHE / "demo" / "vectors.npy"]
    parts = [np.load(p).astype(np.float32) for p in paths if p.exists()]
    if not parts:
        sys.exit("no real vectors found; run bench/scifact_semantic.py first")
    mat = np.concatenate(parts)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def queries(n: int) -> np.ndarray:
    path = CACHE / "bench-queries.npy"
    if path.exists():
        return np.load(path)[:n]
    from paperfeed.search.embed import Embedder

    lines = Path("/work/shared/data/scifact/queries_train.jsonl").read_text().splitlines()
    texts = [json.loads(x)["text"] for x in lines[:400]]
    q = Embedder.load(model="minilm-l6-v2").embed_documents(texts)
    np.save(path, q)
    return q[:n]


def synthesise(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    k = min(n, real.shape[0])
    out[:k] = real[:k]
    for start in range(k, n, 100_000):
        m = min(100_000, n - start)
        a = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        r1 = real[rng.integers(0, real.shape[0], m)]
        r2 = real[rng.integers(0, real.shape[0], m)]
        noise = rng.standard_normal((m, DIM)).astype(np.float32) * (0.35 / np.sqrt(DIM))
        v = a * r1 + (1 - a) * r2 + noise
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def build(n: int, real: np.ndarray) -> Path:
    from paperfeed.storage.vectors.files import VectorFiles as VectorIndex

    directory = OUT / str(n)
    if (directory / "manifest.json").exists():
        return directory
    mat = synthesise(real, n)
    np.save(OUT / f"exact-{n}.npy", mat)
    index = VectorIndex(directory, MODEL_ID, DIM)
    t0 = time.perf_counter()
    # one initial build, then one incremental extension (what `paperfeed index` does)
    bounds = [0, n - 50_000, n] if n > 100_000 else [0, n]
    for start, stop in zip(bounds, bounds[1:], strict=False):
        index.add([f"p{i}" for i in range(start, stop)], mat[start:stop])
        print(f"  built {stop:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return directory


def search_child(n: int, k: int, nq: int, exact_too: bool) -> None:
    """Runs in a fresh process: open the index, search, report latency, recall and RSS."""
    from paperfeed.search import vectors
    from paperfeed.storage.vectors.files import VectorFiles as VectorIndex

    q = queries(nq)
    index = VectorIndex(OUT / str(n), MODEL_ID, DIM)
    st = index._state
    index.search(q[0], k)  # warm-up
    lat, cpu, found = [], [], []
    for v in q:
        t, c = time.perf_counter(), time.process_time()
        found.append([h[0] for h in index.search(v, k)])
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    # RSS now: what a worker serving searches holds (the exact pass below reads every row)
    rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
    elat, ecpu, hits = [], [], 0
    if exact_too:
        for v, got in zip(q, found, strict=True):
            t, c = time.perf_counter(), time.process_time()
            truth = [h[0] for h in vectors.VectorIndex._exact(index, st, v, k)]
            elat.append((time.perf_counter() - t) * 1000)
            ecpu.append((time.process_time() - c) * 1000)
            hits += len(set(truth) & set(got))
    out = {"n": n, "mode": "ann" if index.uses_ann else "exact",
           "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
           "cpu_p50_ms": float(np.percentile(cpu, 50)), "rss_mb": rss}
    if exact_too:
        out.update(exact_p50_ms=float(np.percentile(elat, 50)),
                   exact_cpu_p50_ms=float(np.percentile(ecpu, 50)),
                   exact_p95_ms=float(np.percentile(elat, 95)),
                   recall_at_10=hits / (k * len(q)))
    print(json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[75_000, 200_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--real", type=Path, nargs="*", default=[])
    ap.add_argument("--baseline", type=Path, help="a JSON file from an earlier --save")
    ap.add_argument("--save", type=Path)
    ap.add_argument("--expansion-add", type=int, default=None,
                    help="HNSW build effort for new builds (default: the service's, 128)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        search_child(args.child, 10, args.queries, exact_too=True)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    if args.expansion_add:
        from paperfeed.search import vectors

        vectors.ANN_EXPANSION_ADD = args.expansion_add
    real = real_vectors(args.real)
    queries(args.queries)
    print(f"real vectors: {real.shape[0]:,}; queries: {args.queries}")
    rows = []
    for n in args.sizes:
        t0 = time.perf_counter()
        build(n, real)
        print(f"n={n:,}: index ready in {time.perf_counter() - t0:.0f} s", flush=True)
        res = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--queries", str(args.queries)],
            capture_output=True, text=True, env={**os.environ},
        )
        if res.returncode:
            print(res.stderr)
            continue
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"n={n:>9,} {row['mode']:5s} p50 {row['p50_ms']:6.2f} ms  p95 {row['p95_ms']:6.2f} ms"
              f" (CPU p50 {row['cpu_p50_ms']:.2f} ms)"
              f"  | exact p50 {row['exact_p50_ms']:6.2f} ms p95 {row['exact_p95_ms']:6.2f} ms"
              f" (CPU p50 {row['exact_cpu_p50_ms']:.2f} ms)"
              f"  | recall@10 {row['recall_at_10']:.3f}  | RSS {row['rss_mb']} MB", flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    if args.baseline and args.baseline.exists():
        base = {r["n"]: r for r in json.loads(args.baseline.read_text())}
        for r in rows:
            b = base.get(r["n"])
            if b:
                print(f"n={r['n']:,}: p50 {b['p50_ms']:.2f} -> {r['p50_ms']:.2f} ms, recall "
                      f"{b['recall_at_10']:.3f} -> {r['recall_at_10']:.3f}, RSS {b['rss_mb']} -> "
                      f"{r['rss_mb']} MB")


if __name__ == "__main__":
    main()
