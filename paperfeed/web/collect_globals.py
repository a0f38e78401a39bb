"""Template globals for collections, so any page can show a "save" control with one include.

`_save.html` (on cards) and `_paper_collections.html` (on the paper page) call these with the
request. List pages call `prime_saved` first, so which papers of a list the member saved costs
one query, not one per card; anonymous visitors cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from jinja2 import Environment

from paperfeed import library
from paperfeed.caching import BoundedCache
from paperfeed.storage import collections as store
from paperfeed.storage.collections import CollectionRow
from paperfeed.web.deps import get_engine, load_member


def _saved_cache(request: Request) -> dict[str, bool]:
    cache: dict[str, bool] = request.state.__dict__.setdefault("saved_cache", {})
    return cache


def prime_saved(request: Request, items: Iterable[Any]) -> str:
    """Load which of a list's papers the signed-in member saved, in one query (renders "").
    Nothing to do while a shared page is recorded: its save controls are slots."""
    if getattr(request.state, "fragments", None) is not None:
        return ""
    member = load_member(request)
    if member is None:
        return ""
    saved = _saved_cache(request)
    ids = [pid for pid in (getattr(item, "paper_id", None) for item in items or ()) if pid]
    wanted = [pid for pid in dict.fromkeys(ids) if pid not in saved]
    if wanted:
        with get_engine(request).connect() as conn:
            hits = store.saved_ids(conn, member.id, wanted)
        saved.update({pid: pid in hits for pid in wanted})
    return ""


def is_saved(request: Request, paper_id: str) -> bool:
    member = load_member(request)
    if member is None:
        return False
    saved = _saved_cache(request)
    if paper_id not in saved:
        with get_engine(request).connect() as conn:
            saved[paper_id] = bool(store.saved_ids(conn, member.id, [paper_id]))
    return saved[paper_id]


def my_collections(request: Request) -> list[CollectionRow]:
    member = load_member(request)
    if member is None:
        return []
    cached: list[CollectionRow] | None = getattr(request.state, "my_collections", None)
    if cached is None:
        cached = library.my_collections(get_engine(request), member)
        request.state.my_collections = cached
    return cached


def collections_with(request: Request, paper_id: str) -> list[CollectionRow]:
    """The member's collections that hold the paper."""
    member = load_member(request)
    if member is None:
        return []
    ids = library.containing(get_engine(request), member, paper_id)
    return [c for c in my_collections(request) if c.id in ids]


def is_read(request: Request, paper_id: str) -> bool:
    member = load_member(request)
    if member is None:
        return False
    with get_engine(request).connect() as conn:
        return bool(store.read_ids(conn, member.id, [paper_id]))


def public_collections_with(request: Request, paper_id: str) -> list[CollectionRow]:
    """Public collections holding a paper, shared per (paper, content version) for
    `page_cache_seconds`: the paper page's collections box is rendered for each request (it
    shows the member's own collections too), and this list, the same for every visitor, was a
    seventh of a paper page's CPU (building the query). Collection writes raise the content
    version; a write in this worker clears it with the page cache."""
    from paperfeed.web.pages.cache import page_cache

    state = request.app.state
    pages = page_cache(request)
    shared: BoundedCache[tuple[str, int], list[CollectionRow]] | None = getattr(
        state, "public_collections", None)
    if shared is None:
        shared = state.public_collections = BoundedCache(
            ttl=state.settings.page_cache_seconds, max_entries=4096)
        pages.linked.append(shared)
    key = (paper_id, pages.version(request, fresh=False))
    rows = shared.get(key)
    if rows is None:
        rows = library.public_collections_with(get_engine(request), paper_id, limit=10)
        shared.put(key, rows)
    return rows


def register(env: Environment) -> None:
    env.globals.update(
        prime_saved=prime_saved,
        is_saved=is_saved,
        my_collections=my_collections,
        collections_with=collections_with,
        is_read=is_read,
        public_collections_with=public_collections_with,
    )
