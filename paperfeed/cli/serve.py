"""`paperfeed serve`: run the web app under uvicorn (optionally on the demo corpus)."""

from __future__ import annotations

import logging
import os
import sys

import typer

from paperfeed import baseurl
from paperfeed.baseurl import is_wildcard, listen_url
from paperfeed.cli.common import use_demo_instance
from paperfeed.config import Settings
from paperfeed.errors import ConfigError, SchemaOutOfDate
from paperfeed.logs import uvicorn_config
from paperfeed.mail import mail_destination
from paperfeed.metrics import remove_multiprocess_dir, use_multiprocess_dir
from paperfeed.storage.db import check_schema, connect, migrate, missing_database
from paperfeed.web.server import run_server


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Development mode on the bundled demo corpus (created if needed), in its own "
        "data directory (~/.local/share/paperfeed-demo) unless PAPERFEED_DATA_DIR is set.",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, help="Worker processes (default: PAPERFEED_WORKERS, 2)."
    ),
    with_jobs: bool = typer.Option(
        False,
        "--with-jobs",
        help="Also run ingestion (hourly) and digests (PAPERFEED_DIGEST_SEND_HOUR) in this "
        "process, for single-machine installs (see README for cron/systemd instead).",
    ),
) -> None:
    """Serve the site and the JSON API. Refuses an out-of-date schema (run `paperfeed migrate`)."""
    import uvicorn

    if demo:
        use_demo_instance()  # its own data directory, inherited by the workers
    settings = Settings()
    settings.secret()  # refuse a placeholder secret before binding the port
    _check_address(host, port)  # before the demo loads and the workers start
    url = listen_url(host, port)
    derived = "base_url" not in settings.model_fields_set
    if derived:
        # Workers, and the scheduler below, build links on the address we listen on.
        os.environ["PAPERFEED_BASE_URL"] = url
        settings = Settings()
    if not demo and (missing := missing_database(settings)) is not None:
        raise SchemaOutOfDate(
            f"storage: no paperfeed instance at {missing.parent}; create one with `paperfeed "
            "init`, or try the demo with `paperfeed serve --demo`"
        )
    engine = connect(settings)
    if demo:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(engine)
        from paperfeed.demo import load_demo

        summary = load_demo(engine, settings=settings, progress=True)
        typer.echo(f"demo corpus: {summary.line()}")
    check_schema(engine)
    if derived:
        baseurl.record(settings.data_dir, url)  # for CLI commands beside this server
        _explain_derived_base_url(settings, url, host)
    # Before anything imports prometheus_client: every worker (and the scheduler here) writes
    # its metrics to files in this directory, summed at /metrics.
    metrics_dir = use_multiprocess_dir()
    scheduler = None
    if with_jobs:
        from paperfeed.jobs import describe_jobs, start_scheduler

        scheduler = start_scheduler(connect(settings), settings)  # its own engine
        typer.echo(f"scheduled jobs: {describe_jobs(scheduler)}")
    engine.dispose()
    n = workers or settings.workers
    # Web workers do one small matrix product per request on many request threads: one BLAS /
    # OpenMP thread each (no idle helper threads; see web.app.single_threaded_math). Set before
    # the workers start, so their numpy never creates the pool; an operator's value wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    forked = False
    if n > 1 and not with_jobs:
        # One copy of the code and the query model for every worker (web/preload.py).
        from paperfeed.web.preload import preload_and_fork

        forked = preload_and_fork(settings)
    if demo:
        typer.echo(f"demo data in {settings.data_dir}: `paperfeed` commands in another shell "
                   "use it while you have no instance of your own (or: paperfeed --demo ...)")
    typer.echo(f"mail goes to {mail_destination(settings)}"
               + ("" if settings.smtp_host else ": read it with `paperfeed outbox`"))
    where = " (all interfaces)" if is_wildcard(host) else ""
    typer.echo(f"paperfeed on {url}/{where}, links use {settings.base_url} "
               f"({n} worker{'s' if n > 1 else ''})")
    grace = settings.shutdown_grace_seconds
    config = uvicorn.Config(
        "paperfeed.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=n,
        log_config=uvicorn_config("warning"),  # applied in every worker process
        log_level="info",  # uvicorn.error at INFO: only its lifecycle lines pass (logs.py)
        access_log=False,
        timeout_graceful_shutdown=int(grace) if grace else None,
        # Forwarded headers are handled by the app, from PAPERFEED_TRUSTED_PROXIES only
        # (uvicorn's default would believe any local process or pass-through proxy).
        proxy_headers=False,
    )
    ended = True
    try:
        # Forked workers: the supervisor then sheds what it preloaded (web/shed.py).
        run_server(config, on_stop=scheduler.request_stop if scheduler else None,
                   shed=forked, metrics_dir=metrics_dir)
    finally:
        if scheduler is not None:
            ended = scheduler.stop(timeout=grace)
        remove_multiprocess_dir(metrics_dir)
    if not ended:
        # A job outlived the grace period (its lease is released, its committed batches
        # kept). Leave now: interpreter shutdown under a thread inside native code (the
        # embedding model) aborts the process ("terminate called without an active
        # exception", exit -6) instead of exiting.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _check_address(host: str, port: int) -> None:
    """Refuse in one line an address this machine cannot listen on (a port in use, a host
    that is not one of its addresses), before any work: uvicorn would only log it after the
    demo loaded and the workers were set up. A probe bind with SO_REUSEADDR, as uvicorn's."""
    import errno
    import socket

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"serve: cannot listen on --host {host!r} ({exc}); give an address "
                          "of this machine, e.g. 127.0.0.1 or 0.0.0.0") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"serve: {host}:{port} is already in use (another server?); "
                                  "stop it or choose another --port") from None
            raise ConfigError(f"serve: cannot listen on {host}:{port} "
                              f"({exc.strerror or exc})") from None


def _explain_derived_base_url(settings: Settings, url: str, host: str) -> None:
    if not settings.is_development:
        typer.echo(
            f"warning: PAPERFEED_BASE_URL is unset; links in mail and canonical links use "
            f"{url}, the address this server listens on. Set it to the site's public URL.",
            err=True,
        )
    elif is_wildcard(host):
        typer.echo(
            f"note: links in mail use {url}; set PAPERFEED_BASE_URL to the address other "
            "machines reach this one at.",
            err=True,
        )
