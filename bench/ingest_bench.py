"""Time `paperfeed ingest jsonl` of the whole arxiv-cs corpus into a fresh SQLite file.

Runs the real CLI in a subprocess (so start-up, parsing, FTS5 triggers and commits all count),
then checks the catalog: paper rows == FTS rows == expected lines.

    python bench/ingest_bench.py [--file PATH] [--save result.json] [--baseline result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("data") / "arxiv-cs" / "arxiv_cs_daily_2025-03_2026-07.jsonl.gz"
# ../shared beside the checkout (as in CI); a git worktree under wt/ also looks one level up.
DEFAULT_FILE = next(
    (p for p in (ROOT.parent / "shared" / CORPUS, ROOT.parent.parent / "shared" / CORPUS) if p.exists()),
    ROOT.parent / "shared" / CORPUS,
)


def run(file: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-") as tmp:
        env = {
            **os.environ,
            "PAPERFEED_DATA_DIR": tmp,
            "PAPERFEED_ENVIRONMENT": "development",
            "PYTHONPATH": str(ROOT),
        }
        cmd = [sys.executable, "-m", "paperfeed"]
        subprocess.run([*cmd, "migrate"], env=env, check=True, capture_output=True)
        load_before = os.getloadavg()[0]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [*cmd, "ingest", "jsonl", str(file), "--no-progress", "--no-index"],
            env=env, check=True, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        db = sqlite3.connect(Path(tmp) / "paperfeed.db")
        papers = db.execute("select count(*) from papers").fetchone()[0]
        fts = db.execute("select count(*) from papers_fts").fetchone()[0]
        db.close()
    return {
        "file": file.name,
        "papers": papers,
        "fts_rows": fts,
        "seconds": round(seconds, 2),
        "papers_per_second": round(papers / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "load_average_before": round(load_before, 2),
        "summary": done.stdout.strip().splitlines()[-1],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--save", type=Path, help="write the result as JSON here")
    parser.add_argument("--baseline", type=Path, help="compare with a saved JSON result")
    args = parser.parse_args()
    if not args.file.exists():
        sys.exit(f"bench: {args.file} not found (needs ../shared/data beside the checkout)")
    result = run(args.file)
    print(f"ingest jsonl {result['file']}: {result['papers']} papers in {result['seconds']} s "
          f"= {result['papers_per_second']} papers/s (FTS rows {result['fts_rows']})")
    print(f"cpu: {result['cpu_seconds']} s user+sys (2 threads overlap parsing and SQLite); "
          f"1-min load average before the run: {result['load_average_before']} on {result['cpus']} cores")
    print(f"summary: {result['summary']}")
    if result["papers"] != result["fts_rows"]:
        print("WARNING: FTS rows differ from paper rows")
    if args.baseline:
        base = json.loads(args.baseline.read_text())
        change = (result["seconds"] - base["seconds"]) / base["seconds"] * 100
        print(f"baseline: {base['seconds']} s ({base['papers_per_second']} papers/s); "
              f"now {change:+.1f}% time")
    if args.save:
        args.save.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
