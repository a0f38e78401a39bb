"""`paperfeed rules apply`: run the auto-feature rules now (ingest commands also run them)."""

from __future__ import annotations

import typer

from paperfeed.autofeature import apply_rules
from paperfeed.cli.common import load_settings, ready_engine
from paperfeed.models import utcnow

app = typer.Typer(help="Auto-feature rules (PAPERFEED_AUTO_FEATURE_RULES).", no_args_is_help=True)


@app.command("apply")
def apply() -> None:
    """Feature today every recent paper a rule matches (each paper at most once)."""
    settings = load_settings()
    if not settings.auto_feature_rules:
        typer.echo("no rules configured (PAPERFEED_AUTO_FEATURE_RULES is empty)")
        return
    featured = apply_rules(ready_engine(settings), settings, now=utcnow())
    typer.echo(f"{len(featured)} papers featured today" + (f": {', '.join(featured)}"
                                                           if featured else ""))
