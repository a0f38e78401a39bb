"""Upvoting a paper: guards (ban, rate limits), the exact vote write, then auto-feature rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.accounts.guards import rate_limit_in, require_active
from paperfeed.autofeature import apply_rules
from paperfeed.config import Settings
from paperfeed.errors import NotFound
from paperfeed.models import Member, normalize_arxiv_id
from paperfeed.storage import votes
from paperfeed.storage.db import write
from paperfeed.storage.papers import get_paper


@dataclass(slots=True)
class VoteResult:
    paper_id: str
    upvoted: bool  # the member's vote is now present
    changed: bool  # this request added or removed a vote
    member_upvotes: int
    upvotes: int  # member + imported (what lists show)

    def as_json(self) -> dict[str, object]:
        return {"id": self.paper_id, "upvoted": self.upvoted, "changed": self.changed,
                "upvotes": self.upvotes, "memberUpvotes": self.member_upvotes}


def set_vote(
    engine: Engine, settings: Settings, member: Member, paper_id: str, *, up: bool, ip: str,
    now: datetime, later: Callable[..., Any] | None = None,
) -> VoteResult:
    """Add (`up`) or withdraw the member's upvote; idempotent either way.

    `later(func, *args, **kwargs)`, when given (a web route's `BackgroundTasks.add_task`),
    runs the "for you" refit after the response: a worker's first refit loads shared inputs,
    and the member should not wait for it to see their vote counted."""
    pid = normalize_arxiv_id(paper_id)
    require_active(member)
    # One write transaction: the rate-limit counters and the vote commit together.
    with write(engine) as conn:
        rate_limit_in(conn, settings, "vote", member, ip=ip, now=now)
        paper = get_paper(conn, pid)
        if paper is None or paper["hidden"]:
            raise NotFound(f"votes: no paper {pid!r}")
        if up:
            changed, count = votes.add_vote(conn, user_id=member.id, paper_id=pid, now=now)
        else:
            changed, count = votes.remove_vote(conn, user_id=member.id, paper_id=pid)
    if up and changed and settings.auto_feature_rules:
        apply_rules(engine, settings, now=now, paper_ids=[pid])
    if changed:
        from paperfeed.recommend.service import member_acted

        if later is not None:
            later(member_acted, engine, settings, member.id, now=now)
        else:
            member_acted(engine, settings, member.id, now=now)  # "for you" learns from it
    return VoteResult(pid, up, changed, count, count + int(paper["upstream_upvotes"] or 0))
