"""The one exception hierarchy: each error names its component and carries an HTTP status.

Messages start with the component ("feed: invalid date ...") for logs and the CLI; pages show
them to visitors through `public_message`, without that prefix.
"""

from __future__ import annotations

import re

_COMPONENT = re.compile(r"^[a-z][a-z0-9_-]{1,19}: ")


_QUOTED = re.compile(r"""(['"])([^'"]{61,})\1""")
MAX_SHOWN = 300  # characters of a message shown to a visitor or an API client


def shorten(text: str) -> str:
    """A message that quotes what was sent keeps at most 60 characters of each quotation
    (`'xxxx…'`: a 10,000-character field came back whole) and at most MAX_SHOWN in all."""
    if len(text) <= MAX_SHOWN:
        return text
    text = _QUOTED.sub(lambda m: f"{m[1]}{m[2][:57]}…{m[1]}", text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def public_message(error: BaseException | str) -> str:
    """The message as a visitor reads it: "feed: invalid date" -> "Invalid date" (a first
    word with capitals of its own, "arXiv", is left as it is), shortened (`shorten`)."""
    text = shorten(str(error))
    m = _COMPONENT.match(text)
    if m:
        text = text[m.end():]
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.islower() else text


class PaperfeedError(Exception):
    """Base error. `status` is used when the error reaches the web layer; the CLI prints `str()`."""

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ConfigError(PaperfeedError):
    """A setting is missing or invalid (e.g. a placeholder secret outside development)."""


class SchemaOutOfDate(PaperfeedError):
    """The database schema is older than the code; run `paperfeed migrate`."""

    status = 503


class NotFound(PaperfeedError):
    status = 404


class BadRequest(PaperfeedError):
    status = 400


class Forbidden(PaperfeedError):
    status = 403


class Unauthorized(PaperfeedError):
    status = 401


class Conflict(PaperfeedError):
    status = 409


class RateLimited(PaperfeedError):
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceError(PaperfeedError):
    """An upstream source (arXiv, Hugging Face, a file) failed or sent something unusable."""

    status = 502


class ParseError(SourceError):
    """Input bytes could not be parsed; the message says which file/line/record."""

    status = 400


class EmbedderUnavailable(PaperfeedError):
    """The embedding model cannot be loaded or run; search falls back to keywords."""

    status = 503
