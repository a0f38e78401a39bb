"""`paperfeed digest send | preview`: send an edition exactly once, or render it to a file.

Cron- and systemd-timer-friendly: re-running after a crash, or running on several machines at
once, sends every subscriber the edition once (see docs/digests.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from paperfeed.cli.common import (
    check_frequency,
    edition_to_send,
    load_settings,
    ready_engine,
    refuse_if_nothing_went_out,
)

app = typer.Typer(help="Email digests: send an edition, preview it.", no_args_is_help=True)


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
    """Send the edition to every confirmed subscriber of FREQUENCY, each exactly once."""
    from tqdm import tqdm

    from paperfeed.digests.send import send_edition
    from paperfeed.storage import subscriptions as sstore

    settings = load_settings()
    target = edition_to_send(
        frequency, edition, settings,
        weekend_note="daily digests go out on weekdays only (pass --edition to send it anyway)",
    )
    if target is None:
        return
    engine = ready_engine(settings)
    with engine.connect() as conn:
        total = sstore.count_confirmed(conn, frequency)
    with tqdm(total=total, unit="msg", desc=target.label, disable=not sys.stderr.isatty()) as bar:
        report = send_edition(engine, settings, target, progress=bar.update)
    typer.echo(report.line())
    refuse_if_nothing_went_out(report, settings, "digests")


@app.command("preview")
def preview(
    edition: str | None = typer.Option(
        None, "--edition", help="YYYY-MM-DD or YYYY-Www; default: today's daily edition."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the HTML here (default: standard output)."
    ),
) -> None:
    """Render an edition's HTML as a subscriber would receive it, without sending anything."""
    from paperfeed.digests.preview import preview_html

    settings = load_settings()
    html = preview_html(ready_engine(settings), settings, edition)
    if out is None:
        typer.echo(html)
    else:
        out.write_text(html, encoding="utf-8")
        typer.echo(f"wrote {out} ({len(html.encode())} bytes)")
