"""Polite HTTP fetching for every source: one client factory, a minimum delay between
requests, bounded retries with exponential backoff on 429/5xx/timeouts (Retry-After honoured),
and one clear SourceError after the last try.

Written by hand rather than with tenacity: the policy is ~40 lines and needs the response
(Retry-After, status) in the decision and in the final message, which a decorator hides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.models import utcnow

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 120.0
MAX_RETRY_AFTER_SECONDS = 600.0


def make_client(settings: Settings) -> httpx.Client:
    """An httpx client with our User-Agent, the configured timeout and redirects followed."""
    return httpx.Client(
        timeout=settings.http_timeout_seconds,
        follow_redirects=True,
        headers={"User-Agent": f"paperfeed/{__version__} (+{settings.base_url})"},
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unusable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return max(0.0, (when - utcnow()).total_seconds())


class Fetcher:
    """GETs URLs for one upstream (`name` appears in messages), never faster than `delay`.

    `sleep` and `clock` are injectable so tests can replay retries without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        delay: float,
        client: httpx.Client | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.delay = delay
        self.retries = settings.http_retries
        self.backoff = settings.http_backoff_seconds if backoff is None else backoff
        self._own_client = client is None
        self.client = client or make_client(settings)
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self.requests = 0

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _wait_turn(self) -> None:
        if self._last is not None and self.delay > 0:
            remaining = self.delay - (self._clock() - self._last)
            if remaining > 0:
                self._sleep(remaining)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The body of a 2xx answer; retries transient failures, then raises SourceError."""
        attempts = self.retries + 1
        last_problem = ""
        for attempt in range(attempts):
            self._wait_turn()
            self._last = self._clock()
            self.requests += 1
            wait: float | None = None
            try:
                response = self.client.get(url, params=params)
            except httpx.TimeoutException:
                last_problem = "timed out"
            except httpx.TransportError as exc:
                last_problem = f"could not be reached ({type(exc).__name__})"
            else:
                if response.is_success:
                    return response.content
                if response.status_code not in RETRY_STATUSES:
                    raise SourceError(
                        f"ingest: {self.name} answered {response.status_code} for "
                        f"{response.request.url}; check the query"
                    )
                last_problem = f"answered {response.status_code}"
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt + 1 >= attempts:
                break
            if wait is None:
                wait = min(MAX_BACKOFF_SECONDS, self.backoff * (2**attempt))
            wait = min(wait, MAX_RETRY_AFTER_SECONDS)
            log.warning(
                "%s %s (try %d of %d); retrying in %.1f s",
                self.name, last_problem, attempt + 1, attempts, wait,
            )
            if wait > 0:
                self._sleep(wait)
            self._last = self._clock()
        times = "once" if attempts == 1 else f"{attempts} times"
        raise SourceError(f"ingest: {self.name} {last_problem} {times}; retry later")
