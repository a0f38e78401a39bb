"""After forking the workers, the supervisor re-executes itself lean and adopts them.

Why: the supervisor preloads the app and the query model so that forked workers share those
pages (web/preload.py), but CPython 3.11 writes to every object a request touches (reference
counts, the adaptive interpreter's code caches), so each worker soon has its own copy of those
pages, and the supervisor keeps the originals for nothing: with two workers ~37 MB of the
supervisor's anonymous pages were private to it (bench/serve_memory.py --maps), part of why "the
second worker" (1 -> 2 workers, supervisor included) added ~120 MB where each further one adds
~70.
Once the workers exist, the supervisor only watches them. So right after forking them it
`exec`s a small supervisor under the same pid (`python -P -m paperfeed.web.shed`: no app, no
model, no CLI, not even uvicorn: ~9 MB): the preloaded pages are dropped from it, the workers
keep theirs (still shared between them), and the new image adopts the workers, their
health-check pipes and the listening socket. It pings them and stops them on SIGTERM/SIGINT
as uvicorn's supervisor does; anything else (a worker dead or hung, SIGHUP, SIGTTIN/SIGTTOU)
hands them over to uvicorn's supervisor, imported then. A worker started after that is
*spawned* (uvicorn's default: it loads the app and the model itself and shares nothing):
correct, if larger.

Signals: blocked from before the exec until the new image has its handlers (a blocked signal
stays pending across exec), so a SIGTERM in between is not lost; the metric-file directory
that `serve` created is removed by the new image at exit. Where anything of this cannot be
done (no fork, `--with-jobs`, exec refused), the supervisor stays as it was.
"""

from __future__ import annotations

import logging
import logging.config
import os
import pickle
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported by the lean image until it hands over to uvicorn
    from uvicorn.config import Config
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")
# A spawned worker imports the app and loads the model itself: seconds, more on a busy machine.
SPAWN_READY_SECONDS = 120
# uvicorn.supervisors.multiprocess.SIGNALS (tests/ops/test_serve_shed.py checks they match),
# spelled out so the lean image need not import uvicorn (and click: ~7 MB) to handle them.
SIGNALS = {getattr(signal, f"SIG{x}"): x
           for x in "INT TERM BREAK HUP QUIT TTIN TTOU USR1 USR2 WINCH".split()
           if hasattr(signal, f"SIG{x}")}


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


class _Worker:
    """An adopted worker as the lean loop sees it: its process and health-check pipe ends."""

    def __init__(self, pid: int, parent_fd: int, child_fd: int) -> None:
        self.process = _Child(pid)
        self.parent_conn = Connection(parent_fd)
        self.child_conn = Connection(child_fd)

    def healthy(self, timeout: float) -> bool:
        """Alive and answering uvicorn's ping (as uvicorn's Process.is_alive)."""
        if not self.process.is_alive():
            return False
        try:
            self.parent_conn.send(b"ping")
            if self.parent_conn.poll(timeout):
                self.parent_conn.recv()
                return True
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        return False

    def terminate(self) -> None:
        if self.process.exitcode is None:
            os.kill(self.process.pid, signal.SIGTERM)
            logger.info("Terminated child process [%d]", self.process.pid)
        self.parent_conn.close()
        self.child_conn.close()


