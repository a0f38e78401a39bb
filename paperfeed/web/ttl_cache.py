"""A bounded map whose entries expire: the per-worker read caches of the web layer.

Why one class: rendered cards (web/card_cache.py) and the public collections holding a paper
(web/collect_globals.py) are both "the same for every visitor for a few seconds, keyed by the
content version" and need the same three things: expiry, a size bound (least recently used
out first), and a lock, since a worker's threads share them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Entries live `ttl` seconds (none are kept when `ttl` <= 0), at most `max_entries`."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[Any, ...], tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> V | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] <= now:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
