"""Prometheus metrics: the instruments every process records into, and the `/metrics` text.

Why lazy: prometheus-client decides at import time whether values live in this process or in
memory-mapped files shared by all workers (`PROMETHEUS_MULTIPROC_DIR`). `paperfeed serve`
sets that variable before any worker starts (`use_multiprocess_dir`), so the instruments are
built on first use, never at import, and every worker's (and the scheduler's) counts are
summed at scrape time. A process started another way (tests, plain uvicorn) keeps its values
in memory and exposes only its own.

Only counters and histograms are recorded per process: they sum correctly across workers and
survive a worker that died (its files stay). Values that describe the instance rather than a
process (papers awaiting embeddings, the catalog's size) are read from the database at scrape
time by `InstanceCollector`, cached for a few seconds.

Labels stay bounded: routes are templates (`/papers/{paper_id}`), never raw paths; search
modes, job names, ingest sources and outcomes are small fixed sets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Request latency buckets: pages answer in milliseconds, searches in tens, a cold start in
# seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.1, 1.0, 10.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Instruments:
    """The process's metric objects (prometheus_client Counter / Histogram)."""

    requests: Any
    request_seconds: Any
    search_seconds: Any
    ingest_papers: Any
    digest_messages: Any
    job_runs: Any
    job_seconds: Any
    registry: Any  # the in-process registry (used when not in multiprocess mode)


_instruments: Instruments | None = None
_lock = threading.Lock()


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def instruments() -> Instruments:
    """The metric objects of this process, built on first use."""
    global _instruments
    if _instruments is None:
        with _lock:
            if _instruments is None:
                _instruments = _build()
    return _instruments


def _build() -> Instruments:
    from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

    disable_created_metrics()  # the *_created series only double the scrape
    registry = CollectorRegistry(auto_describe=True)
    return Instruments(
        requests=Counter(
            "paperfeed_http_requests", "HTTP requests answered, by route template and status.",
            ["method", "route", "status"], registry=registry,
        ),
        request_seconds=Histogram(
            "paperfeed_http_request_duration_seconds",
            "Time to answer an HTTP request (until the last body byte is sent), by route.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
        ),
        search_seconds=Histogram(
            "paperfeed_search_duration_seconds",
            "Search latency by the mode asked (hybrid, keyword, semantic) and the one that "
            "answered (keyword when no model is loaded, none for an empty query).",
            ["mode", "answered_by"], buckets=LATENCY_BUCKETS, registry=registry,
        ),
        ingest_papers=Counter(
            "paperfeed_ingest_papers",
            "Papers imported by this server (scheduled imports, submissions), by outcome.",
            ["source", "outcome"], registry=registry,
        ),
        digest_messages=Counter(
            "paperfeed_digest_messages", "Digest messages handled, by frequency and outcome.",
            ["frequency", "outcome"], registry=registry,
        ),
        job_runs=Counter(
            "paperfeed_job_runs", "Scheduled job runs (serve --with-jobs), by outcome.",
            ["job", "outcome"], registry=registry,
        ),
        job_seconds=Histogram(
            "paperfeed_job_duration_seconds", "Duration of scheduled job runs.",
            ["job"], buckets=JOB_BUCKETS, registry=registry,
        ),
        registry=registry,
    )


# -- recording helpers ------------------------------------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    inst = instruments()
    inst.requests.labels(method, route, str(status)).inc()
    inst.request_seconds.labels(method, route).observe(seconds)


def observe_search(mode: str, answered_by: str, seconds: float) -> None:
    instruments().search_seconds.labels(mode, answered_by).observe(seconds)


def count_ingest(source: str, outcomes: dict[str, int]) -> None:
    inst = instruments()
    for outcome, n in outcomes.items():
        if n:
            inst.ingest_papers.labels(source, outcome).inc(n)


def count_digest(frequency: str, outcomes: dict[str, int]) -> None:
    inst = instruments()
    for outcome, n in outcomes.items():
        if n:
            inst.digest_messages.labels(frequency, outcome).inc(n)


def observe_job(job: str, outcome: str, seconds: float) -> None:
    inst = instruments()
    inst.job_runs.labels(job, outcome).inc()
    inst.job_seconds.labels(job).observe(seconds)


# -- exposition ------------------------------------------------------------------------------


class InstanceCollector:
    """Gauges of the instance read from the database at scrape time (cached `ttl` seconds):
    papers in the catalog and papers awaiting embeddings for the configured model."""

    def __init__(self, read: Callable[[], dict[str, float]], ttl: float = 10.0) -> None:
        self._read = read
        self._ttl = ttl
        self._cached: tuple[float, dict[str, float]] | None = None
        self._lock = threading.Lock()

    def values(self) -> dict[str, float]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self._ttl:
                self._cached = (now, self._read())
            return self._cached[1]

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            values = self.values()
        except Exception:  # noqa: BLE001 - an unreachable database must not break /metrics
            values = {}
        up = GaugeMetricFamily("paperfeed_database_up", "1 when the database answered the scrape.")
        up.add_metric([], 1.0 if values else 0.0)
        yield up
        for name, help_text in (
            ("papers", "Papers in the catalog."),
            ("embeddings_pending", "Papers awaiting an embedding by the configured model."),
        ):
            if name in values:
                family = GaugeMetricFamily(f"paperfeed_{name}", help_text)
                family.add_metric([], values[name])
                yield family


def render(extra: list[Any]) -> tuple[bytes, str]:
    """The Prometheus text exposition of every worker's metrics (or this process's) plus the
    collectors in `extra`."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    inst = instruments()
    if multiprocess():
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(inst.registry))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward:
    """Exposes another registry's metrics inside a fresh registry (so `extra` collectors are
    never registered twice on the process registry)."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self._registry.collect()


# -- serve's multiprocess directory ----------------------------------------------------------


def use_multiprocess_dir() -> Path | None:
    """Called by `serve` before any worker starts (and before prometheus_client is imported
    here): a fresh directory for the workers' metric files, unless the operator set one (then
    it is emptied, as prometheus-client asks at start). Returns the directory serve created and
    must remove at exit (None when the operator's)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for child in path.glob("*.db"):
            child.unlink(missing_ok=True)
        return None
    created = Path(tempfile.mkdtemp(prefix="paperfeed-metrics-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


def remove_multiprocess_dir(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


__all__ = [
    "InstanceCollector",
    "count_digest",
    "count_ingest",
    "instruments",
    "observe_job",
    "observe_request",
    "observe_search",
    "render",
    "use_multiprocess_dir",
]
