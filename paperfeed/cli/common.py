"""Shared CLI helpers: settings and engine from the environment, error-to-exit conversion."""

from __future__ import annotations

import typer
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage.db import check_schema, connect


def load_settings(**overrides: object) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def ready_engine(settings: Settings) -> Engine:
    """An engine on an up-to-date schema (raises SchemaOutOfDate with the fix otherwise)."""
    engine = connect(settings)
    check_schema(engine)
    return engine


def check_frequency(value: str) -> str:
    """Typer callback for `--frequency`: daily or weekly, as digests know them."""
    from paperfeed.digests.editions import FREQUENCIES

    if value not in FREQUENCIES:
        raise typer.BadParameter("must be daily or weekly")
    return value
