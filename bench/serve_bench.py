"""Serving benchmark: `paperfeed serve` (default worker count) on the 75k-paper catalog.

Builds the catalog once in --data-dir (74,728 arXiv cs papers via `paperfeed ingest jsonl`,
plus the 580-day Hugging Face archive for featured days via `paperfeed ingest hf-daily
--from`), starts `paperfeed serve`, then drives `/` and `/api/daily_papers` with wrk (32
connections on loopback, a fixed duration per URL) twice — flat out (the throughput), then
paced at --rate req/s (the latency at the target load) — and prints req/s, p50/p95/p99
latency, the server's CPU time per request and the RSS of every serving process. Targets: >= 500 req/s, p95 < 50 ms, RSS < 300 MB/process.

    python bench/serve_bench.py [--data-dir /tmp/paperfeed-bench] [--seconds 10]

Uses `wrk` (Debian: `apt-get install -y wrk`) when installed, else the slower asyncio client in
bench/asyncio_load.py (figures then are a lower bound). Needs ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ARXIV = "arxiv-cs/arxiv_cs_daily_2025-03_2026-07.jsonl.gz"
HF = "hf-daily-papers/hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz"
LUA = Path(__file__).resolve().parent / "wrk_report.lua"
PATHS = ("/", "/api/daily_papers")


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(data_dir),
        PAPERFEED_SECRET_KEY="bench-secret-" + "x" * 32,
        PAPERFEED_ENVIRONMENT="production",
        PYTHONPATH=str(ROOT),
    )
    return env


def paperfeed(env: dict[str, str], *args: str) -> None:
    print("$ paperfeed", " ".join(args), flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperfeed", *args], env=env, check=True)
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)


def catalog_size(db: Path) -> tuple[int, int]:
    if not db.exists():
        return 0, 0
    with sqlite3.connect(db) as conn:
        try:
            n = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
            f = conn.execute("SELECT count(*) FROM featured").fetchone()[0]
        except sqlite3.OperationalError:
            return 0, 0
    return int(n), int(f)


def ensure_catalog(data_dir: Path, env: dict[str, str], shared: Path) -> None:
    papers, featured = catalog_size(data_dir / "paperfeed.db")
    if papers >= 74_000 and featured >= 9_000:
        paperfeed(env, "migrate")  # a catalog from an older checkout
        print(f"catalog ready: {papers} papers, {featured} featured rows")
        return
    arxiv, hf = shared / ARXIV, shared / HF
    for path in (arxiv, hf):
        if not path.exists():
            sys.exit(f"bench: {path} is missing (pass --shared-data DIR)")
    data_dir.mkdir(parents=True, exist_ok=True)
    paperfeed(env, "migrate")
    # --no-index: keyword indexing only (the FTS triggers); embeddings are not what is measured.
    if papers < 74_000:
        paperfeed(env, "ingest", "jsonl", str(arxiv), "--no-progress", "--no-index")
    if featured < 9_000:
        paperfeed(env, "ingest", "hf-daily", "--from", str(hf), "--no-progress", "--no-index")
    papers, featured = catalog_size(data_dir / "paperfeed.db")
    print(f"catalog built: {papers} papers, {featured} featured rows")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"bench: paperfeed serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    sys.exit("bench: server not ready within 60 s")


def rss_mb(pid: int) -> dict[int, float]:
    """RSS in MB of `pid` and all its descendants (from /proc)."""
    out: dict[int, float] = {}
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                out[p] = int(line.split()[1]) / 1024
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                stack += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """user+sys CPU time of these processes so far (from /proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_wrk(
    url: str, seconds: int, connections: int, threads: int, rate: float | None = None
) -> dict[str, float]:
    env = dict(os.environ)
    if rate:
        # Each connection waits `delay` plus the response time between requests, so aim 30%
        # above the rate for the achieved rate to reach it; the printed req/s is what it was.
        env["BENCH_DELAY_MS"] = str(max(1, round(connections * 1000 / (rate * 1.3))))
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(LUA), url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    return json.loads(line[6:])


def measure(
    port: int, path: str, args: argparse.Namespace, rate: float | None = None
) -> dict[str, float]:
    if shutil.which("wrk"):
        url = f"http://127.0.0.1:{port}{path}"
        return run_wrk(url, args.seconds, args.connections, args.threads, rate)
    if rate:
        return {}  # the asyncio client has no pacing
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import asyncio_load

    return asyncio_load.run(port, path, args.connections, args.seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/paperfeed-bench"))
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration per URL")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (1 leaves the cores to the server)")
    ap.add_argument("--workers", type=int, default=None, help="default: paperfeed's own")
    ap.add_argument("--paths", nargs="+", default=list(PATHS))
    ap.add_argument(
        "--nice", type=int, default=0,
        help="run server and wrk at this niceness (negative needs root): isolates the "
        "figures from other busy processes on a shared machine",
    )
    ap.add_argument(
        "--rate", type=float, default=500, help="paced run: total req/s over all connections"
    )
    ap.add_argument("--shared-data", type=Path, default=SHARED, help="../shared/data")
    args = ap.parse_args()
    print("load generator:", "wrk" if shutil.which("wrk") else "asyncio (wrk not installed)")

    env = env_for(args.data_dir)
    ensure_catalog(args.data_dir, env, args.shared_data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if args.nice:
        os.nice(args.nice)  # inherited by the server and by wrk
    serve = [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)]
    if args.workers:
        serve += ["--workers", str(args.workers)]
    print("$ paperfeed", " ".join(serve[3:]), flush=True)
    proc = subprocess.Popen(serve, env=env)
    try:
        ready = wait_ready(base, proc)
        print(f"server ready in {ready:.1f} s")
        time.sleep(1.0)  # let every worker finish starting
        results = []
        for path in args.paths:
            for _ in range(20):  # warm-up: caches, connection pools, lazy imports
                urllib.request.urlopen(base + path, timeout=10).read()
            for label, rate in (("max", None), (f"{args.rate:.0f}/s", args.rate)):
                pids = list(rss_mb(proc.pid))
                cpu0, load0 = cpu_seconds(pids), os.getloadavg()[0]
                r = measure(port, path, args, rate)
                if not r:
                    continue
                cpu_ms = (cpu_seconds(pids) - cpu0) * 1000 / max(r["requests"], 1)
                rps = r["requests"] / (r["duration_us"] / 1e6)
                errors = int(sum(r[k] for k in r if k.endswith("errors") or k == "timeouts"))
                results.append((path, label, rps, r))
                print(
                    f"{path:<18} {label:>6}  {r['requests']:>6} requests {rps:6.0f} req/s  "
                    f"p50 {r['p50_us'] / 1000:5.1f} ms  p95 {r['p95_us'] / 1000:5.1f} ms  "
                    f"p99 {r['p99_us'] / 1000:5.1f} ms  errors {errors}  "
                    f"{r['bytes'] / max(r['requests'], 1) / 1024:.1f} KB/resp  "
                    f"server CPU {cpu_ms:.2f} ms/req  load avg {load0:.1f}",
                    flush=True,
                )
        rss = rss_mb(proc.pid)
        print("RSS per serving process (MB): " + ", ".join(
            f"{pid}: {mb:.0f}" for pid, mb in sorted(rss.items())
        ))
        rate_ok = all(rps >= 500 for _, label, rps, _ in results if label == "max")
        p95_ok = all(r["p95_us"] < 50_000 for _, label, _, r in results if label != "max")
        rss_ok = max(rss.values()) < 300
        print(
            f"targets: >= 500 req/s {'met' if rate_ok else 'MISSED'}; p95 < 50 ms at "
            f"{args.rate:.0f} req/s {'met' if p95_ok else 'MISSED'}; RSS < 300 MB/process "
            f"{'met' if rss_ok else 'MISSED'}"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
