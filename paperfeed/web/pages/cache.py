"""A short-lived cache of rendered pages (lists, paper pages) for anonymous visitors.

Measured need: rendering the home page costs ~5-10 ms, a cached hit ~0.3 ms; the target is
>= 500 req/s on 2 workers (bench/serve_bench.py).

Two anonymous visitors of one list see the same HTML except the CSRF token of the subscribe
form (HMAC of each visitor's cookie). So a hit stores the page together with the token it was
rendered with and swaps in the visitor's token. Requests carrying any cookie besides the CSRF
cookie (a signed-in member, say) bypass the cache, so per-user markup is never shared.
Each worker process keeps its own cache; `clear()` after writes that must show at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.web.csrf import COOKIE_NAMES, csrf_token


class PageCache:
    """Bounded TTL cache: key -> (expires, html, token the html was rendered with)."""

    def __init__(self, *, ttl: float, max_entries: int = 256) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[Any, ...], tuple[float, str, str]] = OrderedDict()
        self._lock = threading.Lock()
        # Other per-worker read caches (the /api/daily_papers bodies) cleared together with
        # this one, so a write that must show at once shows in the API too.
        self.linked: list[Any] = []

    def get(self, key: tuple[Any, ...]) -> tuple[str, str] | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] <= now:
                return None
            self._items.move_to_end(key)
            return hit[1], hit[2]

    def put(self, key: tuple[Any, ...], html: str, token: str) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, html, token)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
        for other in self.linked:
            other.clear()


def page_cache(request: Request) -> PageCache:
    """The app's page cache (created on first use from settings.page_cache_seconds)."""
    cache: PageCache | None = getattr(request.app.state, "page_cache", None)
    if cache is None:
        cache = PageCache(ttl=request.app.state.settings.page_cache_seconds)
        request.app.state.page_cache = cache
    return cache


def is_anonymous(request: Request) -> bool:
    return all(name in COOKIE_NAMES for name in request.cookies)


def cached_page(request: Request, render: Callable[[], Response]) -> Response:
    """`render()` once per URL (path + query) and TTL for anonymous visitors; everyone else,
    and nested calls, render fresh."""
    cache = page_cache(request)
    if cache.ttl <= 0 or not is_anonymous(request) or getattr(request.state, "page_cache", False):
        return render()
    request.state.page_cache = True
    key = (request.url.path, request.url.query)
    token = csrf_token(request)
    hit = cache.get(key)
    if hit is not None:
        html, old = hit
        return HTMLResponse(html.replace(old, token))
    response = render()
    if response.status_code == 200 and isinstance(response, HTMLResponse):
        cache.put(key, bytes(response.body).decode(), token)
    return response
