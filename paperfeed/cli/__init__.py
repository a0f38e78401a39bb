"""The `paperfeed` command: one Typer app, one module per command group.

Errors from the library (`PaperfeedError`) become one line on stderr and exit status 1; so
does any other exception (a bug), named with its type, with the traceback logged only when
`PAPERFEED_TRACEBACK=1`. The handling lives in the command tree itself (`_Commands`), so the
console script, `python -m paperfeed` and Typer's test runner behave the same.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from paperfeed.cli import admin, digest, ingest, outbox, rules, serve, subscribers, user
from paperfeed.cli import alerts as alerts_cli
from paperfeed.cli import backup as backup_cli
from paperfeed.cli import eval as eval_cli
from paperfeed.cli import index as index_cli
from paperfeed.cli import search as search_cli
from paperfeed.cli import thumbs as thumbs_cli
from paperfeed.cli import transfer as transfer_cli
from paperfeed.cli.common import use_demo_instance
from paperfeed.config import settings_error
from paperfeed.errors import PaperfeedError
from paperfeed.logs import configure as configure_logging

log = logging.getLogger("paperfeed.cli")


class _Commands(TyperGroup):
    """The root group: every command runs inside `invoke`, so errors are turned into one line
    here (click's own usage errors, exits and aborts pass through untouched)."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors, exits
            raise
        except OperationalError as exc:  # the database is unreachable, locked, full...
            first = str(exc.orig or exc).strip().splitlines()[0][:300]
            typer.echo(
                f"error: database: {first} (check PAPERFEED_DATABASE_URL and that the "
                "database is reachable)",
                err=True,
            )
            raise typer.Exit(1) from None
        except OSError as exc:
            if exc.filename is None or os.environ.get("PAPERFEED_TRACEBACK") == "1":
                raise
            # A path given or configured that cannot be read or written (a directory, under a
            # file, no permission, a full disk): the operator's to fix, not a bug.
            command = f"paperfeed {ctx.invoked_subcommand or ''}".strip()
            target = exc.filename2 or exc.filename
            typer.echo(f"error: {command}: cannot use {target}: {exc.strerror or exc}",
                       err=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            if (bad := settings_error(exc)) is not None:  # an operator's PAPERFEED_* typo
                typer.echo(f"error: {bad}", err=True)
                raise typer.Exit(1) from None
            if os.environ.get("PAPERFEED_TRACEBACK") == "1":
                raise
            command = f"paperfeed {ctx.invoked_subcommand or ''}".strip()
            detail = " ".join(str(exc).split())[:300]
            typer.echo(
                f"error: {command} failed unexpectedly: {type(exc).__name__}: {detail} "
                "(a bug in paperfeed; PAPERFEED_TRACEBACK=1 shows where)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    name="paperfeed",
    cls=_Commands,
    help="paperfeed: a self-hostable Daily Papers service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Work on the demo instance (the one `paperfeed serve --demo` runs), e.g. "
        "`paperfeed --demo user create you@example.org --admin`.",
    ),
) -> None:
    """paperfeed: a self-hostable Daily Papers service."""
    if demo:
        use_demo_instance()


admin.register(app)
serve.register(app)
app.add_typer(ingest.app, name="ingest")
index_cli.register(app)
search_cli.register(app)
thumbs_cli.register(app)
app.add_typer(eval_cli.app, name="eval")
app.add_typer(user.app, name="user")
app.add_typer(rules.app, name="rules")
app.add_typer(digest.app, name="digest")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(alerts_cli.app, name="alerts")
outbox.register(app)
backup_cli.register(app)
transfer_cli.register(app)


def main() -> None:
    """Console-script entry point."""
    configure_logging()
    try:
        app()
    except PaperfeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted; what was committed is kept, re-run to finish", err=True)
        sys.exit(130)
