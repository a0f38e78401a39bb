"""`paperfeed serve` as operators run it (a real subprocess, two uvicorn workers): metrics
summed over workers (also across a worker SIGKILLed mid-run), JSON log lines with request ids,
and a graceful SIGTERM: requests in flight finish, a running job stops after its batch and
releases its lease, and the restarted server resumes the job."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.storage.schema import job_leases, job_state, papers, subscriptions
from tests.ops.serve_support import Served, hf_stand_in, running, serve_env


def _migrated(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    engine = connect(Settings(data_dir=data))
    migrate(engine)
    engine.dispose()
    return data


def _requests_total(body: str, route: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == "paperfeed_http_requests_total" and s.labels.get("route") == route:
                total += s.value
    return total


def _slow_post(url: str, path: str, body: bytes) -> socket.socket:
    """Open a connection and send a request's headers and half its body (a request in flight
    for as long as the test wants)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    raw = b"".join(chunks)
    status = int(raw.split(b" ", 2)[1])
    return status, raw


def test_serve_sums_metrics_logs_json_survives_a_killed_worker_and_stops_gracefully(
    tmp_path: Path,
) -> None:
    """One server's life: while the hourly import runs (held by the stand-in), requests are
    counted across both workers, logged as JSON with their request ids, a worker is SIGKILLed
    and replaced with its counts kept; then SIGTERM: a request in flight completes, the job
    ends after its committed batch and releases its lease; the restarted server resumes it."""
    data = _migrated(tmp_path)
    engine = connect(Settings(data_dir=data))
    with hf_stand_in(held=True) as hf:
        env = serve_env(data, PAPERFEED_HF_API_URL=hf.url, PAPERFEED_HTTP_RETRIES="0",
                        # the held fetch must outlast a loaded machine's slow steps below
                        PAPERFEED_HTTP_TIMEOUT_SECONDS="600",
                        PAPERFEED_THUMBNAIL_PDF_URL=hf.url + "/pdf/{id}",
                        PAPERFEED_SHUTDOWN_GRACE_SECONDS="60", PAPERFEED_METRICS_ENABLED="1",
                        PAPERFEED_LOG_FORMAT="json", PAPERFEED_ACCESS_LOG="1")
        served_ctx = running(tmp_path, env, "--workers", "2", "--with-jobs")
        served = served_ctx.__enter__()
        try:
            assert hf.asked.wait(60), served.text()  # the hourly import is running, held
            with engine.connect() as conn:
                lease = conn.execute(select(job_leases.c.name)).scalars().all()
            assert lease == ["ingest-hf-daily"]
            _metrics_logs_and_a_killed_worker(served)
            served.wait_log("Started server process", times=3, timeout=180)  # replacement up

            body = json.dumps({"email": "drained@example.org", "frequency": "daily"}).encode()
            sock = _slow_post(served.url, "/api/subscriptions", body)
            served.proc.send_signal(signal.SIGTERM)
            served.wait_log("Shutting down", times=2, timeout=120)  # both stopped accepting
            sock.sendall(body[len(body) // 2:])  # the request in flight completes
            status, raw = _read_response(sock)
            sock.close()
            assert status == 202, raw
            assert served.proc.poll() is None  # still waiting for the job's batch
            hf.release.set()  # the job's fetch answers: it commits its batch and stops
            assert served.proc.wait(timeout=120) == 0, served.text()
        finally:
            served_ctx.__exit__(None, None, None)
        log = served.text()
        assert "stopped for shutdown after the last committed batch" in log, log
        with engine.connect() as conn:
            assert conn.execute(select(job_leases)).all() == []  # lease released
            assert conn.execute(select(subscriptions.c.email)).scalars().all() == [
                "drained@example.org"]
            stored = conn.execute(select(papers.c.id)).scalars().all()
            assert len(stored) == 9  # the batch it was on is committed
            done = conn.execute(select(job_state.c.value).where(
                job_state.c.key == "job:ingest-hf-daily:last")).scalar_one_or_none()
        assert done is None  # ... but the job is not marked done: the next start resumes it

        hf.asked.clear()
        with running(tmp_path, env, "--workers", "1", "--with-jobs", name="restart") as again:
            assert hf.asked.wait(60), again.text()
            deadline = time.monotonic() + 60
            while done is None:
                assert time.monotonic() < deadline, again.text()
                time.sleep(0.1)
                with engine.connect() as conn:
                    done = conn.execute(select(job_state.c.value).where(
                        job_state.c.key == "job:ingest-hf-daily:last")).scalar_one_or_none()
        assert again.proc.returncode == 0
    engine.dispose()


def _metrics_logs_and_a_killed_worker(served: Served) -> None:
    served.wait_log("Started server process", times=2, timeout=180)  # both workers are up
    ids = []
    for i in range(40):  # a new connection each: both workers take some
        r = httpx.get(f"{served.url}/papers/2401.{i:05d}", timeout=30)
        assert r.status_code == 404
        ids.append(r.headers["x-request-id"])
    body = httpx.get(served.url + "/metrics", timeout=30).text
    assert _requests_total(body, "/papers/{arxiv_id}") == 40

    deadline = time.monotonic() + 30
    while True:  # the access lines of our 40 requests, one JSON object each
        lines = [json.loads(line) for line in served.text().splitlines() if line.startswith("{")]
        access = {rec["request_id"]: rec for rec in lines
                  if rec.get("logger") == "paperfeed.access"}
        if set(ids) <= set(access) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert set(ids) <= set(access)
    assert {access[i]["route"] for i in ids} == {"/papers/{arxiv_id}"}
    assert all(access[i]["status"] == 404 for i in ids)
    pids = {access[i]["pid"] for i in ids}
    assert len(pids) == 2, "both workers should have answered"

    os.kill(pids.pop(), signal.SIGKILL)  # one worker dies mid-run
    for i in range(10):
        r = httpx.get(f"{served.url}/papers/2402.{i:05d}", timeout=30)
        assert r.status_code == 404
    body = httpx.get(served.url + "/metrics", timeout=30).text
    assert _requests_total(body, "/papers/{arxiv_id}") == 50  # the dead worker's count too
    served.wait_log("Child process", timeout=180)  # uvicorn noticed, and replaces it
