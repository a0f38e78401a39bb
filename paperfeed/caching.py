"""The one bounded (least recently used out first), optionally expiring, thread-safe cache.

Why one module: the web layer's read caches (rendered pages and cards, API bodies, search
results, suggestions, slot HTML) and the search and recommendation memos (highlighters, query
vectors, anchors, paper features) all need the same few things: a bound on entries (and for
big values on their total size), an optional time to live, and a lock, since a worker's threads
share them. They were ten hand-rolled OrderedDicts; now they are `BoundedCache` over
`cachetools.LRUCache` (the order and the size accounting), with an expiry time beside each
value when entries expire. cachetools caches are not thread-safe on their own: every call here
holds the cache's lock.

What each cache means (its key, its bounds, what invalidates it) stays with its call site.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

import cachetools

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most `max_entries` entries; with `ttl`, each lives `ttl` seconds from its put (none
    are kept when `ttl` <= 0); with `max_size` and `sizeof`, the values' sizes add up to at
    most `max_size` (a value bigger than that is not kept). Least recently used out first.

    `timer` is the clock of the expiry (tests inject one)."""

    def __init__(
        self,
        *,
        max_entries: int,
        ttl: float | None = None,
        max_size: int | None = None,
        sizeof: Callable[[V], int] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if (max_size is None) != (sizeof is None):
            raise ValueError("caching: give max_size and sizeof together, or neither")
        self.max_entries = max_entries
        self.ttl = ttl
        self.max_size = max_size
        self.keeps = ttl is None or ttl > 0  # False: a ttl <= 0 turned the cache off
        self._sizeof = sizeof
        self._timer = timer
        # Each entry is (expiry time, value) in an LRUCache. Not cachetools.TTLCache: its
        # get/put cost 3x an LRUCache's (1.2 vs 0.4 us, bench/caching.py) and the card and
        # search caches are read on every page; an expired entry is dropped when read, or
        # when it comes out least recently used, as in the hand-written caches this replaced.
        # cachetools bounds by one measure: the size when given, else the entry count; the
        # entry bound is then kept here (see _put).
        entry_size = None if sizeof is None else (lambda entry: sizeof(entry[1]))
        limit = max_size if max_size is not None else max_entries
        self._data: cachetools.LRUCache[K, tuple[float, V]] = cachetools.LRUCache(
            limit, getsizeof=entry_size)
        self._lock = threading.Lock()
        # When expired entries were last swept out (see _sweep): without it, pages nobody reads
        # any more (tens of MB per worker) stayed until pushed out by newer ones.
        self._swept = timer()

    def get(self, key: K) -> V | None:
        """The value of `key` if present and not expired (it becomes the most recently used)."""
        with self._lock:
            hit = self._data.get(key)
        if hit is None:
            return None
        if self.ttl is not None and hit[0] <= self._timer():
            return None
        return hit[1]

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """{key: value} of those `keys` present and not expired, under one acquisition of
        the lock."""
        out: dict[K, V] = {}
        now = self._timer() if self.ttl is not None else None
        with self._lock:
            data = self._data
            for key in keys:
                hit = data.get(key)
                if hit is not None and (now is None or hit[0] > now):
                    out[key] = hit[1]
        return out

    def put(self, key: K, value: V) -> None:
        """Keep `value` under `key` (replacing any), dropping least recently used entries to
        stay within the bounds."""
        if not self.keeps:
            return
        if self._sizeof is not None and self.max_size is not None \
                and self._sizeof(value) > self.max_size:
            return
        expires = self._expiry()
        with self._lock:
            self._sweep(expires - self.ttl if self.ttl is not None else 0.0)
            self._put(key, (expires, value))

    def put_many(self, items: Mapping[K, V]) -> None:
        """`put` each of `items`, under one acquisition of the lock."""
        if not self.keeps or not items:
            return
        expires = self._expiry()
        with self._lock:
            self._sweep(expires - self.ttl if self.ttl is not None else 0.0)
            for key, value in items.items():
                self._put(key, (expires, value))

    def _expiry(self) -> float:
        return self._timer() + self.ttl if self.ttl is not None else 0.0

    def _sweep(self, now: float) -> None:
        """Drop every expired entry, at most once per `ttl` (under the lock, from a put): one
        pass over a few thousand entries every `ttl` seconds, so memory held by pages nobody
        reads any more is freed while the worker keeps serving (a worker that gets no new
        entries at all keeps what it has)."""
        if self.ttl is None or now - self._swept < self.ttl:
            return
        self._swept = now
        peek = cachetools.Cache.__getitem__  # the plain read, without LRUCache's reordering
        data = self._data
        for key in [k for k in data if peek(data, k)[0] <= now]:
            del data[key]

    def _put(self, key: K, entry: tuple[float, V]) -> None:
        data = self._data
        try:
            data[key] = entry
        except ValueError:  # bigger than max_size on its own
            data.pop(key, None)
            return
        if self.max_size is not None:
            while len(data) > self.max_entries:
                data.popitem()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value of `key`, or `make()` kept under it (not under the lock: two threads
        missing together may both make it; the last put stays)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        value = make()
        self.put(key, value)
        return value

    def values(self) -> list[V]:
        """A snapshot of the values held and not expired (reading them does not count as use:
        for tests and figures, not for serving)."""
        now = self._timer() if self.ttl is not None else None
        peek = cachetools.Cache.__getitem__  # the plain read, without LRUCache's reordering
        with self._lock:
            entries = [peek(self._data, key) for key in self._data]
        return [value for expires, value in entries if now is None or expires > now]

    def pop(self, key: K) -> V | None:
        with self._lock:
            hit = self._data.pop(key, None)
        return None if hit is None else hit[1]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    @property
    def size(self) -> int:
        """The values' total size (with `sizeof`), else the number of entries."""
        with self._lock:
            return int(self._data.currsize)

    def __len__(self) -> int:
        """Entries held (expired ones included until they are read or pushed out)."""
        with self._lock:
            return len(self._data)
