"""Where each page's time goes: every page kind of a live `paperfeed serve`, anonymous and signed in.

    python bench/pages.py --data-dir /tmp/pf-pages-10k --size quick          # ~14.6k papers
    python bench/pages.py --data-dir /tmp/pf-pages-75k --size full           # 80,317 papers
    python bench/pages.py ... --routes search home --clients 8 --profile search
    python bench/pages.py ... --compare /tmp/pages-before                    # A/B in one run
    python bench/pages.py ... --memory                                       # RSS, 1 vs 2 workers
    python bench/pages.py ... --routes paper --urls 20                       # a hot set (cached)

The first run builds the catalog in --data-dir through the real CLI: `ingest jsonl` (quick: the
random 5,000-paper arxiv-cs sample; full: all 74,728), `ingest hf-daily --from` the 580-day
archive (the featured lists), then `paperfeed index` (real embeddings: ~6 min for quick, ~30 min
for full on 2 idle cores). It then signs in --members members (real sessions, as a sign-in
creates them; each upvotes a few papers of the latest list) and starts `paperfeed serve` in
production mode (--workers, default 2).

Each route kind (home, day, week, month, paper, search, search-api, daily-api, paper-api,
member) is driven by wrk over loopback with 8 and 32 connections, each request taking the next
URL of a list (30 days, 2,000 distinct search queries, 400 papers...) and, signed in, the next
member's session cookie; anonymous requests carry a CSRF cookie, as a returning visitor's do.
Printed per run: req/s, p50/p95/p99, errors, and the server's CPU time per request (from /proc,
so it does not depend on how busy the machine is). `--profile ROUTE` samples the workers with
py-spy during that route's runs and prints the hottest functions (inclusive and own time).

`--compare ROOT` runs the same routes against a server started from another checkout (e.g.
`git worktree add /tmp/pages-before fbd9f2d`, with its own `.venv`: `python3 -m venv .venv &&
.venv/bin/pip install -e .`) on a copy of the catalog migrated down to that
checkout's schema, then prints both side by side with their ratio: figures taken in one run on
one (possibly busy) machine compare fairly even when their absolute values do not.
Needs `wrk` (Debian: apt-get install -y wrk) and ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from serve_bench import cpu_seconds  # bench/ is on sys.path: this file runs as a script

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ARXIV_FULL = "arxiv-cs/arxiv_cs_daily_2025-03_2026-07.jsonl.gz"
ARXIV_QUICK = "arxiv-cs/sample_5000.jsonl.gz"
HF = "hf-daily-papers/hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz"
LUA = Path(__file__).resolve().parent / "pages_wrk.lua"
SECRET = "bench-secret-" + "x" * 32
ROUTES = ("home", "day", "week", "month", "paper", "search", "search-api", "daily-api",
          "paper-api", "member")
MEMBER_ONLY = {"member"}


# -- the catalog ---------------------------------------------------------------------------
def env_for(data_dir: Path, root: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(data_dir),
        PAPERFEED_SECRET_KEY=SECRET,
        PAPERFEED_ENVIRONMENT="production",
        PYTHONPATH=str(root),
    )
    return env


def paperfeed(env: dict[str, str], *args: str) -> None:
    print("$ paperfeed", " ".join(args), flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperfeed", *args], env=env, check=True)
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)


def counts(db: Path) -> dict[str, int]:
    out = {"papers": 0, "featured": 0, "embeddings": 0}
    if not db.exists():
        return out
    with sqlite3.connect(db) as conn:
        for table in out:
            try:
                out[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.OperationalError:
                pass
    return out


def ensure_catalog(data_dir: Path, size: str, shared: Path) -> None:
    env = env_for(data_dir)
    db = data_dir / "paperfeed.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    paperfeed(env, "migrate")
    have = counts(db)
    arxiv_min = 74_000 if size == "full" else 5_000
    if have["papers"] < arxiv_min:
        arxiv = shared / (ARXIV_FULL if size == "full" else ARXIV_QUICK)
        paperfeed(env, "ingest", "jsonl", str(arxiv), "--no-progress", "--no-index")
    if have["featured"] < 9_000:
        paperfeed(env, "ingest", "hf-daily", "--from", str(shared / HF), "--no-progress",
                  "--no-index")
    have = counts(db)
    if have["embeddings"] < have["papers"]:
        paperfeed(env, "index", "--no-progress")  # resumable: a no-op when done
    print("catalog:", counts(db), flush=True)


def ensure_members(data_dir: Path, n: int) -> list[str]:
    """`n` members with a live session each (cookie values kept in the data dir), each having
    upvoted a few papers of the latest list, as people who use the site have."""
    saved = data_dir / f"bench-members-{n}.json"
    if saved.exists():
        return list(json.loads(saved.read_text()))
    os.environ.update(env_for(data_dir))
    sys.path.insert(0, str(ROOT))
    from paperfeed.accounts import voting
    from paperfeed.accounts.signin import start_session
    from paperfeed.config import Settings
    from paperfeed.models import utcnow
    from paperfeed.storage import feeds
    from paperfeed.storage import users as user_store
    from paperfeed.storage.db import connect, write

    settings = Settings()
    engine = connect(settings)
    now = utcnow()
    with engine.connect() as conn:
        day = feeds.latest_featured_day(conn)
        assert day is not None
        listed = [i.paper_id for i in feeds.list_featured(
            conn, start=day, end=day, now=now, half_life_hours=24, limit=50)]
    rng = random.Random(7)
    cookies = []
    for k in range(n):
        email = f"bench{k}@example.org"
        with engine.connect() as conn:
            member = user_store.get_by_email(conn, email)
        if member is None:
            with write(engine) as conn:
                member = user_store.create_user(conn, email=email, now=now,
                                                username=f"bench{k}", role="member")
        cookies.append(start_session(engine, settings, member, now=now))
        for pid in rng.sample(listed, min(3, len(listed))):
            voting.set_vote(engine, settings, member, pid, up=True, ip="127.0.0.1", now=now)
    engine.dispose()
    saved.write_text(json.dumps(cookies))
    return cookies


def route_paths(data_dir: Path, seed: int = 1) -> dict[str, list[str]]:
    """The URLs each route kind rotates over, read from the catalog (deterministic)."""
    rng = random.Random(seed)
    with sqlite3.connect(data_dir / "paperfeed.db") as conn:
        days = [r[0] for r in conn.execute(
            "SELECT DISTINCT day FROM featured WHERE NOT removed ORDER BY day DESC LIMIT 30")]
        ids = [r[0] for r in conn.execute(
            "SELECT paper_id FROM embeddings ORDER BY paper_id")]
        rows = conn.execute("SELECT title, abstract FROM papers ORDER BY id").fetchall()
    picks = rng.sample(ids, min(400, len(ids)))
    weeks = sorted({dt.date.fromisoformat(d).isocalendar()[:2] for d in days}, reverse=True)
    months = sorted({d[:7] for d in days}, reverse=True)
    queries = search_queries(rows, 2000, rng)
    q = urllib.parse.quote
    return {
        "home": ["/"],
        "day": [f"/papers/date/{d}" for d in days],
        "week": [f"/papers/week/{y}-W{w:02d}" for y, w in weeks],
        "month": [f"/papers/month/{m}" for m in months],
        "paper": [f"/papers/{p}" for p in picks],
        "search": [f"/search?q={q(s)}" for s in queries],
        "search-api": [f"/api/papers/search?q={q(s[:250])}" for s in queries],
        "daily-api": ["/api/daily_papers"] + [f"/api/daily_papers?date={d}" for d in days],
        "paper-api": [f"/api/papers/{p}" for p in picks],
        "member": ["/settings", "/submit"],
    }


def search_queries(rows: list[tuple[str, str]], n: int, rng: random.Random) -> list[str]:
    """What people type: titles, a first sentence, a few keywords (as bench/search_latency)."""
    out: list[str] = []
    for i, (title, abstract) in enumerate(rng.sample(rows, min(n, len(rows)))):
        title = " ".join((title or "").split())
        kind = i % 3
        if kind == 0:
            out.append(title)
        elif kind == 1:
            out.append(re.split(r"(?<=\.)\s", " ".join((abstract or "").split()), maxsplit=1)[0][:200])
        else:
            words = re.findall(r"[A-Za-z]{4,}", title)
            out.append(" ".join(rng.sample(words, min(3, len(words)))) or title)
    return [s for s in out if s.strip()]


# -- the server ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def python_for(env: dict[str, str]) -> str:
    """The checkout's own interpreter (`<root>/.venv`) when it has one: an editable install
    of this checkout would otherwise win over PYTHONPATH."""
    own = Path(env["PYTHONPATH"]) / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [python_for(env), "-m", "paperfeed", "serve", "--port", str(port),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=env["PYTHONPATH"])  # cwd comes first on sys.path
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: paperfeed serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                if r.status == 200 and (workers == 1 or len(workers_of(proc.pid)) >= workers):
                    break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        stop(proc)
        sys.exit("bench: server not ready within 120 s")
    time.sleep(1.0)  # every worker finishes its start
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                stack += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes: the supervisor's children, forked (web/preload.py) or
    spawned (spawn_main), less multiprocessing's resource tracker; with one worker uvicorn
    serves in the `paperfeed serve` process itself."""
    out = []
    for p in tree(pid)[1:]:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmd:
            out.append(p)
    return out or [pid]


