"""pgvector bench: nearest-vector latency (p50/p95) and recall@10 of `PgVectors` on a
throwaway PostgreSQL 16 + pgvector (the pgserver wheel), unfiltered and filtered.

Vectors: the 2,926 real demo-paper embeddings (paperfeed/demo/vectors.npy), extended to --size
by mixing two random real vectors plus noise (as bench/vector_search.py does). Queries: real
SciFact claims embedded by the bundled model (/work/cache/embed/bench-queries.npy when
present, else the first 50 claims embedded here). Papers are synthetic rows (ids, dates over two
years, one of 8 categories, a GitHub repository for 10%), written through `upsert_papers` and
`store_embeddings`; the HNSW index is built by `PgVectors.sync` (what `paperfeed index`
runs). Recall@10 compares with the exact plan of the same query (same filters).

    PYTHONPATH=. python bench/pgvector_search.py --size 30000 --queries 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.models import Author, Paper, utcnow
from paperfeed.storage import embeddings as store
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.search import SearchFilters
from paperfeed.storage.search import pgvector as sql
from paperfeed.storage.search.nearest import PgVectors

ROOT = Path(__file__).resolve().parent.parent
MODEL_ID, DIM = "bench", 384
CATS = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "cs.IR", "stat.ML", "eess.AS"]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    real = np.load(ROOT / "paperfeed" / "demo" / "vectors.npy").astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    k = min(n, real.shape[0])
    out[:k] = real[:k]
    m = n - k
    if m > 0:
        a = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = a * real[rng.integers(0, k, m)] + (1 - a) * real[rng.integers(0, k, m)]
        v += rng.standard_normal((m, DIM)).astype(np.float32) * (0.35 / np.sqrt(DIM))
        out[k:] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def queries(n: int) -> np.ndarray:
    cached = Path("/work/cache/embed/bench-queries.npy")
    if cached.exists():
        return np.load(cached)[:n].astype(np.float32)
    from paperfeed.search.embed import Embedder

    lines = (ROOT.parent / "shared" / "data" / "scifact" / "queries_train.jsonl").read_text()
    texts = [json.loads(x)["text"] for x in lines.splitlines()[:n]]
    return Embedder.load(model="minilm-l6-v2").embed_documents(texts)


def load(settings: Settings, n: int) -> None:
    engine = connect(settings)
    migrate(engine)
    mat = vectors(n)
    rng = np.random.default_rng(1)
    start = datetime(2024, 1, 1)
    for lo in range(0, n, 2000):
        ids = [f"9{i:07d}" for i in range(lo, min(n, lo + 2000))]
        papers = [
            Paper(id=pid, title=f"Paper {pid}", abstract="Synthetic row for the bench.",
                  authors=[Author("A. Bench")], categories=[CATS[int(rng.integers(8))]],
                  published_at=start + timedelta(hours=int(rng.integers(0, 2 * 8760))),
                  github_repo="https://github.com/x/y" if rng.random() < 0.1 else None,
                  source="bench")
            for pid in ids
        ]
        with write(engine) as conn:
            upsert_papers(conn, papers, now=utcnow())
            store.store_embeddings(conn, model_id=MODEL_ID, paper_ids=ids,
                                   content_hashes=["h"] * len(ids),
                                   vectors=mat[lo : lo + len(ids)], now=utcnow())
    engine.dispose()


def timed(fn, qs: np.ndarray) -> tuple[list[float], list[list[str]]]:  # type: ignore[no-untyped-def]
    times, results = [], []
    for q in qs:
        t0 = time.perf_counter()
        hits = fn(q)
        times.append((time.perf_counter() - t0) * 1000)
        results.append([h[0] for h in hits])
    return times, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=30_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--ef-construction", type=int, default=sql.HNSW_EF_CONSTRUCTION)
    ap.add_argument("--ef-search-min", type=int, default=sql.EF_SEARCH_MIN)
    ap.add_argument("--only-unfiltered", action="store_true")
    args = ap.parse_args()
    sql.HNSW_EF_CONSTRUCTION, sql.EF_SEARCH_MIN = args.ef_construction, args.ef_search_min
    import pgserver

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="pgv-bench-")),
                                 cleanup_mode="delete")
    try:
        url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        settings = Settings(environment="development", database_url=url,
                            data_dir=Path(tempfile.mkdtemp(prefix="pgv-bench-data-")))
        t0 = time.perf_counter()
        load(settings, args.size)
        t_load = time.perf_counter() - t0
        engine = connect(settings)
        with engine.connect() as conn:
            version = sql.info(conn).version
            conn.exec_driver_sql("ANALYZE papers")
            conn.exec_driver_sql("ANALYZE embeddings")
            conn.commit()
        with engine.connect() as conn:
            index = PgVectors(engine, MODEL_ID, DIM, sql.info(conn))
        t0 = time.perf_counter()
        index.sync()
        t_build = time.perf_counter() - t0
        qs = queries(args.queries)
        print(f"pgvector {version}, {args.size} vectors, load {t_load:.1f} s, HNSW build "
              f"{t_build:.1f} s (m {sql.HNSW_M}, ef_construction {sql.HNSW_EF_CONSTRUCTION}), "
              f"ef_search >= {sql.EF_SEARCH_MIN}, {len(qs)} queries")
        cases = {
            "unfiltered k=10": (SearchFilters(), 10),
            "unfiltered k=100": (SearchFilters(), 100),
            "has-code (~10%, exact)": (SearchFilters(has_code=True), 100),
            "category (~12%, exact)": (SearchFilters(categories=("cs.CV",)), 100),
            "after 2024-04 (~87%, HNSW+filter)": (SearchFilters(date_from=date(2024, 4, 1)), 100),
        }
        for name, (filters, k) in cases.items():
            if args.only_unfiltered and filters.active:
                continue
            index.nearest(qs[0], k, filters=filters)  # warm
            times, got = timed(lambda q, f=filters, k=k: index.nearest(q, k, filters=f), qs)

            def exact(q: np.ndarray, f: SearchFilters = filters, k: int = k) -> list:
                with engine.connect() as conn:
                    return sql.nearest(conn, MODEL_ID, DIM, q, k, filters=f, exact=True)

            etimes, truth = timed(exact, qs)
            recall = statistics.mean(
                len(set(g[:10]) & set(t[:10])) / max(1, min(10, len(t)))
                for g, t in zip(got, truth, strict=True)
            )
            print(f"{name:36s} p50 {statistics.median(times):7.1f} ms  "
                  f"p95 {np.percentile(times, 95):7.1f} ms  recall@10 {recall:.3f}  "
                  f"(exact plan p50 {statistics.median(etimes):.1f} ms)")
        engine.dispose()
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
