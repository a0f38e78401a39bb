"""`paperfeed alerts match | send | list`: saved-search alerts from cron, systemd or by hand.

`match` matches the papers stored since the last run (it also runs after every `paperfeed
ingest` and `paperfeed index`, so it is only needed to catch up); `send` sends an alert
edition exactly once, safe to re-run and to run on several machines (docs/alerts.md).
"""

from __future__ import annotations

import typer

from paperfeed.cli.common import (
    check_frequency,
    edition_to_send,
    load_settings,
    ready_engine,
    refuse_if_nothing_went_out,
)

app = typer.Typer(
    help="Saved-search alerts: match new papers, send alert emails, list saved searches.",
    no_args_is_help=True,
)


@app.command("match")
def match() -> None:
    """Match the papers stored since the last run against every saved search."""
    from paperfeed.alerts.run import match_new_papers

    settings = load_settings()
    report = match_new_papers(ready_engine(settings), settings)
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(report.line())


@app.command("send")
def send(
    frequency: str = typer.Option(
        ..., "--frequency", "-f", callback=check_frequency, help="daily or weekly."
    ),
    edition: str | None = typer.Option(
        None,
        "--edition",
        help="YYYY-MM-DD (daily) or YYYY-Www (weekly); default: the current one in "
        "PAPERFEED_TIMEZONE. A daily edition named here is sent even on a weekend.",
    ),
) -> None:
    """Email each member the new matches of their FREQUENCY saved searches, exactly once."""
    from paperfeed.alerts.run import match_new_papers
    from paperfeed.alerts.send import send_alerts

    settings = load_settings()
    target = edition_to_send(
        frequency, edition, settings,
        weekend_note="daily alerts go out on weekdays only (matches wait for Monday; pass "
        "--edition to send now)",
    )
    if target is None:
        return
    engine = ready_engine(settings)
    match_new_papers(engine, settings)  # nothing stored since the last ingest is left out
    report = send_alerts(engine, settings, target)
    typer.echo(report.line())
    refuse_if_nothing_went_out(report, settings, "alerts")


@app.command("list")
def list_searches(
    email: str = typer.Argument(..., help="The member's email address or username."),
) -> None:
    """A member's saved searches: id, delivery, matches, name and query."""
    from paperfeed.storage import alerts as store
    from paperfeed.storage.users import get_by_login

    settings = load_settings()
    engine = ready_engine(settings)
    with engine.connect() as conn:
        member = get_by_login(conn, email)
        if member is None:
            from paperfeed.errors import NotFound

            raise NotFound(f"alerts: no member {email!r}")
        rows = store.list_for_user(conn, member.id)
    if not rows:
        typer.echo(f"{member.username} has no saved searches")
    for r in rows:
        what = (f"like {r.like_paper_id} " if r.like_paper_id else "") + r.query
        typer.echo(f"{r.id}\t{r.delivery}\t{r.matches} matches\t{r.name}\t{what.strip()}")
