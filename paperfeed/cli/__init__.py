"""The `paperfeed` command: one Typer app, one module per command group.

Errors from the library (`PaperfeedError`) become one line on stderr and exit status 1.
"""

from __future__ import annotations

import sys

import typer

from paperfeed.cli import admin, digest, ingest, outbox, rules, serve, subscribers, user
from paperfeed.cli import eval as eval_cli
from paperfeed.cli import index as index_cli
from paperfeed.cli import search as search_cli
from paperfeed.cli import thumbs as thumbs_cli
from paperfeed.cli.common import use_demo_instance
from paperfeed.errors import PaperfeedError
from paperfeed.logs import configure as configure_logging

app = typer.Typer(
    name="paperfeed",
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
outbox.register(app)


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
