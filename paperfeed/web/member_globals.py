"""Template globals for member features, so any page can show them with one include.

`_upvote.html`, `_comments.html`, `_moderation.html` and `_account_nav.html` call these
with the request; each does at most one small indexed query. List pages call `prime_votes`
first, so a signed-in member's upvote state for the whole list costs one query, not one per card.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from jinja2 import Environment

from paperfeed.accounts.comments import render_body
from paperfeed.models import Member
from paperfeed.storage import comments, moderation, votes
from paperfeed.web.deps import get_engine, load_member


def current_user(request: Request) -> Member | None:
    return load_member(request)


def _voted_cache(request: Request) -> dict[str, bool]:
    cache: dict[str, bool] = request.state.__dict__.setdefault("voted_cache", {})
    return cache


def prime_votes(request: Request, items: Iterable[Any]) -> str:
    """Load which of a list's papers the signed-in member upvoted, in one query (renders as "").
    Nothing to do while a shared page is recorded: its upvote buttons are slots."""
    if getattr(request.state, "fragments", None) is not None:
        return ""
    member = load_member(request)
    if member is None:
        return ""
    voted = _voted_cache(request)
    ids = [pid for pid in (getattr(item, "paper_id", None) for item in items or ()) if pid]
    wanted = [pid for pid in dict.fromkeys(ids) if pid not in voted]
    if wanted:
        with get_engine(request).connect() as conn:
            hits = votes.voted_ids(conn, member.id, wanted)
        voted.update({pid: pid in hits for pid in wanted})
    return ""


def has_voted(request: Request, paper_id: str) -> bool:
    member = load_member(request)
    if member is None:
        return False
    voted = _voted_cache(request)
    if paper_id not in voted:
        with get_engine(request).connect() as conn:
            voted[paper_id] = votes.has_voted(conn, member.id, paper_id)
    return voted[paper_id]


def paper_comments(request: Request, paper_id: str) -> list[comments.Comment]:
    member = load_member(request)
    with get_engine(request).connect() as conn:
        return comments.list_comments(
            conn, paper_id, include_hidden=bool(member and member.is_moderator)
        )


def featured_entries(request: Request, paper_id: str) -> list[dict[str, Any]]:
    with get_engine(request).connect() as conn:
        return moderation.featured_entries(conn, paper_id)


def here(request: Request) -> str:
    """This page's path and query: where a form returns to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def register(env: Environment) -> None:
    env.globals.update(
        current_user=current_user,
        has_voted=has_voted,
        prime_votes=prime_votes,
        paper_comments=paper_comments,
        featured_entries=featured_entries,
        here=here,
    )
    env.filters["comment_html"] = render_body
    from paperfeed.web import slots

    slots.register(env)
