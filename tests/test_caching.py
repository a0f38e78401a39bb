"""The one bounded, expiring, thread-safe cache (paperfeed/caching.py) that the page, card,
API, search, suggestion, slot, highlighter, query-vector and recommendation caches use."""

from __future__ import annotations

import sys
import threading

import pytest

from paperfeed.caching import BoundedCache


class Clock:
    """An injected clock: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_ttl_seconds_after_their_put() -> None:
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache(max_entries=10, ttl=5.0, timer=clock)
    cache.put("a", 1)
    clock.now += 4.5
    assert cache.get("a") == 1
    cache.put("b", 2)  # a later put: its own five seconds
    clock.now += 0.5  # exactly ttl after "a"'s put: gone
    assert cache.get("a") is None and cache.get("b") == 2
    assert cache.get_many(["a", "b"]) == {"b": 2}
    cache.put("a", 3)  # put again: fresh
    clock.now += 4.5
    assert cache.get("a") == 3 and cache.get("b") is None and cache.values() == [3]


def test_a_ttl_of_zero_keeps_nothing() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=10, ttl=0)
    cache.put("a", 1)
    cache.put_many({"b": 2})
    assert not cache.keeps and cache.get("a") is None and len(cache) == 0
    made: list[int] = []
    assert cache.get_or_make("c", lambda: made.append(1) or 3) == 3
    assert cache.get_or_make("c", lambda: made.append(1) or 3) == 3 and len(made) == 2


def test_least_recently_used_goes_first_and_reads_count_as_use() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert cache.get("a") == 0  # "a" is now the most recently used: "b" is the oldest
    cache.put("d", 3)
    assert [cache.get(k) for k in "abcd"] == [0, None, 2, 3]
    cache.get_many(["c"])  # reads in bulk count as use too
    cache.put("e", 4)
    assert [k for k in "acde" if cache.get(k) is not None] == ["c", "d", "e"]
    cache.put("c", 9)  # replacing a value is one entry, not two
    assert len(cache) == 3 and cache.get("c") == 9
    assert sorted(cache.values()) == [3, 4, 9]


def test_size_bound_and_entry_bound_hold_together() -> None:
    cache: BoundedCache[str, bytes] = BoundedCache(max_entries=4, max_size=1_000, sizeof=len)
    for k in range(10):
        cache.put(f"k{k}", b"x" * 300)
        assert cache.size <= 1_000
    assert cache.size == 900 and [cache.get(f"k{k}") is not None for k in range(10)] == \
        [False] * 7 + [True] * 3
    cache.put("k9", b"x" * 100)  # a replaced value's size is counted once
    assert cache.size == 700
    cache.put("huge", b"x" * 1_001)  # bigger than the whole budget: not kept, nothing lost
    assert cache.get("huge") is None and cache.size == 700 and len(cache) == 3
    for k in range(6):
        cache.put(f"small{k}", b"x")
    assert len(cache) == 4  # the entry bound holds when values are small
    cache.clear()
    assert cache.size == 0 and len(cache) == 0


def test_size_needs_its_measure() -> None:
    with pytest.raises(ValueError, match="caching"):
        BoundedCache(max_entries=4, max_size=100)


def test_pop_and_get_or_make() -> None:
    cache: BoundedCache[tuple[str, int], str] = BoundedCache(max_entries=4, ttl=60)
    calls: list[int] = []

    def make() -> str:
        calls.append(1)
        return "made"

    assert cache.get_or_make(("q", 1), make) == "made"
    assert cache.get_or_make(("q", 1), make) == "made" and len(calls) == 1
    assert cache.pop(("q", 1)) == "made" and cache.pop(("q", 1)) is None
    assert cache.get_or_make(("q", 1), make) == "made" and len(calls) == 2


@pytest.fixture
def switch_often():  # type: ignore[no-untyped-def]
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_threads_sharing_a_cache_never_see_it_broken(switch_often: None) -> None:
    """cachetools' caches are not thread-safe; a worker's threads share ours. Eight threads
    put, read and evict on a small bound at once: the bound holds, every value read is the
    one put under its key, and the size accounting ends where the entries say. (Threads
    switch every microsecond here, so a missing lock fails this test, as it did when tried.)"""
    cache: BoundedCache[int, bytes] = BoundedCache(max_entries=64, max_size=64 * 40,
                                                   sizeof=len, ttl=3600)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(seed: int) -> None:
        try:
            start.wait()
            for i in range(3_000):
                key = (seed * 7919 + i * 31) % 200
                value = str(key).encode() * (1 + key % 5)
                cache.put(key, value)
                got = cache.get((key + seed) % 200)
                if got is not None:
                    assert got == str((key + seed) % 200).encode() * (1 + (key + seed) % 200 % 5)
                found = cache.get_many(range(key, key + 5))
                assert all(v == str(k).encode() * (1 + k % 5) for k, v in found.items())
                if i % 100 == 0:
                    cache.pop(key)
        except BaseException as exc:  # the test thread reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 64 and cache.size <= 64 * 40
    held = cache.get_many(range(200))
    assert len(held) == len(cache) and cache.size == sum(len(v) for v in held.values())


def test_expired_entries_are_swept_out_even_when_nobody_reads_them() -> None:
    # Pages nobody reads any more must not stay until pushed out by newer ones: a put after
    # `ttl` has passed drops every expired entry, read or not, and frees their size.
    clock = Clock()
    cache: BoundedCache[str, str] = BoundedCache(max_entries=100, ttl=5.0, max_size=10_000,
                                                 sizeof=len, timer=clock)
    for i in range(20):
        cache.put(f"page{i}", "x" * 100)
    assert len(cache) == 20 and cache.size == 2000
    clock.now += 3.0
    cache.put("fresh", "y" * 50)  # within ttl of the last sweep: nothing swept yet
    assert len(cache) == 21
    clock.now += 3.0  # the 20 pages are 6 s old (expired), "fresh" is 3 s old
    cache.put("new", "z" * 10)
    assert len(cache) == 2 and cache.size == 60
    assert cache.get("fresh") == "y" * 50 and cache.get("page0") is None
