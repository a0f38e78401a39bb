"""Rendered pages shared by every visitor, signed in or not, with each visitor's own parts
filled in per request (list pages, paper pages, the search page).

Measured need (bench/pages.py): rendering a list page costs ~30 ms of CPU; signed-in members,
who vote and submit, never got the old anonymous-only cache. Now:

- A page is rendered once per (path, query, content version) and worker, *as nobody*: the parts
  that differ per visitor are *slots* — the upvote buttons (`upvote_button`), the account links
  (`account_nav`) — recorded as markers, and every CSRF token is one placeholder. The entry is
  the HTML cut at the markers.
- Each request fills the slots for its visitor: one query for which of the page's papers the
  member upvoted, the CSRF token computed once, slot HTML memoised per (slot, state).
  Anonymous visitors get the page assembled once; members the page filled once as
  for a member who voted for and saved nothing, with only their account links, their own
  parts and the controls of the papers they voted for or saved rendered (a month page has
  ~150 controls: filling them all was a third of a signed-in hit's CPU). A vote
  shows at once for its voter (their vote state is read per request, and the vote raised the
  content version, so every worker's next request renders anew), for everyone else as soon as
  their worker sees the new version: at once for members, within `VERSION_POLL` for
  anonymous visitors, whose requests read the version at most that often.
- The content version (storage/versions.py) is raised by every write that changes what pages
  show; entries also expire after `page_cache_seconds` (time-dependent text, and writes that do
  not raise the version).
- Safety: while a page is recorded, asking who the visitor is (`load_member`, `current_user`,
  `has_voted`...) answers "nobody" and marks the entry as anonymous-only; members then get a
  fresh, member-aware render (paper pages with comment forms, for instance). A request that
  resolved its member before rendering, or that carries cookies other than the session and
  CSRF cookies, bypasses the cache. Cached markup therefore never holds one member's state.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed.accounts.signin import SESSION_COOKIE
from paperfeed.caching import BoundedCache
from paperfeed.storage import versions
from paperfeed.web import cookies
from paperfeed.web.csrf import COOKIE_NAMES
from paperfeed.web.holes import HoledHtml

VERSION_POLL = 1.0  # seconds an anonymous request may trust the last version read
_KNOWN_COOKIES = frozenset({*COOKIE_NAMES, SESSION_COOKIE, cookies.HOST_PREFIX + SESSION_COOKIE})


@dataclass(frozen=True, slots=True)
class Slot:
    """A per-visitor part of a page: which kind, and the shared arguments it was called with."""

    kind: str
    args: tuple[Any, ...]


class _Token:
    """Where the visitor's CSRF token goes in an entry's pieces."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TOKEN"


TOKEN = _Token()
Piece = bytes | Slot | _Token


@dataclass(slots=True)
class Assembled:
    """The members' page as UTF-8 parts, joined per request with the CSRF token put at
    `tokens`. The parts that are the entry's text are the entry's own bytes objects, not
    copies (the pieces as str and two assembled copies held a page ~3 times:
    bench/worker_parts.py). `spans[n]`: where entry piece n lies in `parts`."""

    parts: list[bytes]
    tokens: list[int]
    spans: list[tuple[int, int]]

    def filled(self, token: bytes) -> list[bytes]:
        """The parts with the token in its places (a new list)."""
        out = self.parts.copy()
        for at in self.tokens:
            out[at] = token
        return out



@dataclass(slots=True)
class Entry:
    """A recorded page: UTF-8 text, slots and CSRF token places in order, the papers with an
    upvote button."""

    pieces: list[Piece]
    paper_ids: dict[str, tuple[str, ...]]  # slot kind -> the papers it is shown for
    members_ok: bool  # False: rendering asked who the visitor is; members render fresh
    status: int = 200
    # Assembled once for visitors without a session (see assemble_flat), in UTF-8: a request
    # joins bytes (encoding a ~200 kB page with one character beyond Latin-1 took 0.2-0.6 ms,
    # more than the rest of an anonymous hit).
    anonymous: Assembled | None = None
    # For members: the page filled as for a member who has voted for and saved none of its
    # papers (see MemberBase); a member's request renders only their account links, their own
    # parts and the controls of the papers they voted for or saved (a list page has 150).
    member_base: MemberBase | None = None


@dataclass(slots=True)
class MemberBase:
    """An entry's page for members: `page` is the page with every paper control filled for a
    member who voted for and saved nothing, so a piece rendered per member replaces its span."""

    page: Assembled
    controls: dict[tuple[str, str], list[int]]  # (kind, paper) -> pieces
    own: list[int]  # the pieces filled per member (account links, their own parts)


SHARED_TEXT = 512  # bytes: a text piece at least this long is shared, not copied (see below)


def assemble_flat(pieces: list[Piece], render: Callable[[Slot], str],
                  placeholder: str) -> Assembled:
    """The entry's page with each slot rendered, for a join per request: runs of short parts
    (slot HTML, short text) joined into one, text pieces of `SHARED_TEXT` bytes or more kept
    as the entry's own objects (not copied). Every part shared made a week page ~500 parts,
    whose join cost ~12 us of a ~250 us hit; one copy of the whole page doubled what an entry
    holds (bench/worker_parts.py)."""
    parts: list[bytes] = []
    tokens: list[int] = []
    run: list[bytes] = []

    def flush() -> None:
        if run:
            parts.append(run[0] if len(run) == 1 else b"".join(run))
            run.clear()

    for piece in pieces:
        if isinstance(piece, bytes):
            if len(piece) >= SHARED_TEXT:
                flush()
                parts.append(piece)
            else:
                run.append(piece)
        elif isinstance(piece, Slot):
            first, *rest = render(piece).split(placeholder)
            run.append(first.encode())
            for part in rest:
                flush()
                tokens.append(len(parts))
                parts.append(b"")
                run.append(part.encode())
        else:
            flush()
            tokens.append(len(parts))
            parts.append(b"")
    flush()
    return Assembled(parts=parts, tokens=tokens, spans=[])


def assemble(pieces: list[Piece], render: Callable[[int, Slot], str],
             placeholder: str) -> Assembled:
    """The entry's page with each slot rendered (`render(n, slot)`), text pieces shared."""
    parts: list[bytes] = []
    tokens: list[int] = []
    spans: list[tuple[int, int]] = []
    for n, piece in enumerate(pieces):
        start = len(parts)
        if isinstance(piece, bytes):
            parts.append(piece)
        elif isinstance(piece, Slot):
            first, *rest = render(n, piece).split(placeholder)
            parts.append(first.encode())
            for part in rest:
                tokens.append(len(parts))
                parts += [b"", part.encode()]
        else:
            tokens.append(len(parts))
            parts.append(b"")
        spans.append((start, len(parts)))
    return Assembled(parts=parts, tokens=tokens, spans=spans)


@dataclass(slots=True)
class Recorder:
    """Set on request.state while a page renders as nobody (see the module docstring)."""

    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    slots: list[Slot] = field(default_factory=list)
    consulted: bool = False  # someone asked who the visitor is

    def marker(self, slot: Slot) -> str:
        self.slots.append(slot)
        return f"\ue000{self.nonce}:{len(self.slots) - 1}\ue001"

    def entry(self, html: str, *, status: int, placeholder: str) -> Entry:
        cut = HoledHtml(html, f"\ue000{self.nonce}:", "\ue001")  # the hole names: slot numbers
        pieces: list[Piece] = []
        for hole, text in cut.pieces:
            if hole:
                pieces.append(self.slots[int(text)])
                continue
            first, *rest = text.split(placeholder)
            pieces.append(first.encode())
            for part in rest:
                pieces += [TOKEN, part.encode()]
        ids: dict[str, tuple[str, ...]] = {}
        for kind in ("upvote", "save", "save_form"):
            found = tuple(dict.fromkeys(s.args[0] for s in self.slots if s.kind == kind))
            if found:
                ids[kind] = found
        return Entry(pieces=pieces, paper_ids=ids, members_ok=not self.consulted, status=status)


def recorder(request: Request) -> Recorder | None:
    """The Recorder when this request is rendering a shared page, else None."""
    rec: Recorder | None = getattr(request.state, "fragments", None)
    return rec


# A Slot and its args (~160 bytes) and what it was filled with for anonymous visitors and for
# members (`Entry.anonymous`, `Entry.member_base`: an upvote form, up to ~640 bytes), cut at
# their CSRF tokens, with their places in the lists (tests/web/test_pages_cache.py measures it).
SLOT_BYTES = 860
PART_BYTES = 2 * 8  # a text piece's place in the entry's list and in the members' page


def entry_bytes(entry: Entry) -> int:
    """The memory an entry holds once both its pages are assembled: its text in UTF-8 once
    (the pages assembled for anonymous visitors and for members share it) and again for
    the short pieces the anonymous page joins into runs, its slots with what they were filled
    with, the lists. Bytes, not characters: counting characters let a 32 M-character budget
    hold ~100 MB (bench/serve_memory.py)."""
    texts = short = slots = 0
    for p in entry.pieces:
        if isinstance(p, bytes):
            texts += sys.getsizeof(p)
            short += len(p) if len(p) < SHARED_TEXT else 0
        elif isinstance(p, Slot):
            slots += 1
    return texts + short + SLOT_BYTES * slots + PART_BYTES * len(entry.pieces) + 3 * 56


class PageCache:
    """Bounded TTL cache of recorded pages; key = (path, query, content version).

    Bounded by entries and by the memory they hold (`entry_bytes`): every distinct query or
    paper is an entry (a paper page ~40 kB, a search page ~100 kB, its text held once), so
    each worker would keep tens of MB of pages nobody asks for again (bench/serve_memory.py);
    `max_bytes` keeps the most recently used within 16 MB per worker (~400 paper pages; when
    each page was held three times, ~150: 8 MB missed a 400-paper working set and cost a paper
    page 1.2x the CPU, bench/README "mem4"), and every worker holds its own (the
    pages everyone reuses, home and the current day, week and month in their sort orders, are
    ~10 pages; one-off searches and paper pages only churn)."""

    def __init__(self, *, ttl: float, max_entries: int = 512,
                 max_bytes: int = 16 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.poll = VERSION_POLL
        self._pages: BoundedCache[tuple[Any, ...], Entry] = BoundedCache(
            ttl=ttl, max_entries=max_entries, max_size=max_bytes, sizeof=entry_bytes)
        self._version: tuple[float, int] = (0.0, 0)  # (monotonic time read, value)
        # Keys of pages asked for once and not recorded (see `first_ask`).
        self._asked: BoundedCache[tuple[Any, ...], bool] = BoundedCache(
            ttl=ttl, max_entries=4 * max_entries)
        # Other per-worker read caches (the /api/daily_papers bodies) cleared together with
        # this one, so a write that must show at once shows in the API too.
        self.linked: list[Any] = []

    def get(self, key: tuple[Any, ...]) -> Entry | None:
        return self._pages.get(key)

    def put(self, key: tuple[Any, ...], entry: Entry) -> None:
        self._pages.put(key, entry)

    def first_ask(self, key: tuple[Any, ...]) -> bool:
        """True the first time `key` is asked for within the ttl (and remembers it): pages of
        which most are asked for once (a search) are recorded only when asked again."""
        if self._asked.get(key):
            return False
        self._asked.put(key, True)
        return True

    def entries(self) -> list[Entry]:
        """The pages held (a snapshot, for tests and figures)."""
        return self._pages.values()

    @property
    def bytes(self) -> int:
        """Memory held, in bytes (see entry_bytes)."""
        return self._pages.size

    def clear(self) -> None:
        """Drop every entry and re-read the content version on the next request (after a
        write in this worker; the version already keeps other workers right)."""
        self._pages.clear()
        self._version = (0.0, self._version[1])
        for other in self.linked:
            other.clear()

    def recent_version(self) -> int | None:
        """The last version read, if an anonymous request may still trust it (no I/O)."""
        read_at, value = self._version
        if read_at == 0.0 or time.monotonic() - read_at >= self.poll:
            return None
        return value

    def version(self, request: Request, *, fresh: bool) -> int:
        """The content version: read from the database unless `fresh` is False and the last
        read is younger than `poll` seconds."""
        now = time.monotonic()
        read_at, value = self._version
        if fresh or now - read_at >= self.poll or read_at == 0.0:
            value = versions.read(request.app.state.engine)
            self._version = (now, value)
        return value


def page_cache(request: Request) -> PageCache:
    """The app's page cache (created on first use from settings.page_cache_seconds)."""
    cache: PageCache | None = getattr(request.app.state, "page_cache", None)
    if cache is None:
        cache = PageCache(ttl=request.app.state.settings.page_cache_seconds)
        request.app.state.page_cache = cache
    return cache


def is_anonymous(request: Request) -> bool:
    return all(name in COOKIE_NAMES for name in request.cookies)


def cached_page(request: Request, render: Callable[[], Response], *,
                record_first: bool = True) -> Response:
    """The page `render()` makes, shared between visitors (see the module docstring).

    `record_first=False`: a page is recorded only when asked for a second time within the
    ttl. For searches: nearly every query is asked once, and each recorded one-off page
    (~100-400 kB) pushed the pages everyone reuses (home, the current lists) out of the
    worker's byte budget, so a crawl of distinct searches made list pages render again.
    (Server CPU per search page is the same either way: rendering a page's slots inline
    costs about what recording and filling them did; bench/README.md.)"""
    cache = page_cache(request)
    if (
        cache.ttl <= 0
        or getattr(request.state, "page_cache", False)  # nested call
        or not _KNOWN_COOKIES.issuperset(request.cookies)
        or getattr(request.state, "member", None) is not None  # resolved before rendering
    ):
        return render()
    request.state.page_cache = True
    signed_in = bool(cookies.read(request, SESSION_COOKIE))
    version = cache.version(request, fresh=signed_in)
    if signed_in:  # read fresh: the member and their votes may come from web/sessions.py
        request.state.content_version = version
    key = (request.url.path, request.url.query, version)
    entry = cache.get(key)
    if entry is not None:
        if signed_in and not entry.members_ok:
            return render()
        return _fill(request, entry)
    if not record_first and cache.first_ask(key):
        return render()
    rec = Recorder()
    request.state.fragments = rec
    try:
        response = render()
    except Exception:
        request.state.fragments = None
        if rec.consulted and signed_in:  # e.g. a hidden paper: moderators still see it
            return render()
        raise
    request.state.fragments = None
    if not isinstance(response, HTMLResponse):
        return response
    from paperfeed.web.slots import token_placeholder

    entry = rec.entry(bytes(response.body).decode(), status=response.status_code,
                      placeholder=token_placeholder(request))
    if response.status_code == 200:
        cache.put(key, entry)
    if rec.consulted and signed_in:
        return render()
    return _fill(request, entry)


async def shared_page(request: Request, render: Callable[[], Response]) -> Response:
    """`cached_page` for `async` routes: an anonymous visitor's hit, which needs no database
    read (the version is polled, the page already assembled), is served on the event loop;
    anything else (members, first renders, version reads) runs `cached_page` on the thread
    pool, as a plain route would. The hop to a worker thread and back was ~30% of an
    anonymous list page's CPU (~0.08 ms of 0.25, in-process)."""
    hit = _anonymous_hit(request)
    if hit is not None:
        return hit
    return await run_in_threadpool(cached_page, request, render)


def _anonymous_hit(request: Request) -> Response | None:
    """The assembled anonymous page when this request can have it without I/O, else None."""
    cache = page_cache(request)
    if (
        cache.ttl <= 0
        or not _KNOWN_COOKIES.issuperset(request.cookies)
        or cookies.read(request, SESSION_COOKIE)
    ):
        return None
    version = cache.recent_version()
    if version is None:
        return None
    entry = cache.get((request.url.path, request.url.query, version))
    if entry is None or entry.anonymous is None:
        return None
    from paperfeed.web.csrf import csrf_token

    return HTMLResponse(b"".join(entry.anonymous.filled(csrf_token(request).encode())),
                        status_code=entry.status)


def _fill(request: Request, entry: Entry) -> Response:
    """The recorded page with this visitor's slots and CSRF token."""
    from paperfeed.web import slots
    from paperfeed.web.csrf import csrf_token

    member = slots.visitor(request) if cookies.read(request, SESSION_COOKIE) else None
    placeholder, token = slots.token_placeholder(request), csrf_token(request)
    if member is None:
        page = entry.anonymous
        if page is None:
            state = slots.SlotState.for_request(request, None, entry.paper_ids)
            page = entry.anonymous = assemble_flat(entry.pieces, state.render, placeholder)
        body = b"".join(page.filled(token.encode()))
    else:
        state = slots.SlotState.for_request(request, member, entry.paper_ids)
        body = _member_body(entry, state, placeholder, token)
    return HTMLResponse(body, status_code=entry.status)


_PAPER_CONTROLS = frozenset({"upvote", "save", "save_form"})


def _member_base(entry: Entry, state: Any, placeholder: str) -> MemberBase:
    """Built once per entry (two threads may both build it: equal values), then only read."""
    from paperfeed.web.slots import SlotState

    nobody_in_particular = SlotState(state.request, state.member, set(), set())
    controls: dict[tuple[str, str], list[int]] = {}
    own: list[int] = []

    def render(n: int, slot: Slot) -> str:
        if slot.kind in _PAPER_CONTROLS:
            controls.setdefault((slot.kind, slot.args[0]), []).append(n)
            return nobody_in_particular.render(slot)
        own.append(n)
        return ""

    page = assemble(entry.pieces, render, placeholder)
    return MemberBase(page=page, controls=controls, own=own)


def _member_body(entry: Entry, state: Any, placeholder: str, token: str) -> bytes:
    """The page for a member (`state`: web/slots.SlotState): the entry's member base with the
    CSRF token, and the slots that are theirs rendered."""
    base = entry.member_base
    if base is None:
        base = entry.member_base = _member_base(entry, state, placeholder)
    page = base.page
    out = page.filled(token.encode())

    def put(n: int) -> None:
        start, end = page.spans[n]
        out[start] = state.render(cast(Slot, entry.pieces[n])).replace(placeholder, token).encode()
        for at in range(start + 1, end):
            out[at] = b""

    for n in base.own:
        put(n)
    for kinds, papers in ((("upvote",), state.voted), (("save", "save_form"), state.saved)):
        for paper_id in papers:
            for kind in kinds:
                for n in base.controls.get((kind, paper_id), ()):
                    put(n)
    return b"".join(out)
