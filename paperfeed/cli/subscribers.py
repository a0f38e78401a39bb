"""`paperfeed subscribers add | list | remove | purge`: manage digest subscriptions as an admin."""

from __future__ import annotations

import typer

from paperfeed.cli.common import check_frequency, load_settings, ready_engine
from paperfeed.models import utcnow

app = typer.Typer(help="Digest subscribers: add, list, remove, purge.", no_args_is_help=True)


@app.command("add")
def add(
    email: str = typer.Argument(..., help="The address to subscribe."),
    frequency: str = typer.Option("daily", "--frequency", "-f", callback=check_frequency),
    confirmed: bool = typer.Option(
        False, "--confirmed", help="Skip double opt-in (only with the owner's consent)."
    ),
) -> None:
    """Add (or update) a subscription. Without --confirmed it stays pending and receives
    nothing; use the site's subscribe form to send a confirmation link instead."""
    from paperfeed.digests.subscribe import normalize_email
    from paperfeed.storage import subscriptions as sstore
    from paperfeed.storage.db import write

    settings = load_settings()
    address = normalize_email(email)
    with write(ready_engine(settings)) as conn:
        row = sstore.add(conn, address, frequency, confirmed=confirmed, now=utcnow())
    typer.echo(f"{row['email']}: {row['status']}, {row['frequency']}")


def _check_status(value: str | None) -> str | None:
    """A typo (`confirmd`) listed nobody, as if there were no subscribers: refused instead."""
    from paperfeed.storage.subscriptions import STATUSES

    if value is not None and value not in STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(STATUSES)}, not {value!r}")
    return value


def _check_optional_frequency(value: str | None) -> str | None:
    return None if value is None else check_frequency(value)


@app.command("list")
def list_(
    status: str | None = typer.Option(
        None, help="Only this status: pending, confirmed, unsubscribed, suspended.",
        callback=_check_status,
    ),
    frequency: str | None = typer.Option(None, help="Only daily or weekly.",
                                         callback=_check_optional_frequency),
) -> None:
    """List subscriptions (tab-separated: email, frequency, status, created, bounces)."""
    from paperfeed.storage import subscriptions as sstore

    settings = load_settings()
    with ready_engine(settings).connect() as conn:
        rows = sstore.list_subscriptions(conn, status=status, frequency=frequency)
        counts = sstore.count_by_status(conn)
    for r in rows:
        created = r["created_at"].strftime("%Y-%m-%d")
        typer.echo(f"{r['email']}\t{r['frequency']}\t{r['status']}\t{created}\t{r['hard_bounces']}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subscriptions"
    typer.echo(f"# {summary}", err=True)


@app.command("remove")
def remove(email: str = typer.Argument(..., help="The address to delete.")) -> None:
    """Delete a subscription and its delivery history (subscribers unsubscribe by link)."""
    from paperfeed.errors import NotFound
    from paperfeed.storage import subscriptions as sstore
    from paperfeed.storage.db import write

    settings = load_settings()
    address = email.strip().lower()
    with write(ready_engine(settings)) as conn:
        removed = sstore.remove(conn, address)
    if not removed:  # the operator's own database: saying so reveals nothing to anyone else
        raise NotFound(f"subscribers: no subscription for {address}")
    typer.echo(f"removed {address}")


@app.command("purge")
def purge(
    days: int | None = typer.Option(
        None, "--days", min=1,
        help="Older than this (default: PAPERFEED_SUBSCRIBE_PENDING_DAYS, 7).",
    ),
) -> None:
    """Delete subscriptions never confirmed within DAYS of the request (also run daily by
    `serve --with-jobs`)."""
    from datetime import timedelta

    from paperfeed.storage import subscriptions as sstore
    from paperfeed.storage.db import write

    settings = load_settings()
    keep = days or settings.subscribe_pending_days
    with write(ready_engine(settings)) as conn:
        n = sstore.purge_pending(conn, before=utcnow() - timedelta(days=keep))
    typer.echo(f"purged {n} subscription{'s' if n != 1 else ''} never confirmed within {keep} days")
