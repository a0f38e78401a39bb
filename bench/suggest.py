"""Search-suggestion latency (GET /api/suggest) over the real arxiv-cs catalog (74,728 papers).

    PAPERFEED_DATA_DIR=/tmp/pf-bench-suggest python bench/suggest.py [--queries 400]

1. `paperfeed init` + `paperfeed ingest jsonl ../shared/data/arxiv-cs/...jsonl.gz --no-index`
   (skipped when the data directory already has the catalog; the author lookup table is filled
   by the same ingest).
2. Queries as a person types them: for random real papers, every prefix of the title's first
   two words from 2 characters on ("tr", "tra", ..., "transformer ro", ...), and of a random
   author's name ("yo", "yos", ..., "yoshua ben"). Each is answered by the route's own code
   (`web.api.suggest.suggestions`: the two keyword-index queries and the ranking) with the
   per-worker answer cache emptied first, so every figure is a cold miss.
Prints wall-clock p50 / p95 / max and CPU-time p50 / p95 (ms) for title prefixes, author
prefixes and all, with the load average: on a shared, loaded machine the CPU time is what a
quiet machine's wall time would be (the call is single-threaded, the database in the page
cache). The target is p95 under 30 ms.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATA = SHARED / "arxiv-cs" / "arxiv_cs_daily_2025-03_2026-07.jsonl.gz"


def run_cli(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "paperfeed", *args], check=True, env=env)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))]


def typed_prefixes(text: str, words: int = 2) -> list[str]:
    target = " ".join(text.split()[:words])
    return [target[:n] for n in range(2, len(target) + 1) if not target[:n].endswith(" ")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=400, help="typed prefixes per kind")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from paperfeed.config import Settings
    from paperfeed.storage.db import connect
    from paperfeed.web.api import suggest

    settings = Settings()
    if not (settings.data_dir / "paperfeed.db").exists():
        run_cli("init")
        started = time.perf_counter()
        run_cli("ingest", "jsonl", str(DATA), "--no-index", "--no-progress")
        print(f"ingest: {time.perf_counter() - started:.0f} s")
    rows = [json.loads(line) for line in gzip.open(DATA, "rt")]
    rng = random.Random(7)
    titles, authors = [], []
    while len(titles) < args.queries:
        titles += typed_prefixes(rng.choice(rows)["title"])
    while len(authors) < args.queries:
        names = rng.choice(rows).get("authors") or []
        if names:
            name = rng.choice(names)
            authors += typed_prefixes(name if isinstance(name, str) else name.get("name", ""))
    titles, authors = titles[: args.queries], authors[: args.queries]

    engine = connect(settings)
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM papers").scalar_one()
    app = SimpleNamespace(state=SimpleNamespace(engine=engine))
    request = SimpleNamespace(app=app)
    for q in titles[:20]:  # warm the page cache of SQLite, not our answer cache
        suggest.suggestions(request, q)  # type: ignore[arg-type]

    def measure(queries: list[str]) -> tuple[list[float], list[float]]:
        wall, cpu = [], []
        for q in queries:
            suggest._CACHE.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            suggest.suggestions(request, q)  # type: ignore[arg-type]
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        return wall, cpu

    (tw, tc), (aw, ac) = measure(titles), measure(authors)
    print(f"catalog: {count} papers ({engine.dialect.name}); {len(tw)} title and {len(aw)} "
          f"author prefixes, cold (answer cache emptied before each); load {os.getloadavg()[0]:.1f}")
    for label, wall, cpu in (("titles", tw, tc), ("authors", aw, ac), ("all", tw + aw, tc + ac)):
        print(f"{label:8s} wall p50 {pct(wall, 50):6.1f} p95 {pct(wall, 95):6.1f} max "
              f"{max(wall):6.1f} ms | cpu p50 {pct(cpu, 50):6.1f} p95 {pct(cpu, 95):6.1f} ms")


if __name__ == "__main__":
    main()
