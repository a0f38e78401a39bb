"""Keyword search latency on PostgreSQL, for an A/B of two versions of the code (and schema):
run it twice at the same time, once per checkout, each on its own copy of the catalog, so both
see the same load (bench/README.md, "PostgreSQL keyword parity").

    PAPERFEED_DATABASE_URL=postgresql+psycopg://...  PAPERFEED_DATA_DIR=/tmp/x \\
        python bench/pg_keyword_latency.py [--code CHECKOUT] [--queries 300] [--seconds 0]

Queries: real titles, first abstract sentences and 3-word phrases of random arxiv-cs papers
(`search_latency.queries_from`), through `SearchService.search(mode="keyword")` after a
warm-up. Per query: wall, and CPU of this process plus the PostgreSQL backend serving it (read
from /proc: the server runs on this machine), steadier than wall time on a loaded machine.
`--seconds N` instead searches in a loop for N seconds and counts answers and errors (the
service answering while `paperfeed migrate` runs beside it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=Path, default=BENCH.parent, help="the checkout to import")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=0.0)
    args = ap.parse_args()
    sys.path[:0] = [str(args.code), str(BENCH)]
    from pg_search_setup import pg_search
    from search_latency import pct
    from serve_bench import cpu_seconds

    pg = pg_search(args.queries)
    engine, service, pids = pg.engine, pg.service, pg.pids
    n, queries = pg.papers, pg.queries
    if args.seconds:
        answered, errors, found, slowest = 0, 0, 0, 0.0
        stop = time.monotonic() + args.seconds
        i = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                found += bool(service.search(queries[i % len(queries)], limit=args.limit,
                                             mode="keyword").hits)
                answered += 1
            except Exception as error:  # noqa: BLE001 - counted and shown: the point
                errors += 1
                print(f"error: {type(error).__name__}: {str(error)[:200]}", flush=True)
            slowest = max(slowest, time.perf_counter() - t0)
            i += 1
        print(f"{answered} answered ({found} with results), {errors} errors, slowest "
              f"{slowest * 1000:.0f} ms, in {args.seconds:.0f} s")
        return
    for q in queries[:20]:  # warm-up: the index pages, the count caches
        service.search(q, limit=args.limit, mode="keyword")
    times: list[float] = []
    c0, s0 = time.process_time(), cpu_seconds(pids)
    for q in queries:
        t0 = time.perf_counter()
        service.search(q, limit=args.limit, mode="keyword")
        times.append((time.perf_counter() - t0) * 1000)
    cpu = time.process_time() - c0 + cpu_seconds(pids) - s0
    print(f"{args.code}: PostgreSQL, {n} papers, {len(queries)} keyword queries, "
          f"limit {args.limit}: wall p50 {pct(times, 50):.1f} p95 {pct(times, 95):.1f} "
          f"mean {statistics.mean(times):.1f} ms; CPU {cpu / len(times) * 1000:.2f} ms/query "
          f"(client+server); load average {os.getloadavg()[0]:.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
