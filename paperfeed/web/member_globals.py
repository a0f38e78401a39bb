"""Template globals for member features, so any page can show them with one include.

`_upvote.html`, `_comments.html`, `_moderation.html` and `_account_nav.html` call these
with the request; each does at most one small indexed query.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from jinja2 import Environment

from paperfeed.accounts.comments import render_body
from paperfeed.models import Member
from paperfeed.storage import comments, moderation, votes
from paperfeed.web.deps import get_engine, load_member


def current_user(request: Request) -> Member | None:
    return load_member(request)


def has_voted(request: Request, paper_id: str) -> bool:
    member = load_member(request)
    if member is None:
        return False
    voted: dict[str, bool] = request.state.__dict__.setdefault("voted_cache", {})
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
        paper_comments=paper_comments,
        featured_entries=featured_entries,
        here=here,
    )
    env.filters["comment_html"] = render_body
