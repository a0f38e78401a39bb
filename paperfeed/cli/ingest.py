"""`paperfeed ingest <source>`: fetch from a source, parse, upsert; summary at the end.

Every command commits in batches (Ctrl-C or a crash keeps what was committed), is idempotent
(a re-run reports 0 new, 0 updated for data already stored) and ends with one summary line,
preceded by one line per rejected record. Rejections alone do not fail the command; a source
that cannot be read at all exits 1 with a one-line error.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path

import typer
from sqlalchemy import Engine

from paperfeed.cli.common import load_settings, ready_engine
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, SourceError
from paperfeed.models import IngestSummary

app = typer.Typer(
    help="Import papers from arXiv, Hugging Face and snapshot files.", no_args_is_help=True
)

MAX_ERRORS_SHOWN = 50
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")
_NO_INDEX = typer.Option(
    False, "--no-index", help="Skip embedding the new papers (run `paperfeed index` later)."
)


def _index(settings: Settings, engine: Engine, no_index: bool, progress: bool) -> None:
    """After an ingest: the post-ingest step every import path takes (`postingest`): keyword
    counts refreshed, new papers embedded (unless --no-index). Its lines go to stderr, so
    the ingest summary stays the last line on stdout."""
    from paperfeed.postingest import after_ingest

    done = after_ingest(engine, settings, index=not no_index, progress=progress)
    for line in done.lines:
        typer.echo(line, err=True)
    for line in done.warnings:
        typer.echo(f"warning: {line}", err=True)


def match_alerts(settings: Settings, engine: Engine) -> None:
    """Match what was just stored (and indexed) against the saved searches; one line on
    stderr, so a command's summary stays the last line on stdout."""
    from paperfeed.alerts.run import match_new_papers

    report = match_new_papers(engine, settings)
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    if report.papers or report.meaning_papers:
        typer.echo(report.line(), err=True)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"ingest: {option} {value!r} is not a date (YYYY-MM-DD)") from None


def _report(
    summary: IngestSummary,
    engine: Engine | None = None,
    settings: Settings | None = None,
    *,
    source: str = "the source",
) -> None:
    if summary.rejected and not (summary.new or summary.updated or summary.unchanged):
        # Nothing read at all (a malformed file, a page that is not the API's answer): an
        # error a cron job sees, in one line with the first reason, not exit 0.
        typer.echo(summary.line())
        why = summary.errors[0] if summary.errors else "every record was rejected"
        raise SourceError(f"ingest: nothing in {source} could be read "
                          f"({summary.rejected} rejected): {why}")
    for message in summary.errors[:MAX_ERRORS_SHOWN]:
        typer.echo(f"rejected: {message}", err=True)
    if len(summary.errors) > MAX_ERRORS_SHOWN:
        typer.echo(f"... and {len(summary.errors) - MAX_ERRORS_SHOWN} more rejected", err=True)
    typer.echo(summary.line())
    if engine is not None and settings is not None and settings.auto_feature_rules:
        from paperfeed.autofeature import apply_rules
        from paperfeed.models import utcnow

        featured = apply_rules(engine, settings, now=utcnow())
        typer.echo(f"auto-feature rules: {len(featured)} papers featured today")


@app.command("hf-daily")
def hf_daily(
    from_path: Path | None = typer.Option(
        None, "--from", help="A saved response, a directory of YYYY-MM-DD.json, or a .tar.gz."
    ),
    since: str | None = typer.Option(None, "--since", help="First day (YYYY-MM-DD), live API."),
    until: str | None = typer.Option(None, "--until", help="Last day (default: --since)."),
    progress: bool = _PROGRESS,
    no_index: bool = _NO_INDEX,
) -> None:
    """Hugging Face daily papers: papers, featured days, submitters, upvotes, links."""
    from paperfeed.sources import hf_daily as source

    first, last = _day(since, "--since"), _day(until, "--until")
    if (from_path is None) == (first is None):
        raise BadRequest("ingest: give either --from PATH or --since DAY [--until DAY]")
    settings = load_settings()
    engine = ready_engine(settings)
    if from_path is not None:
        summary = source.import_path(engine, from_path, progress=progress)
    else:
        assert first is not None
        summary = source.import_days(engine, settings, first, last or first, progress=progress)
    _report(summary, engine, settings, source=str(from_path or "the answers of Hugging Face"))
    _index(settings, engine, no_index, progress)


