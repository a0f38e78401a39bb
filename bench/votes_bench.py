"""200 concurrent upvotes on one paper against a live `paperfeed serve` -> exact count, votes/s.

Creates a fresh SQLite database with one paper and N members (each with a personal access
token), starts the real server (`python -m paperfeed serve`, uvicorn workers) on loopback, fires
N concurrent `POST /api/papers/{id}/upvote` requests (one per member), then a second round of
the same N requests (idempotence under concurrency), and checks the stored count and the votes
table both say exactly N.

    python bench/votes_bench.py [--members 200] [--workers 2] [--database-url URL | --postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from paperfeed.accounts.profile import create_api_token  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Author, Paper  # noqa: E402
from paperfeed.storage import users  # noqa: E402
from paperfeed.storage.db import connect, migrate, write  # noqa: E402
from paperfeed.storage.papers import get_paper, upsert_papers  # noqa: E402
from paperfeed.storage.schema import votes  # noqa: E402

PAPER = "2506.01234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(settings: Settings, members: int) -> list[str]:
    engine = connect(settings)
    migrate(engine)
    now = datetime(2025, 6, 16, 12)
    with write(engine) as conn:
        upsert_papers(conn, [Paper(id=PAPER, title="Bench paper", abstract="x",
                                   authors=[Author("A")], published_at=now, source="bench")],
                      now=now)
        created = [users.create_user(conn, email=f"m{i}@bench.example", now=now,
                                     username=f"m{i}") for i in range(members)]
    tokens = [create_api_token(engine, m, name="bench", now=now) for m in created]
    engine.dispose()
    return tokens


async def fire(base: str, tokens: list[str]) -> tuple[float, list[int]]:
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one(token: str) -> int:
            r = await client.post(f"/api/papers/{PAPER}/upvote",
                                  headers={"Authorization": f"Bearer {token}"})
            return r.status_code

        start = time.perf_counter()
        codes = await asyncio.gather(*(one(t) for t in tokens))
        return time.perf_counter() - start, list(codes)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL 16 with pgserver and use it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paperfeed-votes-") as tmp:
        pg = None
        if args.postgres:
            import pgserver

            pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
            args.database_url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        env = {
            **os.environ,
            "PAPERFEED_DATA_DIR": tmp,
            "PAPERFEED_ENVIRONMENT": "development",
            "PAPERFEED_SECRET_KEY": "bench-secret-key-bench-secret-key",
            "PAPERFEED_VOTE_IP_LIMIT_PER_MINUTE": "1000000",  # all requests come from loopback
            "PYTHONPATH": str(ROOT),
        }
        if args.database_url:
            env["PAPERFEED_DATABASE_URL"] = args.database_url
        settings = Settings(data_dir=Path(tmp), environment="development",
                            database_url=args.database_url)
        t0 = time.perf_counter()
        tokens = seed(settings, args.members)
        print(f"seeded 1 paper, {len(tokens)} members with tokens in "
              f"{time.perf_counter() - t0:.1f} s")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            elapsed, codes = asyncio.run(fire(base, tokens))
            again, codes2 = asyncio.run(fire(base, tokens))
            shown = httpx.get(f"{base}/api/papers/{PAPER}").json().get("upvotes")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        engine = connect(settings)
        with engine.connect() as conn:
            stored = get_paper(conn, PAPER)["member_upvotes"]  # type: ignore[index]
            rows = conn.execute(select(func.count()).select_from(votes)).scalar_one()
        engine.dispose()
        if pg is not None:
            pg.cleanup()

    ok = [c for c in codes if c == 200]
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {args.workers} workers, "
          f"{settings.redacted()['database_url'].split(':')[0]}")
    print(f"round 1: {len(codes)} concurrent upvotes (distinct members) in {elapsed:.2f} s "
          f"-> {len(codes) / elapsed:.0f} votes/s; status codes: "
          f"{ {c: codes.count(c) for c in set(codes)} }")
    print(f"round 2: the same {len(codes2)} upvotes again in {again:.2f} s "
          f"-> {len(codes2) / again:.0f} req/s; status codes: "
          f"{ {c: codes2.count(c) for c in set(codes2)} }")
    print(f"final count: papers.member_upvotes={stored}, votes rows={rows}, "
          f"API upvotes={shown}, expected {len(ok)}")
    exact = stored == rows == len(ok) == args.members and shown == args.members
    print("EXACT" if exact else "MISMATCH")
    raise SystemExit(0 if exact else 1)


if __name__ == "__main__":
    main()
