"""Fast JSON responses (orjson) and a short-lived per-query response cache for hot lists.

The daily list is read far more often than it changes, so identical queries within
`ttl` seconds share one serialized body; each worker process keeps its own small cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.responses import Response

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
    """A bounded TTL cache of serialized bodies, keyed by the normalized query."""

    def __init__(self, *, ttl: float, max_entries: int = 512,
                 max_bytes: int = 16 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        # bodies are ~100 kB (a day of 50 papers): 512 distinct queries (a crawler varying
        # the parameters) would otherwise keep ~50 MB per worker
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        """The cached body for `key` if still fresh (cheap: safe on the event loop)."""
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._items.move_to_end(key)
                return hit[1]
        return None

    def get_or_build(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
        """The cached body for `key`, or `orjson.dumps(build())` stored for `ttl` seconds."""
        return self.get_or_make(key, lambda: orjson.dumps(build()))

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], bytes]) -> bytes:
        """The cached bytes for `key`, or `make()` stored for `ttl` seconds."""
        if self.ttl <= 0:
            return make()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        body = make()
        if len(body) > self.max_bytes:
            return body
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._items[key] = (now + self.ttl, body)
            self._bytes += len(body)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= len(dropped)
        return body

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
