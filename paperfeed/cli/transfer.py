"""`paperfeed export FILE` / `paperfeed import FILE`: the whole instance as JSON lines, to move
it between databases (SQLite -> PostgreSQL) or keep a portable copy (`paperfeed.transfer`)."""

from __future__ import annotations

import typer

from paperfeed.cli.common import load_settings, ready_engine


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)


def export(
    path: str = typer.Argument(
        ..., help="File to write (gzip-compressed when it ends in .gz; - for stdout)."
    ),
    with_secrets: bool = typer.Option(
        False, "--with-secrets",
        help="Also carry password hashes, API-token hashes and private-feed nonces (they keep "
        "working after the move, given the same PAPERFEED_SECRET_KEY). Keep such a file safe.",
    ),
    embeddings: bool = typer.Option(
        True, "--embeddings/--no-embeddings",
        help="Carry the papers' vectors (else the importing side re-embeds them).",
    ),
) -> None:
    """Export the catalog and community data (papers, featured days, members without secrets,
    votes, comments, collections, subscriptions, saved searches, ...) as JSON lines, from one
    consistent snapshot while the site serves. Sessions and sign-in links are never exported."""
    from paperfeed.transfer import export_instance

    settings = load_settings()
    engine = ready_engine(settings)
    summary = export_instance(engine, path, secrets=with_secrets, embeddings=embeddings)
    typer.echo(summary.line(), err=path == "-")


def import_(
    path: str = typer.Argument(..., help="A file written by `paperfeed export` (- for stdin)."),
    no_index: bool = typer.Option(
        False, "--no-index",
        help="Skip the search index step after the import (run `paperfeed index` later).",
    ),
) -> None:
    """Import an export into a new, empty instance (created and migrated if needed), e.g. a
    PostgreSQL database; idempotent (importing again, or after an interruption, ends in the
    same state). Then refreshes keyword counts and builds the vector index, as after any
    ingest."""
    from paperfeed.postingest import after_ingest
    from paperfeed.storage.db import check_schema, connect, current_revision, migrate
    from paperfeed.transfer import check_export, import_instance

    check_export(path)  # before the instance is created: a wrong path leaves nothing behind
    settings = load_settings(demo_fallback=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    if current_revision(engine) is None:
        migrate(engine)  # a new database: made here; an older one is left to `migrate`
    check_schema(engine)
    summary = import_instance(engine, path)
    done = after_ingest(engine, settings, index=not no_index, alerts=False)
    for line in done.lines:
        typer.echo(line, err=True)
    for line in done.warnings:
        typer.echo(f"warning: {line}", err=True)
    for line in summary.lines():
        typer.echo(line)
