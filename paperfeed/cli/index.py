"""`paperfeed index`: embed the papers that need it (or import precomputed vectors).

Commits every batch, so Ctrl-C or a kill loses nothing committed and a re-run continues; ends
with one summary line. Also run at the end of every `paperfeed ingest ...` (unless --no-index).
Both also refresh the stored keyword-token document counts on SQLite (`refresh_keyword_counts`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from sqlalchemy import Engine

from paperfeed.cli.common import load_settings, ready_engine
from paperfeed.errors import BadRequest

log = logging.getLogger(__name__)


def index(
    import_path: Path | None = typer.Option(
        None, "--import", help="Precomputed vectors (.npy, one row per paper) to store."
    ),
    ids_path: Path | None = typer.Option(
        None, "--ids", help="With --import: paper ids, one per line, in the rows' order."
    ),
    model_id: str | None = typer.Option(
        None, "--model-id", help="With --import: the model that made the vectors "
        "(default: model.txt beside them). Must be the configured model."
    ),
    skip_unknown: bool = typer.Option(
        False, "--skip-unknown", help="With --import: skip ids that are not in the catalog."
    ),
    batch_size: int = typer.Option(
        256, "--batch-size", min=1, max=10_000, help="Papers embedded per committed batch."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Embed at most this many papers in this run."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Compute (or import) the embeddings for semantic search and update the vector index.

    Re-embeds papers whose title/abstract changed and every paper after a change of
    PAPERFEED_EMBEDDING_MODEL."""
    from paperfeed.search.indexing import import_vectors, index_papers

    settings = load_settings()
    engine = ready_engine(settings)
    if import_path is not None or ids_path is not None:
        if import_path is None or ids_path is None:
            raise BadRequest("index: --import VECTORS.npy needs --ids IDS.txt (and vice versa)")
        summary = import_vectors(
            engine, settings, import_path, ids_path, model_id=model_id,
            skip_unknown=skip_unknown, progress=progress,
        )
    else:
        summary = index_papers(
            engine, settings, batch_size=batch_size, limit=limit, progress=progress
        )
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    refresh_keyword_counts(engine)
    from paperfeed.cli.ingest import match_alerts

    match_alerts(settings, engine)  # papers embedded now are matched by meaning
    typer.echo(summary.line())


def refresh_keyword_counts(engine: Engine) -> None:
    """Rebuild the stored token document counts keyword search prunes common words with
    (~1-3 s at 75k papers on SQLite; nothing stored on PostgreSQL). One line on stderr, so
    stdout keeps its summary."""
    from paperfeed.models import utcnow
    from paperfeed.storage.search import refresh_token_docs

    done = refresh_token_docs(engine, now=utcnow())
    if not done.tokens:
        return
    typer.echo(
        f"keyword counts: {done.tokens} tokens over {done.papers} papers refreshed "
        f"in {done.seconds:.1f} s", err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("index")(index)
