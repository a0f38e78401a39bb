"""Checks every member action passes first: not banned, role high enough, within rate limits.

Limits are counted per account and per IP (storage/ratelimit.hit, shared by all workers);
past a limit the action fails with RateLimited (429 + Retry-After).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.errors import Forbidden
from paperfeed.models import Member
from paperfeed.storage import ratelimit

MINUTE, HOUR, DAY = 60, 3600, 86400


def require_active(member: Member) -> None:
    if member.banned:
        raise Forbidden("accounts: this account is banned and cannot vote, submit or comment")


def require_moderator(member: Member) -> None:
    require_active(member)
    if not member.is_moderator:
        raise Forbidden("moderation: only moderators and admins may do this")


def require_admin(member: Member) -> None:
    require_active(member)
    if not member.is_admin:
        raise Forbidden("admin: only admins may see this page")


def _limits(settings: Settings, kind: str) -> tuple[int, int, int, str]:
    """(per account, per IP, window seconds, description) for an action kind."""
    if kind == "vote":
        return (settings.vote_limit_per_minute, settings.vote_ip_limit_per_minute, MINUTE,
                "votes")
    if kind == "submit":
        return (settings.submission_limit_per_day, settings.submission_ip_limit_per_day, DAY,
                "submissions")
    if kind == "comment":
        return (settings.comment_limit_per_hour, settings.comment_ip_limit_per_hour, HOUR,
                "comments")
    raise ValueError(kind)


def rate_limit(
    engine: Engine, settings: Settings, kind: str, member: Member, *, ip: str, now: datetime
) -> None:
    per_account, per_ip, window, what = _limits(settings, kind)
    ratelimit.hit(engine, f"{kind}:ip:{ip}", limit=per_ip, window_seconds=window, now=now,
                  what=f"{what} from this address")
    ratelimit.hit(engine, f"{kind}:user:{member.id}", limit=per_account, window_seconds=window,
                  now=now, what=what)


def rate_limit_in(
    conn: Connection, settings: Settings, kind: str, member: Member, *, ip: str, now: datetime
) -> None:
    """`rate_limit` inside the caller's write transaction."""
    per_account, per_ip, window, what = _limits(settings, kind)
    ratelimit.hit_in(conn, f"{kind}:ip:{ip}", limit=per_ip, window_seconds=window, now=now,
                     what=f"{what} from this address")
    ratelimit.hit_in(conn, f"{kind}:user:{member.id}", limit=per_account,
                     window_seconds=window, now=now, what=what)


def act(
    engine: Engine, settings: Settings, kind: str, member: Member, *, ip: str, now: datetime
) -> None:
    """Both checks, in order: a banned member is refused before being counted."""
    require_active(member)
    rate_limit(engine, settings, kind, member, ip=ip, now=now)
