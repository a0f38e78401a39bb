"""Shared CLI helpers: settings and engine from the environment, error-to-exit conversion.

Which instance a command works on: the one PAPERFEED_DATA_DIR / PAPERFEED_DATABASE_URL name;
else the default data directory; but while no instance exists there and the demo's does
(after `paperfeed serve --demo`), the demo's, with a note on stderr, so a newcomer's
`paperfeed user create` or `paperfeed outbox` reaches the demo they are looking at.
`paperfeed --demo COMMAND` picks the demo instance explicitly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer
from sqlalchemy import Engine

from paperfeed import baseurl
from paperfeed.config import Settings, default_data_dir, demo_data_dir
from paperfeed.errors import SchemaOutOfDate
from paperfeed.storage.db import check_schema, connect, has_schema, missing_database

if TYPE_CHECKING:
    from paperfeed.digests.editions import Edition

DB_FILE = "paperfeed.db"


def use_demo_instance() -> None:
    """Point this process (and the workers it starts) at the demo instance: development mode,
    and the demo's own data directory unless the storage was chosen explicitly."""
    os.environ.setdefault("PAPERFEED_ENVIRONMENT", "development")
    if not Settings().chose_storage():
        os.environ["PAPERFEED_DATA_DIR"] = str(demo_data_dir())


def load_settings(*, demo_fallback: bool = True, **overrides: object) -> Settings:
    """Settings from the environment (and `overrides`); see the module docstring for the
    demo fallback (`demo_fallback=False` for commands that create an instance)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**given)  # type: ignore[arg-type]
    if demo_fallback and _only_the_demo_exists(settings):
        demo = demo_data_dir()
        typer.echo(
            f"note: no paperfeed instance at {default_data_dir()}; using the demo's at {demo} "
            "(set PAPERFEED_DATA_DIR to choose another)",
            err=True,
        )
        os.environ["PAPERFEED_DATA_DIR"] = str(demo)
        os.environ.setdefault("PAPERFEED_ENVIRONMENT", "development")
        settings = Settings(**given)  # type: ignore[arg-type]
    if "base_url" not in settings.model_fields_set:
        served = baseurl.recorded(settings.data_dir)
        if served:  # links built here match the server's (`serve` recorded its address)
            settings = Settings(**{**given, "base_url": served})  # type: ignore[arg-type]
    return settings


def _only_the_demo_exists(settings: Settings) -> bool:
    if settings.chose_storage() or has_schema(default_data_dir() / DB_FILE):
        return False
    return has_schema(demo_data_dir() / DB_FILE)


def ready_engine(settings: Settings) -> Engine:
    """An engine on an up-to-date schema (raises SchemaOutOfDate with the fix otherwise).
    Never creates a database: a missing SQLite file is reported with the command to run."""
    missing = missing_database(settings)
    if missing is not None:
        raise SchemaOutOfDate(
            f"storage: no paperfeed instance at {missing.parent}; create one with `paperfeed "
            "init`, or try the demo with `paperfeed serve --demo`"
        )
    engine = connect(settings)
    check_schema(engine)
    return engine


def check_frequency(value: str) -> str:
    """Typer callback for `--frequency`: daily or weekly, as digests know them."""
    from paperfeed.digests.editions import FREQUENCIES

    if value not in FREQUENCIES:
        raise typer.BadParameter("must be daily or weekly")
    return value


def edition_to_send(
    frequency: str, edition: str | None, settings: Settings, *, weekend_note: str
) -> Edition | None:
    """The edition `digest send` / `alerts send` work on: the one named by `--edition`, else the
    current scheduled one; on a weekend (daily editions go out on weekdays) None, after echoing
    "edition LABEL falls on a weekend: " + `weekend_note`."""
    from paperfeed.digests.editions import current_edition, parse_edition, scheduled_edition
    from paperfeed.models import utcnow

    if edition:
        return parse_edition(edition, frequency)
    now = utcnow()
    scheduled = scheduled_edition(frequency, now, settings.timezone)
    if scheduled is None:
        label = current_edition(frequency, now, settings.timezone).label
        typer.echo(f"edition {label} falls on a weekend: {weekend_note}")
    return scheduled


def refuse_if_nothing_went_out(report: Any, settings: Settings, component: str) -> None:
    """Exit 1 when a send run handed nothing to the mail server while messages wait (all
    deferred): with fewer than three recipients the sender's "three in a row" stop never
    fires, and a cron job exiting 0 tells nobody that mail is not going out."""
    from paperfeed.digests.send import DigestSendError
    from paperfeed.mail import mail_destination

    if report.deferred and not report.sent and not report.failed:
        raise DigestSendError(
            f"{component}: nothing could be handed to {mail_destination(settings)} "
            f"({report.deferred} deferred; the log lines above say why). Check "
            "PAPERFEED_SMTP_HOST/PORT and re-run: nothing sent is sent again"
        )
