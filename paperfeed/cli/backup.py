"""`paperfeed backup | restore | export | import`: copies of an instance, whole or portable."""

from __future__ import annotations

from pathlib import Path

import typer

from paperfeed.cli.common import load_settings


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    path: Path = typer.Argument(..., help="New directory to write the backup to."),
    vectors: bool = typer.Option(
        True, "--vectors/--no-vectors",
        help="Include the vector-index files (else they are rebuilt from the database).",
    ),
) -> None:
    """Back up a live SQLite instance without stopping it: the database as of one instant,
    the vector-index files and a manifest (schema revision, row counts, checksums). On
    PostgreSQL, says how to use pg_dump instead."""
    from paperfeed.backup import take_backup

    result = take_backup(load_settings(), path, vectors=vectors)
    typer.echo(result.line())


def restore(
    path: Path = typer.Argument(..., help="A directory written by `paperfeed backup`."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing instance (kept beside it as a "
        ".before-restore file). Stop the server first.",
    ),
) -> None:
    """Restore a backup into the configured instance after checking it (checksums, schema
    revision, SQLite integrity, row counts); refuses a backup from a newer paperfeed and
    migrates an older one."""
    from paperfeed.backup import restore_backup

    result = restore_backup(load_settings(), path, force=force)
    for line in result.lines():
        typer.echo(line)
