"""A soak under faults: mixed traffic against `paperfeed serve --workers 2 --with-jobs` on a
copy of a large catalog, with one worker SIGKILLed, a backup taken and the whole server
restarted in the middle; then every acknowledged write is looked for and the backup restored.

    python bench/soak.py --source /tmp/pf-75k --work /tmp/soak --minutes 10

Traffic (loopback, `--clients` threads, a new connection per request so both workers take
some): 70% reads (home, day/week/month lists, paper pages, the JSON API's daily papers and
paper), 20% searches (the search page and the API, every mode), 10% writes (upvotes and
submissions through the API with personal tokens, comments through the web form with a
session and its CSRF token, digest subscriptions through the API). Upstream services (Hugging
Face, arXiv, PDFs) are a loopback stand-in, so the scheduled jobs run without the network.

Faults, at fractions of the run: `--kill-at` SIGKILLs one uvicorn worker (the supervisor
replaces it), `--backup-at` runs `paperfeed backup` while traffic goes on, `--restart-at`
sends SIGTERM to the server, waits for it to drain and exit, and starts it again.

Report (stdout, and `WORK/soak-report.json`): requests by outcome, every 5xx and failed
connection with its time, p95 latency by route template per minute, the server's RSS (parent
and workers) per minute, acknowledged writes found afterwards (each vote, comment, submission
and subscription answered 2xx/303), and `paperfeed restore` of the backup into a new instance
with its checks (integrity, foreign keys, counts) and vote counters equal to the votes.
Exit status 1 when an acknowledged write is missing or the backup does not restore.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = "soak-secret-key-soak-secret-key-soak-secret"
WORDS = ["diffusion", "transformer", "graph neural network", "reinforcement learning",
         "language model", "retrieval", "vision", "robot", "quantization", "benchmark",
         "attention", "protein", "speech", "federated", "adversarial", "causal"]


# -- the instance ----------------------------------------------------------------------------


def env_for(data: Path, port: int, upstream: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({
        "PAPERFEED_DATA_DIR": str(data), "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_ENVIRONMENT": "development", "PAPERFEED_BASE_URL": f"http://127.0.0.1:{port}",
        "PAPERFEED_METRICS_ENABLED": "1", "PAPERFEED_ACCESS_LOG": "0",
        "PAPERFEED_HF_API_URL": upstream, "PAPERFEED_ARXIV_API_URL": upstream + "/arxiv",
        "PAPERFEED_ARXIV_OAI_URL": upstream + "/oai", "PAPERFEED_HTTP_RETRIES": "0",
        "PAPERFEED_THUMBNAIL_PDF_URL": upstream + "/pdf/{id}",
        "PAPERFEED_SHUTDOWN_GRACE_SECONDS": "30",
        # one IP (loopback) is every client here: per-IP and per-account limits out of the way
        "PAPERFEED_VOTE_LIMIT_PER_MINUTE": "100000", "PAPERFEED_VOTE_IP_LIMIT_PER_MINUTE": "100000",
        "PAPERFEED_COMMENT_LIMIT_PER_HOUR": "100000",
        "PAPERFEED_COMMENT_IP_LIMIT_PER_HOUR": "100000",
        "PAPERFEED_SUBMISSION_LIMIT_PER_DAY": "100000",
        "PAPERFEED_SUBMISSION_IP_LIMIT_PER_DAY": "100000",
        "PAPERFEED_SUBSCRIBE_RATE_PER_IP": "100000",
        "PAPERFEED_SUBSCRIBE_RATE_PER_ADDRESS": "100000",
    })
    return env


def paperfeed(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "paperfeed", *args], env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"paperfeed {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Fixture:
    """What the clients need: members (API token, session cookie), paper ids, days."""

    tokens: list[str]
    cookies: list[str]
    member_ids: list[int]
    papers: list[str]
    submittable: list[str]
    days: list[str]


def prepare(source: Path, work: Path, members: int, env: dict[str, str]) -> Fixture:
    from sqlalchemy import select

    from paperfeed.accounts.profile import create_api_token
    from paperfeed.accounts.signin import start_session
    from paperfeed.config import Settings
    from paperfeed.storage import users
    from paperfeed.storage.db import connect, write
    from paperfeed.storage.schema import featured, papers

    data = work / "data"
    if data.exists():
        shutil.rmtree(data)
    print(f"copying {source} to {data} ...", flush=True)
    shutil.copytree(source, data)
    paperfeed(env, "migrate")
    settings = Settings(data_dir=data, secret_key=SECRET,  # type: ignore[arg-type]
                        environment="development")
    engine = connect(settings)
    now = datetime.now()
    tokens, cookies, ids = [], [], []
    with write(engine) as conn:
        made = [users.create_user(conn, email=f"soak{i}@example.org", now=now,
                                  username=f"soak{i}", role="moderator") for i in range(members)]
    for member in made:
        tokens.append(create_api_token(engine, member, name="soak", now=now))
        cookies.append(start_session(engine, settings, member, now=now))
        ids.append(member.id)
    with engine.connect() as conn:
        days = [d.isoformat() for d in conn.execute(
            select(featured.c.day).distinct().order_by(featured.c.day.desc()).limit(60)
        ).scalars()]
        recent = list(conn.execute(select(featured.c.paper_id).where(
            featured.c.day >= days[-1]).order_by(featured.c.paper_id)).scalars())
        submittable = list(conn.execute(
            select(papers.c.id).where(papers.c.published_at.is_not(None),
                                      papers.c.id.not_in(select(featured.c.paper_id)))
            .order_by(papers.c.id.desc()).limit(5000)).scalars())
    engine.dispose()
    return Fixture(tokens, cookies, ids, recent, submittable, days)


class Upstream(BaseHTTPRequestHandler):
    """Hugging Face answers an empty day; arXiv and PDFs are not found."""

    def do_GET(self) -> None:  # noqa: N802
        if "daily_papers" in self.path:
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b"not here"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path, workers: int) -> None:
        self.env, self.port, self.log, self.workers = env, port, log, workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        began = time.monotonic()
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperfeed", "serve", "--port", str(self.port),
                 "--workers", str(self.workers), "--with-jobs"],
                env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        while True:
            try:
                if httpx.get(self.url("/readyz"), timeout=5).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() - began > 300:
                raise SystemExit(f"serve did not start; see {self.log}")
            time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def pids(self) -> list[int]:
        assert self.proc is not None
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(k) for k in kids)
        return out

    def workers_pids(self) -> list[int]:
        return [p for p in self.pids() if p != self.proc.pid]  # type: ignore[union-attr]

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> tuple[int, float]:
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=120)
        return code, time.monotonic() - began


# -- traffic ---------------------------------------------------------------------------------


@dataclass
class Log:
    """Everything the clients saw (appends from many threads: list.append is atomic)."""

    start: float = field(default_factory=time.monotonic)
    requests: list[tuple[float, str, int, float]] = field(default_factory=list)  # t, route, status, s
    votes: list[tuple[int, str]] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)  # id, body
    submissions: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    down: bool = False  # between the restart's SIGTERM and the new server's readiness

    def now(self) -> float:
        return time.monotonic() - self.start

    def event(self, what: str) -> None:
        self.events.append((self.now(), what))
        print(f"[{self.now():6.1f} s] {what}", flush=True)


class Client(threading.Thread):
    def __init__(self, n: int, server: Server, fx: Fixture, log: Log, stop: threading.Event,
                 seed: int) -> None:
        super().__init__(daemon=True)
        self.n, self.server, self.fx, self.log, self.stop_ev = n, server, fx, log, stop
        self.rng = random.Random(seed)
        self.http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0),
                                 follow_redirects=False)
        self.seq = 0

    def call(self, route: str, method: str, path: str, *, via: httpx.Client | None = None,
             **kw: Any) -> httpx.Response | None:
        t0 = time.monotonic()
        try:
            r = (via or self.http).request(method, self.server.url(path), **kw)
        except httpx.TransportError:
            down = self.log.down
            self.log.requests.append((t0 - self.log.start, route, -1 if down else 0,
                                      time.monotonic() - t0))
            self.stop_ev.wait(0.5)  # a server restarting (or a worker replaced): back off
            return None
        self.log.requests.append((t0 - self.log.start, route, r.status_code,
                                  time.monotonic() - t0))
        return r

    def run(self) -> None:
        while not self.stop_ev.is_set():
            x = self.rng.random()
            if x < 0.70:
                self.read()
            elif x < 0.90:
                self.search()
            else:
                self.write()

    def read(self) -> None:
        rng, fx = self.rng, self.fx
        pid, day = rng.choice(fx.papers), rng.choice(fx.days[:30])
        choice = rng.randrange(8)
        if choice == 0:
            self.call("/", "GET", "/")
        elif choice == 1:
            self.call("/papers/date/{day}", "GET", f"/papers/date/{day}")
        elif choice == 2:
            y, w, _ = datetime.fromisoformat(day).isocalendar()
            self.call("/papers/week/{week}", "GET", f"/papers/week/{y}-W{w:02d}")
        elif choice == 3:
            self.call("/papers/month/{month}", "GET", f"/papers/month/{day[:7]}")
        elif choice in (4, 5):
            self.call("/papers/{arxiv_id}", "GET", f"/papers/{pid}")
        elif choice == 6:
            self.call("/api/daily_papers", "GET", f"/api/daily_papers?date={day}")
        else:
            self.call("/api/papers/{paper_id}", "GET", f"/api/papers/{pid}")

    def search(self) -> None:
        q = self.rng.choice(WORDS)
        if self.rng.random() < 0.5:
            self.call("/search", "GET", "/search", params={"q": q})
        else:
            self.call("/api/papers/search", "GET", "/api/papers/search", params={"q": q})

    def write(self) -> None:
        rng, fx = self.rng, self.fx
        m = rng.randrange(len(fx.tokens))
        auth = {"Authorization": f"Bearer {fx.tokens[m]}"}
        x = rng.random()
        if x < 0.45:
            pid = rng.choice(fx.papers)
            r = self.call("/api/papers/{paper_id}/upvote", "POST",
                          f"/api/papers/{pid}/upvote", headers=auth)
            if r is not None and r.status_code == 200:
                self.log.votes.append((fx.member_ids[m], pid))
        elif x < 0.70:
            self.comment(m)
        elif x < 0.80:
            if not fx.submittable:
                return
            pid = fx.submittable.pop()
            r = self.call("/api/papers/submit", "POST", "/api/papers/submit", headers=auth,
                          json={"id": pid})
            if r is not None and r.status_code == 201:
                self.log.submissions.append(pid)
        else:
            self.seq += 1
            email = f"reader-{self.n}-{self.seq}@example.org"
            r = self.call("/api/subscriptions", "POST", "/api/subscriptions",
                          json={"email": email, "frequency": rng.choice(["daily", "weekly"])})
            if r is not None and r.status_code == 202:
                self.log.subscriptions.append(email)

    def comment(self, m: int) -> None:
        from paperfeed.accounts.signin import SESSION_COOKIE

        pid = self.rng.choice(self.fx.papers)
        # a browser's visit: the session cookie, the page (with its CSRF token and any cookie
        # it sets), then the form's POST
        with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0),
                          cookies={SESSION_COOKIE: self.fx.cookies[m]}) as browser:
            page = self.call("/papers/{arxiv_id}", "GET", f"/papers/{pid}", via=browser)
            found = (CSRF_RE.search(page.text)
                     if page is not None and page.status_code == 200 else None)
            if found is None:
                return
            self.seq += 1
            body = f"soak comment {self.n}-{self.seq} on {pid}"
            r = self.call("/papers/{arxiv_id}/comments", "POST", f"/papers/{pid}/comments",
                          via=browser, data={"body": body, "csrf_token": found.group(1)})
        if r is not None and r.status_code == 303:
            m2 = re.search(r"#comment-(\d+)$", r.headers.get("location", ""))
            if m2:
                self.log.comments.append((int(m2.group(1)), body))


# -- the run ---------------------------------------------------------------------------------


def take_backup(env: dict[str, str], target: Path, log: Log, out: dict[str, Any]) -> None:
    """`paperfeed backup` while the traffic goes on (in a thread: the plan keeps its times)."""
    log.event("backup started")
    began = time.monotonic()
    proc = paperfeed(env, "backup", str(target), check=False)
    line = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
    out.update(seconds=round(time.monotonic() - began, 1), line=line, ok=proc.returncode == 0)
    log.event(f"backup done in {out['seconds']} s: {line}")


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def verify_writes(data: Path, log: Log) -> dict[str, Any]:
    from sqlalchemy import select

    from paperfeed.config import Settings
    from paperfeed.storage.db import connect
    from paperfeed.storage.schema import comments, featured, subscriptions, votes

    engine = connect(Settings(data_dir=data, secret_key=SECRET,  # type: ignore[arg-type]
                              environment="development"))
    with engine.connect() as conn:
        have_votes = {(u, p) for u, p in conn.execute(select(votes.c.user_id, votes.c.paper_id))}
        have_comments = {i: b for i, b in conn.execute(select(comments.c.id, comments.c.body))}
        have_featured = set(conn.execute(select(featured.c.paper_id).where(
            featured.c.paper_id.in_(log.submissions))).scalars()) if log.submissions else set()
        have_subs = set(conn.execute(select(subscriptions.c.email)).scalars())
    engine.dispose()
    missing = {
        "votes": [v for v in set(log.votes) if v not in have_votes],
        "comments": [c for c in log.comments if have_comments.get(c[0]) != c[1]],
        "submissions": [s for s in log.submissions if s not in have_featured],
        "subscriptions": [e for e in log.subscriptions if e not in have_subs],
    }
    return {
        "acknowledged": {"votes": len(set(log.votes)), "comments": len(log.comments),
                         "submissions": len(log.submissions),
                         "subscriptions": len(log.subscriptions)},
        "missing": {k: v[:20] for k, v in missing.items()},
        "missing_counts": {k: len(v) for k, v in missing.items()},
    }


def check_restore(backup: Path, work: Path, base_env: dict[str, str]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from paperfeed.config import Settings
    from paperfeed.storage.db import connect
    from paperfeed.storage.schema import papers, votes

    target = work / "restored"
    if target.exists():
        shutil.rmtree(target)
    env = {**base_env, "PAPERFEED_DATA_DIR": str(target)}
    began = time.monotonic()
    proc = paperfeed(env, "restore", str(backup), check=False)
    out = {"ok": proc.returncode == 0, "seconds": round(time.monotonic() - began, 1),
           "output": (proc.stdout + proc.stderr).strip().splitlines()[-4:]}
    if proc.returncode != 0:
        return out
    engine = connect(Settings(data_dir=target, secret_key=SECRET,  # type: ignore[arg-type]
                              environment="development"))
    with engine.connect() as conn:
        counted = {p: n for p, n in conn.execute(select(votes.c.paper_id, func.count())
                                                 .group_by(votes.c.paper_id))}
        stored = {p: n for p, n in conn.execute(select(papers.c.id, papers.c.member_upvotes)
                                                .where(papers.c.member_upvotes > 0))}
    engine.dispose()
    out["vote_counters_match"] = counted == stored
    out["votes"] = sum(counted.values())
    out["ok"] = out["ok"] and out["vote_counters_match"]
    return out


def report(log: Log, rss: list[tuple[float, float]], minutes: float, bucket: float
           ) -> dict[str, Any]:
    by_status: dict[str, int] = defaultdict(int)
    for _, _, status, _ in log.requests:
        by_status[{0: "connection failed", -1: "refused during the restart"}.get(
            status, f"{status // 100}xx")] += 1
    failures = [(round(t, 1), route, status) for t, route, status, _ in log.requests
                if status == 0 or status >= 500]
    routes = sorted({r for _, r, _, _ in log.requests})
    n_buckets = int(minutes * 60 / bucket) + 1
    table: dict[str, list[float | None]] = {}
    counts: dict[str, int] = defaultdict(int)
    for route in routes:
        cells: list[list[float]] = [[] for _ in range(n_buckets)]
        for t, r, status, s in log.requests:
            if r == route and 0 < status < 500:
                cells[min(int(t / bucket), n_buckets - 1)].append(s)
                counts[route] += 1
        table[route] = [round(p95(c) * 1000) if c else None for c in cells]
    rss_cells: list[list[float]] = [[] for _ in range(n_buckets)]
    for t, mb in rss:
        rss_cells[min(int(t / bucket), n_buckets - 1)].append(mb)
    return {
        "requests": len(log.requests), "by_outcome": dict(by_status),
        "failures": failures, "p95_ms_by_route": table, "count_by_route": dict(counts),
        "rss_mb": [round(max(c)) if c else None for c in rss_cells],
        "events": [(round(t, 1), e) for t, e in log.events],
    }


def print_report(rep: dict[str, Any], bucket: float) -> None:
    print("\n== soak report ==")
    print(f"requests: {rep['requests']}  outcomes: {rep['by_outcome']}")
    for t, e in rep["events"]:
        print(f"  {t:7.1f} s  {e}")
    groups: dict[tuple[int, str], int] = defaultdict(int)
    for t, _route, status in rep["failures"]:
        groups[(int(t // 5) * 5, str(status or "connection failed"))] += 1
    print(f"5xx and failed connections outside the restart ({len(rep['failures'])}), "
          "by 5 s window:")
    for (t, kind), n in sorted(groups.items()):
        print(f"  {t:5d}-{t + 5:<5d} s  {kind}: {n}")
    width = len(rep["rss_mb"])
    head = " ".join(f"{int(i * bucket / 60):>5}m" if bucket >= 60 else f"{int(i * bucket):>5}s"
                    for i in range(width))
    print(f"\np95 ms by route per {bucket:.0f} s:\n{'route':38} {'n':>6} {head}")
    for route, cells in rep["p95_ms_by_route"].items():
        row = " ".join(f"{c:>6}" if c is not None else "     -" for c in cells)
        print(f"{route:38} {rep['count_by_route'].get(route, 0):>6} {row}")
    row = " ".join(f"{c:>6}" if c is not None else "     -" for c in rep["rss_mb"])
    print(f"{'RSS MB (server + workers, max)':38} {'':>6} {row}")
    print(f"\nwrites acknowledged: {rep['writes']['acknowledged']}")
    print(f"writes missing afterwards: {rep['writes']['missing_counts']}")
    print(f"backup: {rep['backup']}")
    print(f"restore of the backup: {rep['restore']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=Path("/tmp/pf-75k"),
                    help="a data directory to copy (never written)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/paperfeed-soak"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--members", type=int, default=40)
    ap.add_argument("--kill-at", type=float, default=0.3)
    ap.add_argument("--backup-at", type=float, default=0.45)
    ap.add_argument("--restart-at", type=float, default=0.6)
    ap.add_argument("--bucket", type=float, default=60, help="seconds per report column")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    env = env_for(args.work / "data", port, f"http://127.0.0.1:{upstream.server_address[1]}")
    fx = prepare(args.source, args.work, args.members, env)
    print(f"{len(fx.papers)} papers to read and vote on, {len(fx.days)} days, "
          f"{len(fx.tokens)} members", flush=True)

    server = Server(env, port, args.work / "serve.log", args.workers)
    took = server.start()
    log = Log()  # the clock starts with the traffic
    log.event(f"server up in {took:.1f} s (pids {server.pids()})")
    stop = threading.Event()
    rss: list[tuple[float, float]] = []

    def sample() -> None:
        while not stop.is_set():
            if server.proc is not None and server.proc.poll() is None:
                rss.append((log.now(), server.rss_mb()))
            stop.wait(5)

    threading.Thread(target=sample, daemon=True).start()
    clients = [Client(i, server, fx, log, stop, args.seed * 1000 + i) for i in range(args.clients)]
    for c in clients:
        c.start()

    total = args.minutes * 60
    backup_dir = args.work / "backup"
    if backup_dir.exists():
        shutil.rmtree(backup_dir)
    backup_out: dict[str, Any] = {}
    plan = sorted([(args.kill_at, "kill"), (args.backup_at, "backup"),
                   (args.restart_at, "restart")])
    for at, what in plan:
        while log.now() < at * total:
            time.sleep(0.2)
        if what == "kill":
            victim = server.workers_pids()[0]
            os.kill(victim, signal.SIGKILL)
            log.event(f"SIGKILL worker {victim}")
        elif what == "backup":
            threading.Thread(target=take_backup, args=(env, backup_dir, log, backup_out),
                             daemon=True).start()
        else:
            log.event("SIGTERM to the server (restart)")
            log.down = True
            code, secs = server.stop()
            log.event(f"server exited {code} after {secs:.1f} s; starting again")
            took = server.start()
            log.down = False
            log.event(f"server up again in {took:.1f} s")
    while log.now() < total:
        time.sleep(0.5)
    stop.set()
    for c in clients:
        c.join(timeout=90)
    while "ok" not in backup_out and backup_dir.parent.exists():
        time.sleep(1)  # a backup still running finishes before the server stops
    code, secs = server.stop()
    log.event(f"end: server exited {code} after {secs:.1f} s")
    upstream.shutdown()

    rep = report(log, rss, args.minutes, args.bucket)
    rep["writes"] = verify_writes(args.work / "data", log)
    rep["backup"] = backup_out
    rep["restore"] = check_restore(backup_dir, args.work, env) if backup_out.get("ok") else {
        "ok": False, "output": ["no backup"]}
    (args.work / "soak-report.json").write_text(json.dumps(rep, indent=1))
    print_report(rep, args.bucket)
    bad = any(rep["writes"]["missing_counts"].values()) or not rep["restore"].get("ok")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
