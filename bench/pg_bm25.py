"""Keyword and hybrid search latency on PostgreSQL: BM25 (`storage/search/pgbm25.py`, the
default) against the former `ts_rank` ranking, A/B in one run on the same catalog and queries.

    PAPERFEED_DATABASE_URL=postgresql+psycopg://... PAPERFEED_DATA_DIR=/tmp/x \\
        python bench/pg_bm25.py [--queries 200]

The catalog must already be loaded (e.g. the 75k one: `paperfeed export --embeddings` of
/tmp/pf-75k, `paperfeed import` into a scratch pgserver database). Queries: real titles, first
abstract sentences and 3-word phrases of random arxiv-cs papers (`search_latency.queries_from`),
each searched with `SearchService.search` after a warm-up: per query one untimed search (so
neither ranking pays for reading the pages the other then finds cached), then both rankings
timed, in alternating order, so both see the same load. Per mode and ranking: wall p50/p95, and CPU per query of this
process plus the PostgreSQL backend serving it (read from /proc: the server runs on this
machine), which is steadier than wall time on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pg_search_setup import pg_search  # noqa: E402
from search_latency import pct  # noqa: E402
from serve_bench import cpu_seconds  # noqa: E402


def ts_rank_hits(conn: Any, request: Any, filters: Any, *, limit: int, corpus: Any) -> Any:
    """The ranking PostgreSQL used before BM25 (main at e9c2a61): ts_rank with the field
    weights (no idf), the newest `scan_limit` matches only when the request has one."""
    from sqlalchemy import func, literal_column, or_, select

    from paperfeed.storage.schema import papers
    from paperfeed.storage.search import tsquery
    from paperfeed.storage.search.filters import filter_clauses
    from paperfeed.storage.search.request import KeywordHit, KeywordHits

    tsq = tsquery.compile_query(request)
    if tsq is None:
        return KeywordHits()
    t, a, b = request.fields
    top = max(t, a, b) or 1.0
    weights: Any = literal_column(
        f"ARRAY[0.0, {b / top:.6f}, {a / top:.6f}, {t / top:.6f}]::float4[]")
    vector: Any = literal_column("papers.search_vector")
    rank = func.ts_rank(weights, vector, tsq)
    if request.scan_limit is None:
        stmt = (select(papers.c.id, rank.label("score"), papers.c.title)
                .where(vector.op("@@")(tsq), *filter_clauses(conn, filters))
                .order_by(rank.desc(), papers.c.id).limit(limit))
        return KeywordHits(KeywordHit(r[0], float(r[1]), r[2] or "")
                           for r in conn.execute(stmt))
    cap = max(0, request.scan_limit)
    scan = (select(papers.c.id).where(vector.op("@@")(tsq), *filter_clauses(conn, filters))
            .order_by(papers.c.id.desc()).limit(cap + 1).subquery("scan"))
    counted = select(scan.c.id, func.count().over().label("n"),
                     func.min(scan.c.id).over().label("m")).subquery("counted")
    stmt = (select(papers.c.id, rank.label("score"), papers.c.title, counted.c.n)
            .select_from(counted.join(papers, papers.c.id == counted.c.id))
            .where(or_(counted.c.n <= cap, counted.c.id != counted.c.m))
            .order_by(rank.desc(), papers.c.id).limit(limit))
    rows = conn.execute(stmt).all()
    return KeywordHits((KeywordHit(r[0], float(r[1]), r[2] or "") for r in rows),
                       cut=bool(rows) and rows[0][3] > cap)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--limit", type=int, default=20)
    args = ap.parse_args()
    from paperfeed.storage.search import tsquery

    pg = pg_search(args.queries)
    engine, service, pids = pg.engine, pg.service, pg.pids
    n, queries = pg.papers, pg.queries
    bm25 = tsquery.keyword_hits
    rankings: dict[str, Callable[..., Any]] = {"bm25": bm25, "ts_rank": ts_rank_hits}
    for q in queries[:10]:  # warm-up: the model, the index pages, the count caches
        for fn in rankings.values():
            tsquery.keyword_hits = fn  # type: ignore[assignment]
            service.search(q, limit=args.limit)
    print(f"PostgreSQL, {n} papers, {len(queries)} queries, limit {args.limit}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<8} {'ranking':<8} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8} "
          f"{'CPU ms/q (client+server)':>25}")
    for mode in ("keyword", "hybrid"):
        times: dict[str, list[float]] = {k: [] for k in rankings}
        cpu: dict[str, float] = dict.fromkeys(rankings, 0.0)
        for i, q in enumerate(queries):
            tsquery.keyword_hits = bm25
            service.search(q, limit=args.limit, mode=mode)  # untimed: the pages it reads
            order = list(rankings.items())
            for name, fn in order if i % 2 else order[::-1]:
                tsquery.keyword_hits = fn  # type: ignore[assignment]
                embedder = service.embedder()
                if embedder is not None:
                    embedder.forget_queries()  # each ranking pays for its query embedding
                c0, s0, t0 = time.process_time(), cpu_seconds(pids), time.perf_counter()
                service.search(q, limit=args.limit, mode=mode)
                times[name].append((time.perf_counter() - t0) * 1000)
                cpu[name] += time.process_time() - c0 + cpu_seconds(pids) - s0
        for name in rankings:
            ts = times[name]
            print(f"{mode:<8} {name:<8} {pct(ts, 50):7.1f} {pct(ts, 95):7.1f} "
                  f"{statistics.mean(ts):8.1f} {cpu[name] / len(ts) * 1000:25.1f}")
    tsquery.keyword_hits = bm25
    print(f"load average {os.getloadavg()[0]:.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