@app.command("arxiv")
def arxiv(
    category: str | None = typer.Option(None, "--category", help="arXiv category, e.g. cs.CL."),
    since: str | None = typer.Option(None, "--since", help="First submission day (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last submission day (default: today)."),
    ids: list[str] = typer.Option([], "--id", help="An arXiv id or URL; repeat for several."),
    progress: bool = _PROGRESS,
    no_index: bool = _NO_INDEX,
) -> None:
    """arXiv API (Atom): a category's submissions in a date range, or papers by id.
    Waits PAPERFEED_ARXIV_DELAY_SECONDS (3 s) between requests, as arXiv asks."""
    from paperfeed.models import utcnow
    from paperfeed.sources import arxiv_api as source

    if bool(ids) == bool(category):
        raise BadRequest("ingest: give either --category CAT --since DAY [--until DAY] or --id ID")
    settings = load_settings()
    if ids:
        engine = ready_engine(settings)
        summary = source.import_ids(engine, settings, ids, progress=progress)
    else:
        first = _day(since, "--since")
        if first is None:
            raise BadRequest("ingest: --category needs --since DAY")
        last = _day(until, "--until") or utcnow().date()
        engine = ready_engine(settings)
        assert category is not None
        summary = source.import_category(
            engine, settings, category, first, last, progress=progress
        )
    _report(summary, engine, settings)
    _index(settings, engine, no_index, progress)


class OaiFormat(StrEnum):
    arXiv = "arXiv"
    arXivRaw = "arXivRaw"


@app.command("oai")
def oai(
    set_spec: str | None = typer.Option(None, "--set", help="OAI set, e.g. cs or physics:hep-th."),
    from_day: str | None = typer.Option(None, "--from", help="First datestamp (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last datestamp (YYYY-MM-DD)."),
    metadata_format: OaiFormat = typer.Option(
        OaiFormat.arXiv, "--format", help="Metadata format to harvest."
    ),
    restart: bool = typer.Option(
        False, "--restart", help="Ignore a saved resumption token and start over."
    ),
    progress: bool = _PROGRESS,
    no_index: bool = _NO_INDEX,
) -> None:
    """arXiv OAI-PMH 2.0 ListRecords harvest; resumes from the saved resumption token."""
    from paperfeed.sources import arxiv_oai as source

    settings = load_settings()
    engine = ready_engine(settings)
    summary = source.harvest(
        engine,
        settings,
        metadata_prefix=metadata_format.value,
        set_spec=set_spec,
        from_day=_day(from_day, "--from"),
        until=_day(until, "--until"),
        restart=restart,
        progress=progress,
    )
    _report(summary, engine, settings)
    _index(settings, engine, no_index, progress)


@app.command("jsonl")
def jsonl(
    file: Path = typer.Argument(..., help="JSON-lines file (.jsonl or .jsonl.gz)."),
    progress: bool = _PROGRESS,
    no_index: bool = _NO_INDEX,
) -> None:
    """Snapshot files: arxiv-cs daily crawls or Kaggle's arxiv-metadata-oai-snapshot.json.
    A malformed line is reported with its number and skipped."""
    from paperfeed.sources import snapshot as source

    settings = load_settings()
    engine = ready_engine(settings)
    summary = source.import_file(
        engine, file, progress=progress, batch_size=settings.ingest_batch_size
    )
    _report(summary, engine, settings, source=str(file))
    _index(settings, engine, no_index, progress)
