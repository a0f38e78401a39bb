"""`paperfeed outbox`: read the mail written to the outbox when no SMTP server is configured.

The newcomer's way to sign in on a fresh install: request a link on /signin, then run
`paperfeed outbox` (or `paperfeed outbox --to you@example.org --open`) and open the link.
"""

from __future__ import annotations

import typer

from paperfeed import outbox as box
from paperfeed.cli.common import load_settings


def register(app: typer.Typer) -> None:
    app.command("outbox")(outbox)


def outbox(
    last: int = typer.Option(10, "--last", "-n", min=1, help="How many of the newest messages."),
    to: str | None = typer.Option(
        None, "--to", help="Only messages to addresses containing this (case-insensitive)."
    ),
    open_: bool = typer.Option(
        False, "--open", help="Print the newest matching message's text in full."
    ),
    links: bool = typer.Option(
        False, "--links", help="Print only the links, one per line (for scripts)."
    ),
    clear: bool = typer.Option(False, "--clear", help="Delete every message in the outbox."),
) -> None:
    """List the newest messages of the outbox (date, recipient, subject, links), oldest first.

    Mail goes to the outbox, $PAPERFEED_DATA_DIR/outbox/ (one .eml file per message), when
    PAPERFEED_SMTP_HOST is unset."""
    settings = load_settings()
    directory = box.outbox_dir(settings.data_dir)
    if clear:
        typer.echo(f"deleted {box.clear(directory)} messages from {directory}")
        return
    mails = box.latest(directory, last=1 if open_ else last, to=to)
    if not mails:
        note = "" if settings.smtp_host else " (mail comes here while PAPERFEED_SMTP_HOST is unset)"
        who = f" to {to}" if to else ""
        typer.echo(f"no messages{who} in {directory}{note}", err=True)
        raise typer.Exit(1 if (to or open_) else 0)
    if links:
        for mail in mails:
            for link in mail.links:
                typer.echo(link)
        return
    if open_:
        mail = mails[-1]
        typer.echo(f"To: {mail.to}\nSubject: {mail.subject}\nDate: {_when(mail)}\n"
                   f"File: {mail.path}\n")
        typer.echo(mail.text.rstrip())
        return
    for mail in mails:
        typer.echo(f"{_when(mail)}  {mail.to}  {mail.subject}")
        for link in mail.links[:5]:
            typer.echo(f"    {link}")
        if len(mail.links) > 5:
            typer.echo(f"    (+{len(mail.links) - 5} more links: paperfeed outbox --open)")
    typer.echo(f"# {len(mails)} shown, newest last; files in {directory}", err=True)


def _when(mail: box.StoredMail) -> str:
    return mail.date.strftime("%Y-%m-%d %H:%M:%S UTC") if mail.date else "(no date)"
