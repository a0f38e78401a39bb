"""What a member changes on the settings page: names, password, personal access tokens.

API tokens are shown once at creation and stored hashed; `member_for_token` resolves an
`Authorization: Bearer` header (and records last use at most once an hour, to keep reads
from turning into writes).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from paperfeed.accounts import passwords
from paperfeed.accounts.secrets import hash_secret, new_api_token
from paperfeed.errors import BadRequest, NotFound, Unauthorized
from paperfeed.models import Member
from paperfeed.storage import users as store
from paperfeed.storage.db import write

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,38}$")


def update_profile(engine: Engine, member: Member, *, username: str, display_name: str) -> None:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise BadRequest(
            "settings: a username has 2-39 letters, digits, '.', '_' or '-' and starts with a "
            "letter or digit"
        )
    name = display_name.strip()[:128] or None
    with write(engine) as conn:
        store.update_profile(conn, member.id, display_name=name, username=username)


def _check_current(engine: Engine, member: Member, current: str) -> None:
    with engine.connect() as conn:
        stored = store.password_hash(conn, member.id)
    if stored is not None and not passwords.verify(stored, current):
        raise BadRequest("settings: the current password is wrong")


def set_password(
    engine: Engine, member: Member, *, current: str, new: str, keep_session: str | None = None,
    revoke_tokens: bool = False,
) -> int:
    """Set or change the password; changing one needs the current password. Every other
    session (all but `keep_session`, a session hash) and every unused sign-in link end, and
    with `revoke_tokens` the personal access tokens too: whoever had the old password or a
    stolen session is out. Returns how many sessions ended."""
    _check_current(engine, member, current)
    value = passwords.hash_password(new)
    with write(engine) as conn:
        store.set_password_hash(conn, member.id, value)
        return _end_access(conn, member, keep_session=keep_session, revoke_tokens=revoke_tokens)


def remove_password(
    engine: Engine, member: Member, *, current: str, keep_session: str | None = None
) -> None:
    """Back to sign-in by email only. Needs the current password: otherwise a stolen session
    could remove it and then set its own without ever knowing it."""
    with engine.connect() as conn:
        stored = store.password_hash(conn, member.id)
    if stored is not None and not passwords.verify(stored, current):
        raise BadRequest("settings: enter your current password to remove it")
    with write(engine) as conn:
        store.set_password_hash(conn, member.id, None)
        _end_access(conn, member, keep_session=keep_session, revoke_tokens=False)


def sign_out_everywhere(engine: Engine, member: Member, *, revoke_tokens: bool = False) -> int:
    """End every session (this one too) and unused sign-in link of the member."""
    with write(engine) as conn:
        return _end_access(conn, member, keep_session=None, revoke_tokens=revoke_tokens)


def _end_access(
    conn: Connection, member: Member, *, keep_session: str | None, revoke_tokens: bool
) -> int:
    ended = store.delete_sessions(conn, member.id, keep=keep_session)
    store.delete_login_tokens(conn, user_id=member.id, email=member.email)
    if revoke_tokens:
        store.delete_api_tokens(conn, member.id)
    return ended


def create_api_token(engine: Engine, member: Member, *, name: str, now: datetime) -> str:
    """A new personal access token (returned once, stored hashed)."""
    label = name.strip()[:128] or "token"
    token = new_api_token()
    with write(engine) as conn:
        store.add_api_token(
            conn, user_id=member.id, name=label, token_hash=hash_secret(token), now=now
        )
    return token


def revoke_api_token(engine: Engine, member: Member, token_id: int) -> None:
    with write(engine) as conn:
        if not store.revoke_api_token(conn, user_id=member.id, token_id=token_id):
            raise NotFound("settings: no such token among yours")


def member_for_token(engine: Engine, token: str, *, now: datetime) -> Member:
    """The member owning a personal access token; Unauthorized when unknown."""
    with engine.connect() as conn:
        found = store.api_token_member(conn, hash_secret(token.strip()))
    if found is None:
        raise Unauthorized("api: invalid or revoked token")
    member, token_id, last_used = found
    if last_used is None or now - last_used > timedelta(hours=1):
        with write(engine) as conn:
            store.touch_api_token(conn, token_id, now=now)
    return member
