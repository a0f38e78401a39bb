"""Who a signed-in visitor is, and which papers they upvoted and saved: kept per worker for a
few seconds, per content version.

Why: a member's hit on a shared page (web/pages/cache.py) used to read the session, then the
member's votes and saves of the page's papers, on every request: three of the four queries of
a signed-in list page and about a third of its CPU (bench/pages.py, issue 11). A member's
request already reads the content version (storage/versions.py) fresh, and every write that
changes what these caches hold raises it: votes, saves, sign-out (one session or all), bans,
role and password changes, account deletion (storage/users.py, member_data.py). So an entry
made under the version a request read is exact for every later request that reads the same
version, in any worker; `MEMBER_SECONDS` only bounds how long a writer that forgot to raise
the version could be missed.

Rules that keep it safe:
- only requests that read the content version fresh (`request.state.content_version`, set by
  `cached_page` for members) use the caches; any other request reads the database as before;
- only GET (HEAD runs as GET): a form post, a vote, anything that changes state checks the
  session in the database;
- members are keyed by the session cookie's value and never kept past the session's expiry;
  votes and saves are keyed by the member's id: nothing of one member is served to another.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from fastapi import Request

from paperfeed.accounts.signin import session_hash, session_member
from paperfeed.caching import BoundedCache
from paperfeed.models import Member
from paperfeed.storage import collections, votes
from paperfeed.storage.users import session_lookup

MEMBER_SECONDS = 10.0
MARKS_LIMIT = 2_000  # a member with more votes (or saves) is asked per page, as before
ID_BYTES = 80  # a paper id in a set: the str and the set's slot

# (content version, member, session expiry)
_Members = BoundedCache[str, tuple[int, Member, datetime]]
# (member id, content version) -> (voted, saved); None where the member has more than the limit
_Marks = BoundedCache[tuple[int, int], tuple[set[str] | None, set[str] | None]]


class VisitorCache:
    """One worker's members by session cookie and their votes and saves (see the module)."""

    def __init__(self, *, seconds: float = MEMBER_SECONDS) -> None:
        self.members: _Members = BoundedCache(max_entries=4096, ttl=seconds)
        self.marks: _Marks = BoundedCache(
            max_entries=4096, ttl=seconds, max_size=8 * 1024 * 1024, sizeof=_marks_bytes)


def _marks_bytes(value: tuple[set[str] | None, set[str] | None]) -> int:
    return ID_BYTES * sum(len(s) for s in value if s is not None) + 200


def visitor_cache(request: Request) -> VisitorCache:
    state = request.app.state
    cache: VisitorCache | None = getattr(state, "visitor_cache", None)
    if cache is None:
        cache = state.visitor_cache = VisitorCache()
    return cache


def _version(request: Request) -> int | None:
    """The content version this request read fresh, when it may use the caches."""
    if request.method != "GET":
        return None
    version: int | None = getattr(request.state, "content_version", None)
    return version


def member_for(request: Request, cookie: str | None, *, now: datetime) -> Member | None:
    """The member of the session cookie `cookie` (None: no live session)."""
    engine, settings = request.app.state.engine, request.app.state.settings
    version = _version(request)
    if version is None or not cookie:
        return session_member(engine, settings, cookie, now=now)
    cache = visitor_cache(request).members
    hit = cache.get(cookie)
    if hit is not None and hit[0] == version and hit[2] > now:
        return hit[1]
    id_hash = session_hash(settings, cookie)
    if id_hash is None:
        return None
    with engine.connect() as conn:
        found = session_lookup(conn, id_hash, now=now)
    if found is None:
        return None
    cache.put(cookie, (version, found[0], found[1]))
    return found[0]


def marks_for(
    request: Request, member: Member, voting: Collection[str], saving: Collection[str]
) -> tuple[set[str], set[str]]:
    """Which of `voting` the member upvoted and which of `saving` they saved."""
    version = _version(request)
    cache = visitor_cache(request).marks
    hit = cache.get((member.id, version)) if version is not None else None
    engine = request.app.state.engine
    if hit is None:
        with engine.connect() as conn:
            if version is None:
                return (votes.voted_ids(conn, member.id, voting) if voting else set(),
                        collections.saved_ids(conn, member.id, saving) if saving else set())
            hit = (votes.voted_by(conn, member.id, limit=MARKS_LIMIT),
                   collections.saved_by(conn, member.id, limit=MARKS_LIMIT))
        cache.put((member.id, version), hit)
    all_voted, all_saved = hit
    if (all_voted is None and voting) or (all_saved is None and saving):
        with engine.connect() as conn:  # more than the limit: this page's papers only
            if all_voted is None and voting:
                all_voted = votes.voted_ids(conn, member.id, voting)
            if all_saved is None and saving:
                all_saved = collections.saved_ids(conn, member.id, saving)
    voted = all_voted.intersection(voting) if all_voted and voting else set()
    saved = all_saved.intersection(saving) if all_saved and saving else set()
    return voted, saved
