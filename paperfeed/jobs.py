"""In-process scheduler for `paperfeed serve --with-jobs` (single-machine installs).

A daemon thread wakes every `tick_seconds` and runs the jobs that are due:

- `ingest-hf-daily`: once an hour, import today's Hugging Face daily papers, then take the
  post-ingest step every import takes (`postingest`: keyword counts, embeddings);
- `digest-daily`: on weekdays from `PAPERFEED_DIGEST_SEND_HOUR` (local time), today's edition;
- `digest-weekly`: on Sundays from that hour, this ISO week's edition;
- `purge-pending-subscribers`: once a day, delete subscriptions never confirmed within
  `PAPERFEED_SUBSCRIBE_PENDING_DAYS` (an address nobody confirmed is not kept);
- `alerts-match`: once an hour, match papers stored since the last run against the saved
  searches (ingest runs it too: this catches papers any other path stored);
- `alerts-daily` / `alerts-weekly`: with the digests, the saved-search alert emails;
- `keyword-counts` (SQLite): once a day, refresh the stored token document counts keyword
  search prunes common words with (`storage.search.refresh_token_docs`);
- `backup` (SQLite, when `PAPERFEED_BACKUP_DIR` is set): once a day from
  `PAPERFEED_BACKUP_HOUR`, a backup with retention (`backup.scheduled_backup`).

Each job runs under a lease in `job_leases`, so two processes (two `serve --with-jobs`, or
one plus cron) never run the same job at once, and remembers the last period it ran for in
`job_state` ("job:<name>:last"), so a restart does not re-run it. Digests are safe to re-run
anyway (deliveries make them exactly-once); the lease avoids duplicated work. Larger
installs run the same jobs from cron or systemd timers instead (README).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from paperfeed import metrics, shutdown
from paperfeed.config import Settings
from paperfeed.digests.editions import current_edition
from paperfeed.errors import PaperfeedError
from paperfeed.feed import local_today
from paperfeed.models import utcnow
from paperfeed.storage import jobs as job_state
from paperfeed.storage import leases
from paperfeed.storage.db import is_sqlite, write

log = logging.getLogger(__name__)
LEASE_SECONDS = 3600
RETRY_AFTER_FAILURE = timedelta(minutes=10)


@dataclass(frozen=True)
class Job:
    """`due(now)` returns the period key to run for (e.g. an edition label) or None."""

    name: str
    due: Callable[[datetime], str | None]
    run: Callable[[str], str]


def _local(now: datetime, settings: Settings) -> datetime:
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(settings.timezone))


def hourly_key(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")


def daily_digest_due(now: datetime, settings: Settings) -> str | None:
    local = _local(now, settings)
    if local.isoweekday() >= 6 or local.hour < settings.digest_send_hour:
        return None
    return current_edition("daily", now, settings.timezone).label


def weekly_digest_due(now: datetime, settings: Settings) -> str | None:
    local = _local(now, settings)
    if local.isoweekday() != 7 or local.hour < settings.digest_send_hour:
        return None
    return current_edition("weekly", now, settings.timezone).label


def backup_due(now: datetime, settings: Settings) -> str | None:
    """Today's local date from `PAPERFEED_BACKUP_HOUR` on (one backup a day)."""
    local = _local(now, settings)
    return None if local.hour < settings.backup_hour else local.date().isoformat()


def default_jobs(engine: Engine, settings: Settings) -> list[Job]:
    def ingest(_key: str) -> str:
        from paperfeed.postingest import after_ingest
        from paperfeed.sources import hf_daily

        today = local_today(utcnow(), settings.timezone)
        summary = hf_daily.import_days(engine, settings, today, today, progress=False)
        metrics.count_ingest("hf-daily", {"new": summary.new, "updated": summary.updated,
                                          "unchanged": summary.unchanged,
                                          "rejected": summary.rejected})
        done = after_ingest(engine, settings)  # as `paperfeed ingest`: counts, embeddings
        for line in done.warnings:
            log.warning("job ingest-hf-daily: %s", line)
        return "; ".join([summary.line(), *done.lines])

    def match_alerts(_key: str) -> str:
        from paperfeed.alerts.run import match_new_papers

        return match_new_papers(engine, settings).line()

    def alerts(frequency: str) -> Callable[[str], str]:
        def run(label: str) -> str:
            from paperfeed.alerts.run import match_quietly
            from paperfeed.alerts.send import send_alerts
            from paperfeed.digests.editions import parse_edition

            match_quietly(engine, settings)  # what arrived since the last ingest
            return send_alerts(engine, settings, parse_edition(label, frequency)).line()

        return run

    def digest(frequency: str) -> Callable[[str], str]:
        def run(label: str) -> str:
            from paperfeed.digests.editions import parse_edition
            from paperfeed.digests.send import send_edition

            report = send_edition(engine, settings, parse_edition(label, frequency))
            metrics.count_digest(frequency, {"sent": report.sent, "failed": report.failed,
                                             "deferred": report.deferred,
                                             "skipped": report.skipped})
            return report.line()

        return run

    def backup(key: str) -> str:
        from paperfeed.backup import scheduled_backup

        return scheduled_backup(settings, engine, today=date.fromisoformat(key))

    def keyword_counts(_key: str) -> str:
        from paperfeed.storage.search import refresh_token_docs

        done = refresh_token_docs(engine, now=utcnow())
        return f"{done.tokens} tokens over {done.papers} papers in {done.seconds:.1f} s"

    def thumbnails(_key: str) -> str:
        from paperfeed.thumbnails import render_recent

        return render_recent(engine, settings, now=utcnow(), limit=200).line()

    def purge_pending(_key: str) -> str:
        from paperfeed.storage.subscriptions import purge_pending as purge

        before = utcnow() - timedelta(days=settings.subscribe_pending_days)
        with write(engine) as conn:
            n = purge(conn, before=before)
        return f"{n} never-confirmed subscriptions deleted"

    jobs = [
        Job("ingest-hf-daily", hourly_key, ingest),
        Job("thumbnails", hourly_key, thumbnails),
        Job("purge-pending-subscribers", lambda now: now.strftime("%Y-%m-%d"), purge_pending),
        Job("digest-daily", lambda now: daily_digest_due(now, settings), digest("daily")),
        Job("digest-weekly", lambda now: weekly_digest_due(now, settings), digest("weekly")),
        Job("alerts-match", hourly_key, match_alerts),
        Job("alerts-daily", lambda now: daily_digest_due(now, settings), alerts("daily")),
        Job("alerts-weekly", lambda now: weekly_digest_due(now, settings), alerts("weekly")),
    ]
    jobs.append(Job("keyword-counts", lambda now: now.strftime("%Y-%m-%d"), keyword_counts))
    if settings.backup_dir is not None and is_sqlite(engine):
        jobs.append(Job("backup", lambda now: backup_due(now, settings), backup))
    return jobs


