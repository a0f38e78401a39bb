"""Fast JSON responses (orjson) and a short-lived per-query response cache for hot lists.

The daily list is read far more often than it changes, so identical queries within
`ttl` seconds share one serialized body; each worker process keeps its own small cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi.responses import Response

from paperfeed.caching import BoundedCache

JSON_TYPE = "application/json"
# Public read-only data, no cookies involved: any web page may fetch it (as from huggingface.co).
PUBLIC_HEADERS = {"Access-Control-Allow-Origin": "*"}


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return body_response(orjson.dumps(data), status=status, headers=headers)


def body_response(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response for already-serialized `body`, readable cross-origin."""
    merged = {**PUBLIC_HEADERS, **(headers or {})}
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=merged)


class ResponseCache:
    """A bounded TTL cache of serialized bodies, keyed by the normalized query (bounded by
    entries and by the bytes they hold; see paperfeed/caching.py)."""

    def __init__(self, *, ttl: float, max_entries: int = 512,
                 max_bytes: int = 16 * 1024 * 1024) -> None:
        # bodies are ~100 kB (a day of 50 papers): 512 distinct queries (a crawler varying
        # the parameters) would otherwise keep ~50 MB per worker
        self._bodies: BoundedCache[tuple[Any, ...], bytes] = BoundedCache(
            ttl=ttl, max_entries=max_entries, max_size=max_bytes, sizeof=len)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        """The cached body for `key` if still fresh (cheap: safe on the event loop)."""
        return self._bodies.get(key)

    def get_or_build(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
        """The cached body for `key`, or `orjson.dumps(build())` stored for `ttl` seconds."""
        return self._bodies.get_or_make(key, lambda: orjson.dumps(build()))

    def clear(self) -> None:
        self._bodies.clear()
