"""Moderator actions (hide a paper, remove a featured entry, ban a member), each logged.

Roles: member < moderator < admin. Only admins may act on admins; role changes come from the
command line (`paperfeed user set-role`) and are logged too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from paperfeed.accounts.guards import require_moderator
from paperfeed.errors import BadRequest, Forbidden, NotFound
from paperfeed.models import ROLES, Member, normalize_arxiv_id
from paperfeed.storage import moderation
from paperfeed.storage import users as store
from paperfeed.storage.db import write


def hide_paper(
    engine: Engine, moderator: Member, paper_id: str, *, hidden: bool, reason: str | None,
    now: datetime,
) -> str:
    require_moderator(moderator)
    pid = normalize_arxiv_id(paper_id)
    with write(engine) as conn:
        moderation.set_paper_hidden(conn, pid, hidden, actor_id=moderator.id, reason=reason,
                                    now=now)
    return pid


def remove_featured(
    engine: Engine, moderator: Member, featured_id: int, *, removed: bool, reason: str | None,
    now: datetime,
) -> str:
    require_moderator(moderator)
    with write(engine) as conn:
        return moderation.set_featured_removed(
            conn, featured_id, removed, actor_id=moderator.id, reason=reason, now=now
        )


def ban_member(
    engine: Engine, moderator: Member, username: str, *, banned: bool, reason: str | None,
    now: datetime,
) -> Member:
    """Ban (or unban) a member by username or email; a ban also ends their sessions."""
    require_moderator(moderator)
    with write(engine) as conn:
        target = store.find_member(conn, username)
        if target is None:
            raise NotFound(f"moderation: no member {username!r}")
        if target.id == moderator.id:
            raise BadRequest("moderation: you cannot ban yourself")
        if target.is_admin or (target.is_moderator and not moderator.is_admin):
            raise Forbidden(
                "moderation: only an admin can ban a moderator; admins cannot be banned"
            )
        store.set_banned(conn, target.id, banned)
        moderation.record(conn, actor_id=moderator.id, action="ban_member" if banned
                          else "unban_member", target_type="user", target_id=target.username,
                          reason=reason, now=now)
    return target


def set_role(
    engine: Engine, email: str, role: str, *, actor: Member | None, now: datetime
) -> Member:
    """Change a member's role (command line: actor None)."""
    if role not in ROLES:
        raise BadRequest(f"accounts: role must be one of {', '.join(ROLES)}, not {role!r}")
    if actor is not None and not actor.is_admin:
        raise Forbidden("accounts: only admins may change roles")
    with write(engine) as conn:
        target = store.require_member(conn, email)
        store.set_role(conn, target.id, role)
        moderation.record(conn, actor_id=actor.id if actor else None, action=f"set_role:{role}",
                          target_type="user", target_id=target.username, reason=None, now=now)
    target.role = role
    return target
