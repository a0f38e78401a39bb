"""`paperfeed search "query"`: the hybrid search from the terminal (same service as the site)."""

from __future__ import annotations

import json

import typer

from paperfeed.cli.common import load_settings, ready_engine
from paperfeed.errors import BadRequest
from paperfeed.search.backend import model_mismatch
from paperfeed.search.hybrid import MODES, SearchService
from paperfeed.storage.search import papers_by_ids


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: str = typer.Argument(..., help='Words, "phrases", -exclude, author:, cat:, year:'),
    limit: int = typer.Option(10, min=1, max=200, help="How many results."),
    mode: str = typer.Option("hybrid", help="hybrid | keyword | semantic"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per result line."),
) -> None:
    """Search the catalog by meaning and keywords."""
    if mode not in MODES:
        raise BadRequest(f"search: --mode must be one of {', '.join(MODES)}, not {mode!r}")
    settings = load_settings()
    engine = ready_engine(settings)
    if mode == "semantic":  # (hybrid answers from keywords; the service logs the same line)
        mismatch = model_mismatch(settings, engine)
        if mismatch:
            raise BadRequest(f"search: {mismatch}")
    result = SearchService(engine, settings).search(query, limit=limit, mode=mode)
    with engine.connect() as conn:
        rows = papers_by_ids(conn, [h.paper_id for h in result.hits])
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if not result.hits:
        typer.echo("no results", err=True)
    for n, hit in enumerate(result.hits, start=1):
        row = rows.get(hit.paper_id)
        if row is None:
            continue
        title = " ".join(str(row["title"]).split())
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "rank": n,
                        "id": hit.paper_id,
                        "title": title,
                        "score": round(hit.score, 6),
                        "pinned": hit.pinned,
                        "url": f"{settings.base_url.rstrip('/')}/papers/{hit.paper_id}",
                    }
                )
            )
        else:
            date = row["published_at"].date().isoformat() if row["published_at"] else "    -     "
            typer.echo(f"{n:>3}. {hit.paper_id:<16} {date}  {title}")
    if not as_json and result.hits:
        more = "" if result.total_exact else "more than "
        plural = "" if result.total == 1 and result.total_exact else "s"
        typer.echo(f"({result.used} search) {more}{result.total} result{plural}", err=True)
