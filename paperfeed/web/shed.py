"""After forking the workers, the supervisor re-executes itself lean and adopts them.

Why: the supervisor preloads the app and the query model so that forked workers share those
pages (web/preload.py), but CPython 3.11 writes to every object a request touches (reference
counts, the adaptive interpreter's code caches), so each worker soon has its own copy of those
pages, and the supervisor keeps the originals for nothing: with two workers ~60 MB of the
supervisor's memory was private to it (bench/serve_memory.py --maps), which is why "the second
worker" (1 -> 2 workers, supervisor included) added ~120 MB where each further one adds ~75.
Once the workers exist, the supervisor only watches them. So right after forking them it
`exec`s a small supervisor (uvicorn's, ~16 MB: no app, no model, no CLI) under the same pid:
the preloaded pages are dropped from it, the workers keep theirs (still shared between them),
and the new image adopts the workers, their health-check pipes and the listening socket.
A worker that dies later is replaced by a *spawned* one (uvicorn's default: it loads the app
and the model itself and shares nothing), as is every worker on SIGHUP: correct, if larger.

Signals: blocked from before the exec until the new image has its handlers (a blocked signal
stays pending across exec), so a SIGTERM in between is not lost; the metric-file directory
that `serve` created is removed by the new image at exit. Where anything of this cannot be
done (no fork, `--with-jobs`, exec refused), the supervisor stays as it was.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess, Process

logger = logging.getLogger("uvicorn.error")
_SIGNALS = set(SIGNALS)


class _Child:
    """A worker this process did not start through multiprocessing (it was forked before
    the exec), with the part of multiprocessing.Process that uvicorn's supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._exitcode: int | None = None

    @property
    def exitcode(self) -> int | None:
        if self._exitcode is None:
            self._reap(os.WNOHANG)
        return self._exitcode

    def _reap(self, flags: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped elsewhere: gone, its status unknown
            self._exitcode = 1
            return
        if pid == self.pid:
            self._exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        if self._exitcode is None:
            self._reap(0)

    def kill(self) -> None:
        if self.exitcode is None:
            os.kill(self.pid, signal.SIGKILL)

    def start(self) -> None:  # pragma: no cover - adopted workers are already running
        raise RuntimeError("an adopted worker is already running")


class _Adopted(Process):
    """uvicorn's handle on a worker, rebuilt from the pid and pipe ends it had before the exec."""

    def __init__(self, config: Config, pid: int, parent_fd: int, child_fd: int) -> None:
        self.config = config
        self._server = None
        self.parent_conn = Connection(parent_fd)
        self.child_conn = Connection(child_fd)
        self.process = _Child(pid)  # type: ignore[assignment]


def shed(supervisor: Multiprocess, metrics_dir: Path | None) -> None:
    """Replace this (supervising) process's image by a lean supervisor that adopts the workers
    just forked. Returns only if that cannot be done now; the caller then goes on supervising."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    if supervisor.signal_queue or supervisor.should_exit.is_set():
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # a stop was asked: just go on
        return
    fds = [s.fileno() for s in supervisor.sockets]
    workers = []
    for p in supervisor.processes:
        workers.append((p.pid, p.parent_conn.fileno(), p.child_conn.fileno()))
    state = {"config": supervisor.config, "sockets": fds, "workers": workers,
             "metrics_dir": str(metrics_dir) if metrics_dir else None}
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(write_fd, "wb") as fh:
            pickle.dump(state, fh)
        for fd in [read_fd, *fds, *(w[1] for w in workers), *(w[2] for w in workers)]:
            os.set_inheritable(fd, True)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-P", "-m", "paperfeed.web.shed", str(read_fd)])
    except (OSError, pickle.PicklingError) as exc:
        os.close(read_fd)
        logger.warning("serve: the supervisor keeps its preloaded memory (%s)", exc)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def adopt(state_fd: int) -> None:
    """The lean supervisor: adopt the workers described on `state_fd` and supervise them as
    uvicorn does, until SIGTERM or SIGINT; then remove serve's metric-file directory."""
    with os.fdopen(state_fd, "rb") as fh:
        state: dict[str, Any] = pickle.load(fh)
    config: Config = state["config"]
    config.configure_logging()
    sockets = [socket.socket(fileno=fd) for fd in state["sockets"]]
    supervisor = Multiprocess(config, sockets)  # its signal handlers are set from here on
    supervisor.processes = [_Adopted(config, *w) for w in state["workers"]]
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    try:
        while not supervisor.should_exit.wait(0.5):
            supervisor.handle_signals()
            supervisor.keep_subprocess_alive()
        supervisor.terminate_all()
        supervisor.join_all()
        logger.info("Stopping parent process [%d]", os.getpid())
    finally:
        if state["metrics_dir"]:
            from paperfeed.metrics import remove_multiprocess_dir

            remove_multiprocess_dir(Path(state["metrics_dir"]))


if __name__ == "__main__":
    adopt(int(sys.argv[1]))
