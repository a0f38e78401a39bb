"""`paperfeed ingest <source>`: fetch from a source, parse, upsert; summary at the end."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Import papers from arXiv, Hugging Face and snapshot files.", no_args_is_help=True
)
