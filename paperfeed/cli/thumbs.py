"""`paperfeed thumbs`: render the first page of recently featured papers as thumbnails.

Safe to re-run (papers with a thumbnail are skipped; a failed one is retried after a week) and
polite (one PDF per PAPERFEED_ARXIV_DELAY_SECONDS). Ends with one summary line.
"""

from __future__ import annotations

import typer

from paperfeed.cli.common import load_settings, ready_engine


def thumbs(
    days: int | None = typer.Option(
        None, "--days", min=1, help="Papers featured in this many recent days "
        "(default: PAPERFEED_THUMBNAIL_DAYS)."
    ),
    ids: list[str] = typer.Option([], "--id", help="Render these papers (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many PDFs."),
) -> None:
    """Render thumbnails (page 1 of the PDF) for featured papers; covers fill in for the rest."""
    from paperfeed.models import normalize_arxiv_id, utcnow
    from paperfeed.thumbnails import render_recent, thumb_dir

    settings = load_settings()
    engine = ready_engine(settings)
    wanted = [normalize_arxiv_id(i) for i in ids] or None
    if wanted:
        from paperfeed.errors import NotFound
        from paperfeed.storage.papers import get_paper

        with engine.connect() as conn:  # a mistyped id fetches nothing from arXiv
            unknown = [i for i in wanted if get_paper(conn, i) is None]
        if unknown:
            raise NotFound(f"thumbs: {', '.join(unknown)} not in the catalog (ingest it first: "
                           f"paperfeed ingest arxiv --id {unknown[0]})")
    summary = render_recent(engine, settings, now=utcnow(), days=days, ids=wanted, limit=limit)
    typer.echo(f"thumbs: {summary.line()}, in {thumb_dir(settings)}")


def register(app: typer.Typer) -> None:
    app.command("thumbs")(thumbs)