def memory(pid: int) -> dict[int, dict[str, float]]:
    """RSS, PSS and private (USS) MB of each serving process (smaps_rollup)."""
    out: dict[int, dict[str, float]] = {}
    for p in tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        kb = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]
              if line.split()[-1] == "kB"}
        out[p] = {
            "rss": kb.get("Rss", 0) / 1024,
            "pss": kb.get("Pss", 0) / 1024,
            "uss": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024,
            # the process's own memory (heap, model, Python objects), shared ones split: file
            # pages (the database and index files, mapped) are the OS page cache, one copy
            # however many processes read them, kept by the kernel with or without a worker
            "anon": kb.get("Pss_Anon", kb.get("Anonymous", 0)) / 1024,
        }
    return out


# -- load ------------------------------------------------------------------------------------
def run_wrk(port: int, paths: list[str], cookies: list[str], seconds: float,
            connections: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pf, cf = Path(tmp) / "paths", Path(tmp) / "cookies"
        pf.write_text("\n".join(paths) + "\n")
        cf.write_text("\n".join(cookies) + "\n" if cookies else "")
        env = {**os.environ, "BENCH_PATHS": str(pf), "BENCH_COOKIES": str(cf) if cookies else "",
               "BENCH_SEED": str(seed)}
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(LUA), f"http://127.0.0.1:{port}/"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = dict(json.loads(line[6:]))
    # the load generator's own CPU: it shares the cores with the server
    result["client_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime
                                                                    + before.ru_stime)
    return result


def warm(port: int, paths: list[str], cookie: str | None, n: int = 12) -> None:
    for path in paths[-n:]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        if cookie:
            req.add_header("Cookie", cookie)
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except OSError as exc:
            print(f"  warm-up {path}: {exc}", flush=True)


def profile_start(pids: list[int], seconds: float, out_dir: Path) -> list[subprocess.Popen[bytes]]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("bench: --profile needs py-spy (pip install py-spy)")
    return [subprocess.Popen(
        [spy, "record", "-p", str(p), "--format", "raw", "--rate", "250", "--nonblocking",
         "--duration", str(int(seconds) + 1), "-o", str(out_dir / f"{p}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in pids]


def profile_report(out_dir: Path, top: int = 25) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for f in out_dir.glob("*.txt"):
        for line in f.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            frames = [fr for fr in stack.split(";") if fr]
            frames = frames[1:] if frames and frames[0].startswith("process") else frames
            if not frames or "(threading.py" in frames[-1] and "wait" in frames[-1]:
                continue  # idle threads
            count = int(n)
            total += count
            for fr in set(frames):
                inclusive[_short(fr)] += count
            own[_short(frames[-1])] += count
    if not total:
        print("  profile: no samples")
        return
    print(f"  profile: {total} busy samples; inclusive share (top {top}):")
    for name, n in inclusive.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {name}")
    print("  own time:")
    for name, n in own.most_common(top // 2):
        print(f"    {100 * n / total:5.1f}%  {name}")


def _short(frame: str) -> str:
    m = re.match(r"(.*) \((.*?):(\d+)\)$", frame)
    if not m:
        return frame
    fn, path = m.group(1), m.group(2)
    path = re.sub(r".*/(site-packages|lib/python3\.\d+|paperfeed)/", r"\1/", path)
    return f"{fn} ({path})"


def bench_server(
    label: str, env: dict[str, str], args: argparse.Namespace, paths: dict[str, list[str]],
    cookies: list[str],
) -> dict[tuple[str, str, int], dict[str, float]]:
    proc, port = start_server(env, args.workers)
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    anon_cookies = [f"pf_csrf=benchvisitor{k:04d}xxxxxxxxxxxxxxx" for k in range(50)]
    try:
        pids = tree(proc.pid)
        print(f"\n== {label}: paperfeed serve --workers {args.workers} on port {port} "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        for route in args.routes:
            for auth in args.auth:
                if auth == "anon" and route in MEMBER_ONLY:
                    continue
                jar = [f"pf_session={c}; {anon_cookies[i % 50]}" for i, c in enumerate(cookies)]
                jar = jar if auth == "member" else anon_cookies
                warm(port, paths[route], jar[0])
                for clients in args.clients:
                    prof_dir = None
                    if args.profile == route:
                        prof_dir = Path(tempfile.mkdtemp(prefix=f"pf-prof-{route}-"))
                        profilers = profile_start(workers_of(proc.pid), args.seconds, prof_dir)
                    cpu0, load0 = cpu_seconds(pids), os.getloadavg()[0]
                    r = run_wrk(port, paths[route], jar, args.seconds, clients, seed=clients)
                    cpu = (cpu_seconds(pids) - cpu0) * 1000 / max(r["requests"], 1)
                    r["cpu_ms"], r["rps"] = cpu, r["requests"] / (r["duration_us"] / 1e6)
                    r["load"] = load0
                    errors = int(sum(r[k] for k in r if k.endswith("errors") or k == "timeouts"))
                    r["errors"] = errors
                    results[(route, auth, clients)] = r
                    print(f"{route:<11} {auth:<6} {clients:>3} clients  {r['rps']:7.1f} req/s  "
                          f"p50 {r['p50_us'] / 1000:6.1f} ms  p95 {r['p95_us'] / 1000:6.1f} ms  "
                          f"p99 {r['p99_us'] / 1000:6.1f} ms  server CPU {cpu:6.2f} ms/req  "
                          f"wrk {r['client_cpu_s'] * 1000 / max(r['requests'], 1):5.3f}  "
                          f"errors {errors}  {r['bytes'] / max(r['requests'], 1) / 1024:.0f} KB"
                          f"  load {load0:.1f}", flush=True)
                    if prof_dir is not None:
                        for p in profilers:
                            p.wait()
                        profile_report(prof_dir)
        mem = memory(proc.pid)
        print("memory per serving process (MB): " + "; ".join(
            f"{pid}: RSS {m['rss']:.0f} PSS {m['pss']:.0f} private {m['uss']:.0f} "
            f"anonymous {m['anon']:.0f}" for pid, m in sorted(mem.items())))
    finally:
        stop(proc)
    return results


def memory_mode(label: str, env: dict[str, str], paths: dict[str, list[str]],
                seconds: float) -> None:
    """Total memory with 1 and with 2 workers after the same load: the sum of PSS (every
    page, shared ones split between the processes mapping them) and the sum of anonymous PSS
    (the same without file pages: the memory-mapped database and index files are the OS page
    cache, which holds them once however many workers read them)."""
    print(f"\n== memory: {label}", flush=True)
    totals: dict[int, tuple[float, float]] = {}
    for n in (1, 2):
        proc, port = start_server(env, n)
        try:
            for route in ("search", "paper", "home", "day", "month", "search-api"):
                # the same mixed load as a run: 8 clients reach every worker
                run_wrk(port, paths[route], [], seconds, 8, seed=1)
            mem = memory(proc.pid)
            totals[n] = (sum(m["pss"] for m in mem.values()), sum(m["anon"] for m in mem.values()))
            print(f"{n} worker(s): total PSS {totals[n][0]:.0f} MB, anonymous {totals[n][1]:.0f} MB; "
                  + "; ".join(f"{pid}: RSS {m['rss']:.0f} PSS {m['pss']:.0f} private "
                              f"{m['uss']:.0f} anonymous {m['anon']:.0f}"
                              for pid, m in sorted(mem.items())), flush=True)
        finally:
            stop(proc)
    print(f"the second worker adds {totals[2][0] - totals[1][0]:.0f} MB (sum of PSS), "
          f"{totals[2][1] - totals[1][1]:.0f} MB of anonymous memory (sum of its PSS)")


def _without_debug_messages(app: Any) -> Any:
    """The app without TestClient's `http.response.debug` extension: with it, every template
    response sends its template and context to the client in a message that the client's
    closures keep in a reference cycle, so each search page left ~560 objects (its 50 result
    items, their Markup and rows) for the cyclic collector: ~1 ms of collections per page that
    a live server never pays (the "engine inside the page" ran ~1 ms slower than alone)."""
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        ext = scope.get("extensions") or {}
        if "http.response.debug" in ext:
            scope = {**scope, "extensions": {k: v for k, v in ext.items()
                                             if k != "http.response.debug"}}
        await app(scope, receive, send)

    return asgi


def engine_mode(data_dir: Path, paths: dict[str, list[str]], n: int = 200) -> None:
    """The search engine alone vs the whole page and API, in this process, CPU per request on
    the search route's first `n` queries (each new to the page's and API's caches, as in a
    run; TestClient, one thread). Each query is searched alone first (`SearchService.search`,
    what the page and API call, at the page's depth; the query-vector cache is emptied
    between, so the page embeds it again), then as a page, then through the API, while the
    CPU spent inside `SearchService.search` during the page and API requests is counted: the
    page's own cost is its CPU less the engine's CPU inside it, on the same queries."""
    os.environ.update(env_for(data_dir))
    sys.path.insert(0, str(ROOT))
    from fastapi.testclient import TestClient

    from paperfeed.config import Settings
    from paperfeed.web.app import create_app

    queries = [urllib.parse.unquote(p.split("q=", 1)[1]) for p in paths["search"][: n + 20]]
    app = create_app(Settings())
    client = TestClient(_without_debug_messages(app))
    from paperfeed.web.searching import SHARED_DEPTH, search_service

    class _Req:
        pass

    _Req.app = app  # type: ignore[attr-defined]

    service = search_service(_Req())  # type: ignore[arg-type]
    for q in queries[n:]:  # warm: model, index, caches of common words, templates
        service.search(q, limit=SHARED_DEPTH)
        client.get("/search", params={"q": q})
        client.get("/api/papers/search", params={"q": q[:250]})
    queries = queries[:n]
    inside = [0.0]
    search = service.search

    def counted(*args: object, **kwargs: object) -> object:
        t0 = time.process_time()
        try:
            return search(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            inside[0] += time.process_time() - t0

    def per_request(seconds: float) -> float:
        return seconds * 1000 / max(len(queries), 1)

    t0 = time.process_time()
    for q in queries:
        search(q, limit=SHARED_DEPTH)
    alone = per_request(time.process_time() - t0)
    print(f"in-process engine alone  {len(queries)} queries: {alone:6.1f} ms CPU per search "
          f"(SearchService.search, limit {SHARED_DEPTH})", flush=True)
    t0 = time.process_time()
    for _ in queries:
        client.get("/healthz")
    print(f"in-process floor          {len(queries)} requests: {per_request(time.process_time() - t0):6.1f}"
          " ms CPU per /healthz (TestClient + middleware + routing: the in-process figures "
          "below include it, a live server pays only its own ~0.3 ms part)", flush=True)
    service.search = counted  # type: ignore[method-assign]
    parts = _count_parts(app)
    for name, path, cut in (("page", "/search", None), ("api", "/api/papers/search", 250)):
        forget = getattr(getattr(service, "_embedder", None), "forget_queries", None)
        if forget is not None:
            forget()  # the page embeds its query as a visitor's first request would
        app.state.recent_searches = None  # the API searches again, as the page did
        inside[0] = 0.0
        parts.clear()
        t0 = time.process_time()
        for q in queries:
            assert client.get(path, params={"q": q[:cut] if cut else q}).status_code == 200
        total, engine = per_request(time.process_time() - t0), per_request(inside[0])
        print(f"in-process {name:<4} {len(queries)} queries: {total:6.1f} ms CPU per request, "
              f"of which the engine {engine:5.1f}: the {name} adds {total - engine:5.1f} ms "
              f"({total - alone:5.1f} over the engine alone)", flush=True)
        if parts["template"]:
            parts["template less cards"] = parts.pop("template") - parts["cards"]
        print("    of what it adds, ms CPU per request: " + ", ".join(
            f"{part} {per_request(spent):.2f}" for part, spent in parts.items() if spent)
            + " (the collector runs inside whatever allocates: its time is in the parts too;"
            " the rest is TestClient, routing, middleware and the route's own code)", flush=True)


def _count_parts(app: Any) -> collections.Counter[str]:
    """CPU spent inside what the search page and API add to the engine, summed per part while
    the caller clears and reads it: reading the results' rows, marking titles and snippets,
    the cards, the template (cards included), the API's entries, and the cyclic collector."""
    import gc
    import importlib

    spent: collections.Counter[str] = collections.Counter()

    def timed(part: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] += time.process_time() - t0
        return run

    for module, name, part in (
        ("paperfeed.web.searching", "papers_by_ids", "rows"),
        ("paperfeed.web.searching", "card_rows", "rows"),  # the page's cards (page5)
        ("paperfeed.web.searching", "comment_counts", "rows"),
        ("paperfeed.web.api.search", "entry_rows", "rows"),
        ("paperfeed.web.searching", "mark_results", "marking"),
        ("paperfeed.web.api.search", "mark_results", "marking"),
        ("paperfeed.web.api.search", "daily_entry_json", "entries"),
    ):
        owner = importlib.import_module(module)
        if hasattr(owner, name):
            setattr(owner, name, timed(part, getattr(owner, name)))
    templates = app.state.templates
    if "result_cards" in templates.env.globals:
        templates.env.globals["result_cards"] = timed("cards",
                                                      templates.env.globals["result_cards"])
    templates.TemplateResponse = timed("template", templates.TemplateResponse)
    started = [0.0]

    def collector(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            spent["collector"] += time.process_time() - started[0]

    gc.callbacks.append(collector)
    return spent


def compare_copy(data_dir: Path, other: Path) -> Path:
    """A copy of the catalog at `other`'s newest schema revision (downgraded with this
    checkout's migrations when ours is newer)."""
    copy = data_dir.with_name(data_dir.name + "-compare")
    if not (copy / "paperfeed.db").exists():
        shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("bench-*"))
    versions = other / "paperfeed" / "storage" / "migrations" / "versions"
    heads = sorted(p.name.split("_")[0] for p in versions.glob("0*.py"))
    code = (
        "import sys; from alembic import command; from paperfeed.config import Settings;"
        "from paperfeed.storage.db import connect, alembic_config;"
        "e = connect(Settings()); command.downgrade(alembic_config(e), sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, heads[-1]], env=env_for(copy), check=False,
                   capture_output=True)
    return copy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/pf-pages-10k"))
    ap.add_argument("--size", choices=("quick", "full"), default="quick")
    ap.add_argument("--shared-data", type=Path, default=SHARED)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--members", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--routes", nargs="+", default=list(ROUTES), choices=ROUTES)
    ap.add_argument("--auth", nargs="+", default=["anon", "member"], choices=("anon", "member"))
    ap.add_argument("--urls", type=int, default=0,
                    help="rotate over only the first N URLs of each route (a hot set: pages "
                    "served from the page cache) instead of all (mostly first renders)")
    ap.add_argument("--profile", choices=ROUTES, help="py-spy the workers during this route")
    ap.add_argument("--compare", type=Path, help="another checkout to run side by side (first)")
    ap.add_argument("--memory", action="store_true", help="only: total PSS with 1 vs 2 workers")
    ap.add_argument("--engine", action="store_true",
                    help="only: CPU of the search engine vs the search page/API, in-process")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: needs wrk (Debian: apt-get install -y wrk)")
    ensure_catalog(args.data_dir, args.size, args.shared_data)
    paths = route_paths(args.data_dir)
    if args.urls > 0:
        paths = {route: urls[: args.urls] for route, urls in paths.items()}
    if args.engine:
        engine_mode(args.data_dir, paths)
        return
    cookies = ensure_members(args.data_dir, args.members)
    runs = []
    if args.compare:
        other = args.compare.resolve()
        copy = compare_copy(args.data_dir, other)
        # sessions and votes live in the database: the copy has the same members
        runs.append((f"compare {other}", env_for(copy, other)))
    runs.append((f"this checkout {ROOT}", env_for(args.data_dir)))
    if args.memory:
        for label, env in runs:
            memory_mode(label, env, paths, args.seconds)
        return
    results = [bench_server(label, env, args, paths, cookies) for label, env in runs]
    if len(results) == 2:
        before, after = results
        print("\n== side by side (compare -> this checkout): p50 ms, server CPU ms/req, req/s")
        for key in after:
            if key not in before:
                continue
            b, a = before[key], after[key]
            route, auth, clients = key
            print(f"{route:<11} {auth:<6} {clients:>3}  p50 {b['p50_us'] / 1000:6.1f} -> "
                  f"{a['p50_us'] / 1000:6.1f} ({b['p50_us'] / max(a['p50_us'], 1):4.1f}x)  "
                  f"CPU {b['cpu_ms']:6.2f} -> {a['cpu_ms']:6.2f} "
                  f"({b['cpu_ms'] / max(a['cpu_ms'], 1e-3):4.1f}x)  "
                  f"req/s {b['rps']:7.1f} -> {a['rps']:7.1f} ({a['rps'] / max(b['rps'], 1e-3):4.1f}x)")


if __name__ == "__main__":
    main()
