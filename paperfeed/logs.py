"""Logging set-up for every process paperfeed runs: the CLI and each uvicorn worker.

uvicorn starts its workers as fresh processes and configures logging there only from the
`log_config` it is given, so the CLI's own `basicConfig` never reaches them: without this, a
worker's warnings (the outbox's sign-in links among them) would vanish. `serve` hands
`uvicorn_config()` to uvicorn, which applies it in every worker; `app_from_env` also calls
`ensure_configured()` for servers started another way (`uvicorn --factory ...`).
"""

from __future__ import annotations

import logging
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("alembic",)  # narrates every schema check at INFO; callers report migrations


def configure(level: int = logging.INFO) -> None:
    """The CLI's logging: one stderr handler on the root logger."""
    logging.basicConfig(level=level, format=FORMAT)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def ensure_configured() -> None:
    """Configure logging unless this process already has (a root handler exists)."""
    if not logging.getLogger().handlers:
        configure()


def uvicorn_config(server_level: str = "warning") -> dict[str, Any]:
    """A `logging.config.dictConfig` for `uvicorn.run(log_config=...)`: paperfeed's loggers at
    INFO and uvicorn's own at `server_level`, all through one stderr handler and format."""
    level = server_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,  # paperfeed's module loggers exist already
        "formatters": {"default": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "paperfeed": {"level": "INFO"},
            "uvicorn": {"level": level},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": level},
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }
