"""What a web worker adds: total memory of `paperfeed serve --workers N` after one fixed load.

    python bench/serve_memory.py --data-dir /tmp/pf-pages-75k                  # 1, 2, 3 workers
    python bench/serve_memory.py --data-dir /tmp/pf-pages-75k --compare /tmp/mem-before
    python bench/serve_memory.py --data-dir /tmp/pf-pages-75k --workers 2 --maps

RSS counts a shared page in every process that maps it (a worker showed 2-4 GB of RSS for
~400 MB of PSS: the memory-mapped database and vector files), so each process is reported as
RSS, PSS (shared pages split between the processes mapping them), USS (private: what ending the
process gives back) and anonymous PSS (PSS without file pages), all from
/proc/<pid>/smaps_rollup. File pages are the OS page cache: one copy however many workers read
them, kept by the kernel with or without a worker (and evictable). So the figure issue 11's
target ("the second worker adds < 100 MB") is judged on is the **sum of anonymous PSS over
every serving process with 3 workers minus the same with 2**: what each further worker adds.
One worker is served by the `paperfeed serve` process itself; N > 1 by a supervisor that
preloads the app and model, forks N workers (web/preload.py) and then re-executes itself lean
(web/shed.py), so 1 -> 2, also printed, is a worker plus the supervisor (bench/README.md, "mem2",
"mem3"). The sum of PSS is printed too.

The load is a fixed list of requests, not a duration, so every run and both sides of
`--compare` do the same work whatever the machine's load: distinct searches (page and API),
distinct paper pages, every list page, and signed-in list and member pages (the 50 bench
members of bench/pages.py), from 8 client threads. Memory is read idle (after start) and
3 s after the load (a busy worker gives freed memory back every 2 s: what it keeps, not the
last burst's garbage). `--maps` includes the supervisor: its private pages are those every
worker has copied. `--maps` prints where each worker's anonymous memory sits (heap, anonymous
mappings, libraries), from /proc/<pid>/smaps. Reuses bench/pages.py's catalog, members and
server start; needs no wrk.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import queue
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pages  # bench/ is on sys.path: this file runs as a script

SETTLE = 3.0  # seconds after the load before reading memory (> web/heap.TRIM_EVERY)
ROUTES = ("search", "search-api", "paper", "home", "day", "week", "month")
memory = pages.memory  # RSS, PSS, USS and anonymous PSS in MB of a pid and its children


def maps(pid: int) -> dict[str, tuple[float, float]]:
    """Anonymous PSS and private-dirty MB of one process per kind of mapping (smaps)."""
    kinds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    name = "?"
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        head = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            path = head[5] if len(head) > 5 else ""
            if not path:
                name = "anonymous mappings (mmap: arenas, large arrays)"
            elif path.startswith("["):
                name = path
            elif ".so" in path:
                name = "lib " + re.sub(r"[-.].*$", "", Path(path).name)
            else:
                name = "file " + Path(path).suffix
        elif head[0] == "Anonymous:":
            kinds[name][0] += int(head[1]) / 1024
        elif head[0] == "Private_Dirty:":
            kinds[name][1] += int(head[1]) / 1024
    return {k: (v[0], v[1]) for k, v in kinds.items()}


def load(port: int, requests: list[tuple[str, str | None]], clients: int = 8) -> str:
    """Send every request once from `clients` threads (keep-alive); returns the errors."""
    todo: queue.Queue[tuple[str, str | None]] = queue.Queue()
    for r in requests:
        todo.put(r)
    errors: collections.Counter[str] = collections.Counter()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            try:
                path, cookie = todo.get_nowait()
            except queue.Empty:
                break
            try:
                conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    errors[f"{resp.status} {path.split('?')[0]}"] += 1
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ", ".join(f"{k}: {v}" for k, v in errors.most_common()) or "no errors"


def fixed_load(paths: dict[str, list[str]], cookies: list[str], n: int) -> list[tuple[str, str | None]]:
    """The same requests every run: `n` distinct searches (page, API) and paper pages, every
    list page anonymous and signed in, member pages, in a fixed interleaved order."""
    visitors = [f"pf_csrf=benchvisitor{k:04d}xxxxxxxxxxxxxxx" for k in range(50)]  # as pages.py
    members = [f"pf_session={c}; {visitors[i % 50]}" for i, c in enumerate(cookies)]
    out: list[tuple[str, str | None]] = []
    for route in ROUTES:
        urls = paths[route][:n] if route in ("search", "search-api", "paper") else paths[route]
        out += [(u, visitors[i % 50]) for i, u in enumerate(urls)]
        if route in ("home", "day", "week", "month", "paper"):
            out += [(u, members[i % len(members)]) for i, u in enumerate(urls[: n // 2 or 1])]
    out += [(u, c) for c in members for u in paths["member"]]
    return out


def total(mem: dict[int, dict[str, float]]) -> tuple[float, float]:
    return sum(m["pss"] for m in mem.values()), sum(m["anon"] for m in mem.values())


def describe(mem: dict[int, dict[str, float]]) -> str:
    return "; ".join(f"{pid}: RSS {m['rss']:.0f} PSS {m['pss']:.0f} USS {m['uss']:.0f} "
                     f"anon {m['anon']:.0f}" for pid, m in sorted(mem.items()))


def measure(label: str, env: dict[str, str], requests: list[tuple[str, str | None]],
            workers: list[int], show_maps: bool) -> dict[int, tuple[float, float]]:
    print(f"\n== {label}: {len(requests)} requests per run", flush=True)
    totals: dict[int, tuple[float, float]] = {}
    for n in workers:
        proc, port = pages.start_server(env, n)
        try:
            idle = memory(proc.pid)
            errors = load(port, requests)
            # what the workers keep, not the garbage of the last burst: a busy worker hands
            # freed memory back every 2 s (web/heap.py), so read after one more trim
            time.sleep(SETTLE)
            after = memory(proc.pid)
            totals[n] = total(after)
            print(f"{n} worker(s), idle: PSS {total(idle)[0]:.0f} MB, anonymous "
                  f"{total(idle)[1]:.0f} MB; after the load ({errors}): PSS "
                  f"{totals[n][0]:.0f} MB, anonymous {totals[n][1]:.0f} MB", flush=True)
            print("  per process (MB): " + describe(after), flush=True)
            if show_maps:
                for pid in sorted(after):
                    kinds = sorted(maps(pid).items(), key=lambda kv: -kv[1][0])
                    print(f"  {pid} anonymous / private dirty MB by mapping: " + "; ".join(
                        f"{k} {a:.1f}/{d:.1f}" for k, (a, d) in kinds if a >= 0.5 or d >= 0.5))
        finally:
            pages.stop(proc)
    for a, b in zip(workers, workers[1:], strict=False):
        print(f"{a} -> {b} workers adds {totals[b][0] - totals[a][0]:.0f} MB of PSS, "
              f"{totals[b][1] - totals[a][1]:.0f} MB anonymous", flush=True)
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/pf-pages-75k"))
    ap.add_argument("--size", choices=("quick", "full"), default="full")
    ap.add_argument("--shared-data", type=Path, default=pages.SHARED)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--distinct", type=int, default=300,
                    help="distinct searches (page and API) and paper pages per run")
    ap.add_argument("--maps", action="store_true", help="each worker's memory by mapping")
    ap.add_argument("--compare", type=Path, help="another checkout, measured first")
    args = ap.parse_args()
    pages.ensure_catalog(args.data_dir, args.size, args.shared_data)
    paths = pages.route_paths(args.data_dir)
    cookies = pages.ensure_members(args.data_dir, 50)
    requests = fixed_load(paths, cookies, args.distinct)
    runs = []
    if args.compare:
        other = args.compare.resolve()
        runs.append((f"compare {other}", pages.env_for(pages.compare_copy(args.data_dir, other),
                                                       other)))
    runs.append((f"this checkout {pages.ROOT}", pages.env_for(args.data_dir)))
    results = [measure(label, env, requests, args.workers, args.maps) for label, env in runs]
    if len(results) == 2:
        print("\n== side by side (compare -> this checkout): total anonymous MB")
        for n in args.workers:
            print(f"{n} worker(s): {results[0][n][1]:.0f} -> {results[1][n][1]:.0f}")
        for a, b in zip(args.workers, args.workers[1:], strict=False):
            print(f"{a} -> {b} adds: {results[0][b][1] - results[0][a][1]:.0f} -> "
                  f"{results[1][b][1] - results[1][a][1]:.0f} MB anonymous")


if __name__ == "__main__":
    sys.exit(main())
