"""`paperfeed init | migrate | config`: set up the data directory and the schema."""

from __future__ import annotations

import typer

from paperfeed.cli.common import load_settings, use_demo_instance
from paperfeed.storage.db import connect, migrate


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("migrate")(migrate_cmd)
    app.command("config")(config)


def init(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Set up the demo instance instead: the bundled demo corpus, in the demo's own "
        "data directory (~/.local/share/paperfeed-demo) unless PAPERFEED_DATA_DIR is set.",
    ),
) -> None:
    """Create the data directory and database, migrate it, optionally load the demo corpus."""
    if demo:
        use_demo_instance()
    settings = load_settings(demo_fallback=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    before, after = migrate(engine)
    typer.echo(f"database ready at revision {after} ({settings.redacted()['database_url']})")
    if demo:
        from paperfeed.demo import load_demo

        summary = load_demo(engine, settings=settings, progress=True)
        typer.echo(f"demo corpus: {summary.line()}")


def migrate_cmd() -> None:
    """Upgrade the database schema to the newest migration."""
    settings = load_settings()
    before, after = migrate(connect(settings))
    if before == after:
        typer.echo(f"schema already at {after}")
    else:
        typer.echo(f"schema migrated {before or '(empty)'} -> {after}")


def config() -> None:
    """Print the effective settings, secrets redacted."""
    settings = load_settings()
    for name, value in settings.redacted().items():
        typer.echo(f"PAPERFEED_{name.upper()}={value}")