def shed(supervisor: Multiprocess, metrics_dir: Path | None) -> None:
    """Replace this (supervising) process's image by a lean supervisor that adopts the workers
    just forked. Returns only if that cannot be done now; the caller then goes on supervising."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    if supervisor.signal_queue or supervisor.should_exit.is_set():
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # a stop was asked: just go on
        return
    config = supervisor.config
    fds = [s.fileno() for s in supervisor.sockets]
    workers = [(p.pid, p.parent_conn.fileno(), p.child_conn.fileno())
               for p in supervisor.processes]
    read_fd, write_fd = os.pipe()
    try:
        state = {"config": pickle.dumps(config), "log_config": config.log_config,
                 "log_level": config.log_level,
                 "healthcheck": getattr(config, "timeout_worker_healthcheck", 5),
                 "sockets": fds, "workers": workers,
                 "metrics_dir": str(metrics_dir) if metrics_dir else None}
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
    """The lean supervisor: adopt the workers described on `state_fd`, ping them as uvicorn
    does and stop them on SIGTERM or SIGINT; anything else (a worker dead or hung, SIGHUP,
    SIGTTIN...) hands them over to uvicorn's own supervisor, imported only then. Removes
    serve's metric-file directory at exit."""
    with os.fdopen(state_fd, "rb") as fh:
        state: dict[str, Any] = pickle.load(fh)
    _configure_logging(state["log_config"], state["log_level"])
    queue: list[int] = []
    for sig in SIGNALS:
        signal.signal(sig, lambda sig, _frame: queue.append(sig))
    workers = [_Worker(*w) for w in state["workers"]]
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    try:
        while True:
            time.sleep(0.5)
            stop = [s for s in queue if s in (signal.SIGINT, signal.SIGTERM)]
            if stop:
                logger.info("Received %s, exiting.", signal.Signals(stop[0]).name)
                for w in workers:
                    w.terminate()
                for w in workers:
                    logger.info("Waiting for child process [%d]", w.process.pid)
                    w.process.join()
                logger.info("Stopping parent process [%d]", os.getpid())
                return
            if queue or not all(w.healthy(state["healthcheck"]) for w in workers):
                _hand_over(state, workers, queue)
                return
    finally:
        if state["metrics_dir"]:
            from paperfeed.metrics import remove_multiprocess_dir

            remove_multiprocess_dir(Path(state["metrics_dir"]))


def _configure_logging(log_config: Any, log_level: Any) -> None:
    """uvicorn's Config.configure_logging for the dict config `serve` builds (logs.py);
    another kind of config is left to uvicorn itself."""
    if not isinstance(log_config, dict):
        from uvicorn.config import Config

        Config("paperfeed.web.app:app_from_env", log_config=log_config,
               log_level=log_level).configure_logging()
        return
    logging.config.dictConfig(log_config)
    if log_level is not None:
        level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
        for name in ("uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
            logging.getLogger(name).setLevel(level)


def _hand_over(state: dict[str, Any], workers: list[_Worker], queue: list[int]) -> None:
    """Supervise the workers with uvicorn's own supervisor from now on (it restarts a dead or
    hung worker, spawned, and handles SIGHUP, SIGTTIN and SIGTTOU), pending signals included."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    from uvicorn.supervisors.multiprocess import Multiprocess

    class Supervisor(Multiprocess):
        def restart_all(self) -> None:
            """uvicorn's SIGHUP, waiting for spawned workers as long as they take to load (it
            gives them the health-check timeout, 5 s, and keeps the old workers past it)."""
            saved = self.config.timeout_worker_healthcheck
            self.config.timeout_worker_healthcheck = max(saved, SPAWN_READY_SECONDS)
            try:
                super().restart_all()
            finally:
                self.config.timeout_worker_healthcheck = saved

    config: Config = pickle.loads(state["config"])
    sockets = [socket.socket(fileno=fd) for fd in state["sockets"]]
    supervisor = Supervisor(config, sockets)  # its signal handlers are set from here on
    supervisor.processes = [_adopted(config, w) for w in workers]
    supervisor.signal_queue.extend(queue)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    while not supervisor.should_exit.wait(0.5):
        supervisor.handle_signals()
        supervisor.keep_subprocess_alive()
    supervisor.terminate_all()
    supervisor.join_all()
    logger.info("Stopping parent process [%d]", os.getpid())


def _adopted(config: Config, worker: _Worker) -> Process:
    """uvicorn's handle on an adopted worker."""
    from uvicorn.supervisors.multiprocess import Process

    process = Process.__new__(Process)  # its __init__ makes a new pipe and process
    process.config = config
    process._server = None
    process.parent_conn = worker.parent_conn
    process.child_conn = worker.child_conn
    process.process = worker.process  # type: ignore[assignment]
    return process


if __name__ == "__main__":
    adopt(int(sys.argv[1]))
