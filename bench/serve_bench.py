"""Serve throughput and latency: `paperfeed serve` (default workers) under N keep-alive
connections on loopback, per path; also the RSS of each server process.

    python bench/serve_bench.py                      # imports the real HF archive into a temp dir
    python bench/serve_bench.py --data-dir DIR --seconds 20 --paths / /api/daily_papers

The load generator is a small asyncio HTTP/1.1 client in this process (it shares the machine's
CPUs with the server, so figures are a lower bound). Prints one line per path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT.parent / "shared" / "data" / "hf-daily-papers"


async def _worker(port: int, path: str, deadline: float, lat: list[float], bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length is not None:
            await reader.readexactly(length)
        else:  # chunked
            while True:
                size = int((await reader.readline()).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        lat.append(time.perf_counter() - t0)
        if status != 200:
            bad.append(status)
    writer.close()


async def hammer(port: int, path: str, connections: int, seconds: float) -> str:
    lat: list[float] = []
    bad: list[int] = []
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(_worker(port, path, deadline, lat, bad) for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000

    return (
        f"{path}: {len(lat) / elapsed:.0f} req/s, p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, "
        f"p99 {pct(0.99):.1f} ms ({len(lat)} requests, {len(bad)} non-200, {connections} conns)"
    )


def rss_mb(pid: int) -> dict[int, float]:
    """RSS of `pid` and its children (uvicorn's workers), MB."""
    out: dict[int, float] = {}
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out[p] = int(line.split()[1]) / 1024
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, help="existing data dir (default: temp + archive)")
    ap.add_argument("--paths", nargs="+", default=["/", "/api/daily_papers"])
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, help="default: paperfeed serve's default")
    ap.add_argument("--archive", type=Path, default=ARCHIVE, help="HF daily-papers dir/tar.gz")
    args = ap.parse_args()
    env = dict(os.environ, PAPERFEED_ENVIRONMENT="development", PYTHONPATH=str(ROOT))
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="pf-serve-bench-"))
        archive = args.archive
        if archive.is_dir():
            archive = next(archive.glob("*.tar.gz"), archive)
        if not archive.exists():
            sys.exit(f"no --data-dir and no HF archive at {args.archive}")
        env["PAPERFEED_DATA_DIR"] = str(data_dir)
        subprocess.run([sys.executable, "-m", "paperfeed", "init"], env=env, check=True)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "paperfeed", "ingest", "hf-daily", "--from", str(archive)],
            env=env, check=True,
        )
        print(f"imported {archive.name} in {time.perf_counter() - t0:.1f} s")
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    port = free_port()
    cmd = [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    server = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("server did not start")
                time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish starting
        for path in args.paths:
            asyncio.run(hammer(port, path, args.connections, 1.0))  # warm-up
            print(asyncio.run(hammer(port, path, args.connections, args.seconds)))
        print("rss MB:", {p: round(mb) for p, mb in rss_mb(server.pid).items()})
        print(f"load average after: {os.getloadavg()}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
