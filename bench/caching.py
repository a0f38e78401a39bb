"""CPU per get and put of paperfeed.caching.BoundedCache against the hand-written
OrderedDict cache it replaced (the card and search result caches are read on every page).

    nice -n 10 .venv/bin/python bench/caching.py            # --ops 200000 --rounds 3

Prints microseconds of process CPU per operation (hit, miss, put) for: the hand-written
expiring cache (web/ttl_cache.py as it was), BoundedCache with a ttl (an LRUCache of
(expiry, value)), BoundedCache without one, and cachetools.TTLCache behind a lock (measured
before choosing the first: about three times the hand-written cost). Interleaved rounds, so
the ratios hold on a loaded machine.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cachetools

from paperfeed.caching import BoundedCache


class HandTtl:
    """The hand-written cache replaced (web/ttl_cache.py before paperfeed/caching.py)."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] <= now:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


class LockedTtlCache:
    """cachetools.TTLCache as the library offers it, behind a lock."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self._data: cachetools.TTLCache[Any, Any] = cachetools.TTLCache(max_entries, ttl)
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value


def per_op(fn: Callable[[int], Any], ops: int) -> float:
    start = time.process_time()
    for i in range(ops):
        fn(i)
    return (time.process_time() - start) / ops * 1e6


def measure(cache: Any, ops: int) -> tuple[float, float, float]:
    keys = [("card", i, 7, 0, 0, 3, 2026) for i in range(1000)]  # a card key's shape
    for k in keys:
        cache.put(k, "x")
    n = len(keys)
    hit = per_op(lambda i: cache.get(keys[i % n]), ops)
    miss = per_op(lambda i: cache.get(("miss", i)), ops)
    put = per_op(lambda i: cache.put(keys[i % n], "y"), ops)
    return hit, miss, put


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    makers: dict[str, Callable[[], Any]] = {
        "hand-written (replaced)": lambda: HandTtl(ttl=60, max_entries=4096),
        "BoundedCache ttl": lambda: BoundedCache(ttl=60, max_entries=4096),
        "BoundedCache no ttl": lambda: BoundedCache(max_entries=4096),
        "TTLCache + lock": lambda: LockedTtlCache(ttl=60, max_entries=4096),
    }
    best: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, make in makers.items():
            got = measure(make(), args.ops)
            old = best.get(name)
            best[name] = list(got) if old is None else [min(a, b) for a, b in zip(old, got, strict=True)]
    base = best["hand-written (replaced)"]
    print(f"{'cache':26s} {'hit us':>8s} {'miss us':>8s} {'put us':>8s}  hit ratio")
    for name, (hit, miss, put) in best.items():
        print(f"{name:26s} {hit:8.3f} {miss:8.3f} {put:8.3f}  {hit / base[0]:.2f}")


if __name__ == "__main__":
    main()
