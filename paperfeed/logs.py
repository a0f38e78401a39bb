"""Logging set-up for every process paperfeed runs: the CLI and each uvicorn worker.

uvicorn starts its workers as fresh processes and configures logging there only from the
`log_config` it is given, so the CLI's own `basicConfig` never reaches them: without this, a
worker's warnings (the outbox's sign-in links among them) would vanish. `serve` hands
`uvicorn_config()` to uvicorn, which applies it in every worker; `app_from_env` also calls
`ensure_configured()` for servers started another way (`uvicorn --factory ...`).

Two formats (`PAPERFEED_LOG_FORMAT`): `text` for people, `json` (one object per line: `ts`,
`level`, `logger`, `message`, `request_id`, `exc`, and any `extra` fields) for log shippers.
Every line written while a web request runs carries its request id (`request_id`, set by
`web.observe`), the same id the client sees in `X-Request-ID` and on error pages.

uvicorn's own lifecycle lines (a worker started, shutting down, waiting for connections, a
child process died) are kept at INFO although the rest of uvicorn logs only warnings: an
operator watching a restart or a drain sees it happen.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(rid)s"
QUIET = ("alembic",)  # narrates every schema check at INFO; callers report migrations
LIFECYCLE = (
    "Started server process", "Shutting down", "Waiting for connections to close",
    "Waiting for background tasks", "Finished server process", "Child process",
    "Started parent process", "Stopping parent process", "Received SIG", "Terminated child",
    "Waiting for child process", "Cancel",
)
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "paperfeed_request_id", default=None
)
# Attributes every LogRecord has; anything else on a record came from `extra=` and goes into
# the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "rid", "request_id", "color_message", "taskName",
}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and `rid`, its text-format suffix) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = getattr(record, "request_id", None) or request_id.get()
        record.request_id = rid
        record.rid = f" [req {rid}]" if rid else ""
        return True


class UvicornLifecycleFilter(logging.Filter):
    """Passes uvicorn's warnings and its lifecycle INFO lines, drops the rest of its INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        message = record.getMessage()
        return any(message.startswith(prefix) for prefix in LIFECYCLE)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_format() -> str:
    """`text` or `json`, from the settings (text when they cannot be read)."""
    try:
        from paperfeed.config import Settings

        return Settings().log_format
    except Exception:  # noqa: BLE001 - a broken setting is reported by the command itself
        return "json" if os.environ.get("PAPERFEED_LOG_FORMAT") == "json" else "text"


def _handler(fmt: str) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    return handler


def configure(level: int = logging.INFO) -> None:
    """The CLI's logging: one stderr handler on the root logger."""
    logging.basicConfig(level=level, handlers=[_handler(log_format())])
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def ensure_configured() -> None:
    """Configure logging unless this process already has (a root handler exists)."""
    if not logging.getLogger().handlers:
        configure()


def uvicorn_config(server_level: str = "warning") -> dict[str, Any]:
    """A `logging.config.dictConfig` for `uvicorn.run(log_config=...)`: paperfeed's loggers at
    INFO and uvicorn's own at `server_level` (plus its lifecycle lines), all through one
    stderr handler in the configured format."""
    level = server_level.upper()
    fmt = log_format()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,  # paperfeed's module loggers exist already
        "filters": {
            "request_id": {"()": f"{__name__}.RequestIdFilter"},
            "lifecycle": {"()": f"{__name__}.UvicornLifecycleFilter"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
            "uvicorn": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "lifecycle"],
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "paperfeed": {"level": "INFO"},
            "uvicorn": {"level": "INFO", "handlers": ["uvicorn"], "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"level": level},
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }
