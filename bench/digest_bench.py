"""Digest throughput: one daily edition to N confirmed subscribers over loopback SMTP.

    python bench/digest_bench.py [--subscribers 10000]

The SMTP sink (aiosmtpd) runs in its own process so it does not share the sender's CPU time
slice (GIL); the sender is the real `send_edition` (claims, one reused SMTP connection, a
commit per state change) on a fresh SQLite file. Prints messages/s and the sender's peak RSS.
Papers: 10 real arXiv abstracts from ../shared/data when present, else synthetic text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-cs" / "sample_5000.jsonl.gz"
DAY = date(2025, 6, 16)


def _sink(port: int, ready: mp.Event, stop: mp.Event, count: mp.Value, cpu: mp.Value) -> None:  # type: ignore[valid-type]
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    cpu.value = time.process_time()
    controller.stop()


@dataclass
class SinkProcess:
    """The aiosmtpd sink running in its own process (its CPU apart from the sender's)."""

    port: int
    stop: Any
    count: Any  # mp.Value("i"): messages received
    cpu: Any  # mp.Value("d"): the sink's CPU seconds, set when it stops
    process: mp.Process

    def close(self) -> None:
        self.stop.set()
        self.process.join(10)


def start_sink() -> SinkProcess:
    """A sink on a free loopback port, ready to accept mail when this returns."""
    from tests.digests.smtp_sink import free_port

    port = free_port()
    ready, stop, count, cpu = mp.Event(), mp.Event(), mp.Value("i", 0), mp.Value("d", 0.0)
    process = mp.Process(target=_sink, args=(port, ready, stop, count, cpu), daemon=True)
    process.start()
    ready.wait(30)
    return SinkProcess(port, stop, count, cpu, process)


def _papers(n: int) -> list:
    from paperfeed.models import Author, Paper

    rows = []
    if SAMPLE.exists():
        with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
            for line in fh:
                rows.append(json.loads(line))
                if len(rows) >= n:
                    break
    papers = []
    for i in range(n):
        r = (
            rows[i]
            if i < len(rows)
            else {
                "id": f"2506.{i:05d}",
                "title": f"Synthetic paper {i}",
                "abstract": "Text. " * 150,
                "authors": ["A. Author", "B. Author"],
            }
        )
        papers.append(
            Paper(
                id=r["id"],
                title=r["title"],
                abstract=r["abstract"],
                authors=[Author(a) for a in r["authors"]],
                upstream_upvotes=100 - i,
                source="bench",
            )
        )
    return papers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller  # noqa: F401  (fail early if missing)

    from paperfeed.config import Settings
    from paperfeed.digests.editions import parse_edition
    from paperfeed.digests.send import send_edition
    from paperfeed.models import Featured
    from paperfeed.storage.db import connect, migrate, write
    from paperfeed.storage.papers import add_featured, upsert_papers
    from paperfeed.storage.schema import subscriptions

    sink = start_sink()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            environment="production",
            secret_key="bench-secret-key-not-a-placeholder",  # type: ignore[arg-type]
            base_url="https://papers.example.org",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            mail_from="paperfeed <digest@papers.example.org>",
        )
        engine = connect(settings)
        migrate(engine)
        now = datetime(2025, 6, 16, 12)
        papers = _papers(settings.digest_max_papers)
        with write(engine) as conn:
            upsert_papers(conn, papers, now=now)
            add_featured(
                conn,
                [Featured(p.id, DAY, submitted_at=now, source="bench") for p in papers],
                now=now,
            )
            conn.execute(
                subscriptions.insert(),
                [
                    {
                        "email": f"reader{i:05d}@example.org",
                        "frequency": "daily",
                        "status": "confirmed",
                        "created_at": now,
                        "confirmed_at": now,
                        "hard_bounces": 0,
                    }
                    for i in range(args.subscribers)
                ],
            )
        start, cpu_start = time.perf_counter(), time.process_time()
        report = send_edition(engine, settings, parse_edition(DAY.isoformat()))
        elapsed, sender_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        time.sleep(0.2)
    sink.close()
    print(report.line())
    print(f"subscribers: {args.subscribers}, received by the sink: {sink.count.value}")
    print(f"time: {elapsed:.1f} s, throughput: {report.sent / elapsed:.0f} messages/s")
    n = max(report.sent, 1)
    print(
        f"CPU per message: sender {sender_cpu / n * 1000:.2f} ms, SMTP sink {sink.cpu.value / n * 1000:.2f} ms "
        f"(CPU-bound ceiling with a core each: {n / max(sender_cpu, sink.cpu.value):.0f} messages/s)"
    )
    print(
        f"duplicate window (SMTP 250 -> 'sent' committed): mean "
        f"{report.window_total / n * 1000:.2f} ms, max {report.window_max * 1000:.1f} ms"
    )
    print(f"sender peak RSS: {rss_peak / 1024:.0f} MiB (whole process, setup included)")


if __name__ == "__main__":
    main()
