"""A process-wide "stop at the next safe point" flag for graceful shutdown.

`paperfeed serve` sets it on SIGTERM (or Ctrl-C) while a scheduled job runs in its process.
Long loops call `check(component)` right after each committed unit of work (an ingest batch,
an embedding batch, one digest message): it raises `Interrupted` once a stop was requested,
so the job ends with everything done so far committed and nothing half-written; the
scheduler then releases the job's lease and a restarted server resumes it (every job is
resumable and idempotent). Processes that never request a stop (CLI commands, tests) are not
affected.
"""

from __future__ import annotations

import threading

from paperfeed.errors import PaperfeedError

_requested = threading.Event()


class Interrupted(PaperfeedError):
    """A job stopped at a safe point because the server is shutting down."""

    status = 503


def request_stop() -> None:
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def reset() -> None:
    """Clear the flag (tests; a process that serves again after a stop)."""
    _requested.clear()


def check(component: str) -> None:
    """Raise `Interrupted` if a stop was requested (call only after committing a unit)."""
    if _requested.is_set():
        raise Interrupted(
            f"{component}: stopped for shutdown after the last committed batch; the next run "
            "resumes from there"
        )