class Scheduler:
    """Runs due jobs under leases; `tick(now)` is one pass (tests call it directly)."""

    def __init__(
        self, engine: Engine, settings: Settings, jobs: list[Job], *, holder: str | None = None
    ) -> None:
        from paperfeed.digests.send import sender_id

        self.engine = engine
        self.settings = settings
        self.jobs = jobs
        self.holder = holder or sender_id()
        self._failed_at: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: str | None = None  # the job running now (for a graceful stop)

    def tick(self, now: datetime) -> list[str]:
        """Run every due job not yet run for its period. Returns the names of jobs run."""
        ran = []
        for job in self.jobs:
            if self._stop.is_set():  # shutting down: start nothing new
                break
            key = job.due(now)
            if key is None or job_state.get_state(self.engine, f"job:{job.name}:last") == key:
                continue
            failed = self._failed_at.get(job.name)
            if failed is not None and now - failed < RETRY_AFTER_FAILURE:
                continue
            if not leases.acquire(
                self.engine, job.name, self.holder, ttl_seconds=LEASE_SECONDS, now=now
            ):
                log.info("job %s: another process holds its lease, skipping", job.name)
                continue
            started = time.perf_counter()
            outcome = "failure"
            self._running = job.name
            try:
                log.info("job %s (%s): starting", job.name, key)
                result = job.run(key)
                with write(self.engine) as conn:
                    job_state.set_state(conn, f"job:{job.name}:last", key, now=utcnow())
                log.info("job %s (%s): %s", job.name, key, result)
                ran.append(job.name)
                outcome = "success"
            except shutdown.Interrupted as exc:  # serve is stopping; resumes on the next start
                outcome = "interrupted"
                log.warning("job %s (%s): %s", job.name, key, exc)
            except PaperfeedError as exc:  # expected failures (upstream down, ...): one line
                self._failed_at[job.name] = now
                log.error("job %s (%s) failed: %s; retried in 10 minutes", job.name, key, exc)
            except Exception:  # noqa: BLE001 - a failed job must not stop the scheduler
                self._failed_at[job.name] = now
                log.exception("job %s (%s) failed; retried in 10 minutes", job.name, key)
            finally:
                self._running = None
                leases.release(self.engine, job.name, self.holder)
                metrics.observe_job(job.name, outcome, time.perf_counter() - started)
        return ran

    def start(self, tick_seconds: float = 30.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.tick(utcnow())
                self._stop.wait(tick_seconds)

        self._thread = threading.Thread(target=loop, name="paperfeed-jobs", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Start no new job and ask a running one to end after its current batch (safe from a
        signal handler: it only sets flags)."""
        self._stop.set()
        shutdown.request_stop()

    def stop(self, timeout: float = 5.0) -> bool:
        """Graceful stop: start no new job, ask a running one to end after its current batch
        (`shutdown.check`), wait up to `timeout` seconds. A job still running then has its
        lease released, so a restarted server takes it over at once instead of waiting out
        the lease; its committed batches are kept. Returns whether the thread ended."""
        self._stop.set()
        shutdown.request_stop()
        if self._thread is None:
            return True
        running = self._running
        if running is not None:
            log.info("job %s: stopping after its current batch (up to %.0f s)", running, timeout)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        running = self._running
        if running is not None:
            leases.release(self.engine, running, self.holder)
            log.warning("job %s did not finish its batch within %.0f s; lease released, the "
                        "next start resumes it", running, timeout)
        return False


def describe_jobs(scheduler: Scheduler) -> str:
    """The scheduler's jobs, for serve's start-up line."""
    return ", ".join(job.name for job in scheduler.jobs)


def start_scheduler(engine: Engine, settings: Settings) -> Scheduler:
    scheduler = Scheduler(engine, settings, default_jobs(engine, settings))
    scheduler.start()
    return scheduler


__all__ = ["Job", "Scheduler", "start_scheduler"]
