"""The polite fetcher: minimum delay, bounded retries with backoff, Retry-After, clear errors.

Real httpx clients against respx-replayed answers; a recorded `sleep` stands in for the clock
so the retry schedule is asserted without waiting.
"""

from __future__ import annotations

import httpx
import pytest
import respx

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.sources.http import Fetcher, retry_after_seconds

URL = "https://export.arxiv.org/api/query"


class Clock:
    """A fake monotonic clock that advances only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def fetcher(settings: Settings, clock: Clock, *, delay: float = 3.0, retries: int = 3) -> Fetcher:
    s = settings.model_copy(update={"http_retries": retries, "http_backoff_seconds": 1.0})
    return Fetcher(s, name="arXiv", delay=delay, sleep=clock.sleep, clock=clock)


@respx.mock
def test_requests_are_spaced_by_the_minimum_delay(settings: Settings) -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, content=b"ok"))
    clock = Clock()
    with fetcher(settings, clock) as f:
        assert f.get(URL) == b"ok"
        clock.now += 1.0  # one second of other work between the two requests
        assert f.get(URL) == b"ok"
    assert clock.slept == [2.0]


@respx.mock
def test_503_then_success_backs_off_exponentially(settings: Settings) -> None:
    route = respx.get(URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, content=b"x")]
    )
    clock = Clock()
    with fetcher(settings, clock, delay=0) as f:
        assert f.get(URL, params={"id_list": "2401.01234"}) == b"x"
    assert route.call_count == 3
    assert clock.slept == [1.0, 2.0]


@respx.mock
def test_retry_after_is_honoured_on_429(settings: Settings) -> None:
    respx.get(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)]
    )
    clock = Clock()
    with fetcher(settings, clock, delay=0) as f:
        f.get(URL)
    assert clock.slept == [7.0]


@respx.mock
def test_persistent_503_gives_one_clear_error_after_the_last_try(settings: Settings) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(503))
    clock = Clock()
    with fetcher(settings, clock, delay=0, retries=3) as f:
        with pytest.raises(SourceError) as info:
            f.get(URL)
    assert str(info.value) == "ingest: arXiv answered 503 4 times; retry later"
    assert route.call_count == 4 and clock.slept == [1.0, 2.0, 4.0]


@respx.mock
def test_timeouts_are_retried_then_reported(settings: Settings) -> None:
    respx.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    clock = Clock()
    with fetcher(settings, clock, delay=0, retries=1) as f:
        with pytest.raises(SourceError, match="arXiv timed out 2 times; retry later"):
            f.get(URL)


@respx.mock
def test_client_errors_are_not_retried(settings: Settings) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(400))
    clock = Clock()
    with fetcher(settings, clock, delay=0) as f:
        with pytest.raises(SourceError, match="answered 400"):
            f.get(URL)
    assert route.call_count == 1 and clock.slept == []


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
