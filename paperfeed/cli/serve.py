"""`paperfeed serve`: run the web app under uvicorn (optionally on the demo corpus)."""

from __future__ import annotations

import os

import typer

from paperfeed.cli.common import load_settings
from paperfeed.storage.db import check_schema, connect, migrate


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    demo: bool = typer.Option(
        False, "--demo", help="Development mode on the bundled demo corpus (created if needed)."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
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
        os.environ.setdefault("PAPERFEED_ENVIRONMENT", "development")
    settings = load_settings()
    settings.secret()  # refuse a placeholder secret before binding the port
    engine = connect(settings)
    if demo:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(engine)
        from paperfeed.demo import load_demo

        summary = load_demo(engine, settings=settings, progress=True)
        typer.echo(f"demo corpus: {summary.line()}")
    check_schema(engine)
    if with_jobs:
        from paperfeed.jobs import start_scheduler

        start_scheduler(connect(settings), settings)  # its own engine: see dispose below
        typer.echo("scheduled jobs: ingest-hf-daily (hourly), digest-daily, digest-weekly")
    engine.dispose()
    n = workers or settings.workers
    # Web workers do one small matrix product per request on many request threads: one BLAS /
    # OpenMP thread each (no idle helper threads; see web.app.single_threaded_math). Set before
    # the workers start, so their numpy never creates the pool; an operator's value wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    typer.echo(f"paperfeed on http://{host}:{port}/ ({n} worker{'s' if n > 1 else ''})")
    uvicorn.run(
        "paperfeed.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=n,
        log_level="warning",
        access_log=False,
        # Forwarded headers are handled by the app, from PAPERFEED_TRUSTED_PROXIES only
        # (uvicorn's default would believe any local process or pass-through proxy).
        proxy_headers=False,
    )
