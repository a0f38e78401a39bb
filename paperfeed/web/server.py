"""Running uvicorn for `paperfeed serve`, with a hook called the moment a stop is asked.

`uvicorn.run` does the same, but gives no way to learn of SIGTERM until every worker has
drained. `serve --with-jobs` runs the scheduler in the supervising process, and it must stop
taking jobs (and ask a running one to end after its batch) while the workers drain, not after.
So this runs uvicorn's own supervisor (`Multiprocess`) or server with `on_stop` called from
their signal handling; the drain itself is uvicorn's (`timeout_graceful_shutdown`): a worker
stops accepting, finishes the requests in flight, and exits.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

Hook = Callable[[], None] | None


class _Supervisor(Multiprocess):
    on_stop: Hook = None
    shed: bool = False  # re-execute lean once the workers are forked (web/shed.py)
    metrics_dir: Path | None = None

    def init_processes(self) -> None:
        super().init_processes()
        if self.shed:
            from paperfeed.web.shed import shed

            shed(self, self.metrics_dir)  # returns only where it cannot be done

    def handle_term(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        super().handle_term()

    def handle_int(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        super().handle_int()


class _Server(uvicorn.Server):
    on_stop: Hook = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.on_stop is not None:
            self.on_stop()
        super().handle_exit(sig, frame)


def run_server(config: uvicorn.Config, *, on_stop: Hook = None, shed: bool = False,
               metrics_dir: Path | None = None) -> None:
    """Serve until SIGTERM or SIGINT, calling `on_stop` as soon as one arrives; returns after
    the workers drained (so the caller can finish its own shutdown). With `shed` (forked
    workers, no `on_stop`), the supervisor drops its preloaded memory once they are forked by
    re-executing itself lean (web/shed.py): this call then never returns, and the lean image
    removes `metrics_dir` at exit."""
    if config.workers > 1:
        sock = config.bind_socket()
        supervisor = _Supervisor(config, sockets=[sock])
        supervisor.on_stop = on_stop
        supervisor.shed = shed and on_stop is None
        supervisor.metrics_dir = metrics_dir
        supervisor.run()
        return
    config.load_app()
    server = _Server(config)
    server.on_stop = on_stop
    # uvicorn re-raises the signal that stopped it once it has drained; with these handlers
    # that lands here (calling on_stop again, harmless) instead of ending the process before
    # the caller's clean-up.
    previous = {sig: signal.signal(sig, _ignore(on_stop)) for sig in (signal.SIGTERM,
                                                                        signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _ignore(on_stop: Hook) -> Any:
    def handler(_sig: int, _frame: FrameType | None) -> None:
        if on_stop is not None:
            on_stop()

    return handler
