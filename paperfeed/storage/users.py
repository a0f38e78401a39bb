"""Members, sign-in links, sessions and personal access tokens: all their SQL lives here.

Secrets never reach the database in the clear: sign-in links, session ids and API tokens are
stored as SHA-256 hashes (see accounts/secrets.py). Single-use and expiry checks are one
conditional UPDATE, so two concurrent uses of one link cannot both succeed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from paperfeed.errors import Conflict, NotFound
from paperfeed.models import Member
from paperfeed.storage import versions
from paperfeed.storage.schema import api_tokens, login_tokens, sessions, users


def _member(row: RowMapping | None) -> Member | None:
    if row is None:
        return None
    return Member(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        email=row["email"],
        role=row["role"],
        banned=bool(row["banned"]),
        has_password=row["password_hash"] is not None,
        avatar_url=row["avatar_url"],
    )


def _one(conn: Connection, where: object) -> Member | None:
    return _member(conn.execute(select(users).where(where)).mappings().first())  # type: ignore[arg-type]


def lock_member(conn: Connection, user_id: int) -> None:
    """Lock the member's row for the rest of this write transaction (PostgreSQL; SQLite's
    writer is single already), so two of their requests that check for something and then
    insert it (a form sent twice: a comment, a saved search, a collection's name) run one
    after the other: the second finds what the first inserted instead of inserting it too."""
    query = select(users.c.id).where(users.c.id == user_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    conn.execute(query)


def get_by_id(conn: Connection, user_id: int) -> Member | None:
    return _one(conn, users.c.id == user_id)


def get_by_email(conn: Connection, email: str) -> Member | None:
    return _one(conn, users.c.email == email.strip().lower())


def get_by_username(conn: Connection, username: str) -> Member | None:
    """Usernames are unique whatever their case (`Alice` cannot stand beside `alice`), so a
    lookup ignores case too."""
    return _one(conn, func.lower(users.c.username) == username.lower())


def get_by_login(conn: Connection, login: str) -> Member | None:
    """A member by email address or username (password sign-in accepts either)."""
    login = login.strip()
    return get_by_email(conn, login) if "@" in login else get_by_username(conn, login)


def password_hash(conn: Connection, user_id: int) -> str | None:
    return conn.execute(
        select(users.c.password_hash).where(users.c.id == user_id)
    ).scalar_one_or_none()


def username_taken(conn: Connection, username: str) -> bool:
    return conn.execute(
        select(func.count()).select_from(users)
        .where(func.lower(users.c.username) == username.lower())
    ).scalar_one() > 0


def free_username(conn: Connection, base: str = "member") -> str:
    """`base` if free, else `base-<random>`: a placeholder the member can change in settings."""
    if base != "member" and not username_taken(conn, base):
        return base
    while True:
        candidate = f"{base}-{secrets.token_hex(3)}"
        if not username_taken(conn, candidate):
            return candidate


def create_user(
    conn: Connection,
    *,
    email: str,
    now: datetime,
    username: str | None = None,
    display_name: str | None = None,
    role: str = "member",
) -> Member:
    """Insert a member (email lower-cased). Raises Conflict when the email or username exists."""
    email = email.strip().lower()
    name = username or free_username(conn)
    try:
        with conn.begin_nested():
            result = conn.execute(
                users.insert().values(
                    username=name,
                    display_name=display_name,
                    email=email,
                    role=role,
                    banned=False,
                    external=False,
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"accounts: {email} or username {name!r} already has an account") from exc
    member = get_by_id(conn, int(result.inserted_primary_key[0]))  # type: ignore[index]
    assert member is not None
    return member


def set_role(conn: Connection, user_id: int, role: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role))
    versions.touch(conn)  # web workers cache a session's member per content version


def set_banned(conn: Connection, user_id: int, banned: bool) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(banned=banned))
    versions.touch(conn)  # a banned member's comments and submissions leave pages
    if banned:
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def set_password_hash(conn: Connection, user_id: int, value: str | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=value))
    versions.touch(conn)  # the cached member's has_password (web/sessions.py)


def update_profile(
    conn: Connection, user_id: int, *, display_name: str | None, username: str
) -> None:
    """Change display name and username; Conflict when the username belongs to someone else."""
    try:
        with conn.begin_nested():
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(display_name=display_name, username=username)
            )
        versions.touch(conn)  # names shown as submitter and comment author
    except IntegrityError as exc:
        raise Conflict(f"accounts: the username {username!r} is taken; choose another") from exc


def find_member(conn: Connection, login: str) -> Member | None:
    """A member by email address or username, whichever `login` is (usernames of imported
    Hugging Face submitters may contain '@', so both are tried)."""
    login = login.strip()
    return get_by_email(conn, login) or get_by_username(conn, login)


def require_member(conn: Connection, login: str) -> Member:
    member = find_member(conn, login)
    if member is None:
        raise NotFound(
            f"accounts: no member with email or username {login.strip()!r} "
            "(create one: paperfeed user create EMAIL)"
        )
    return member


def require_by_email(conn: Connection, email: str) -> Member:
    member = get_by_email(conn, email)
    if member is None:
        raise NotFound(
            f"accounts: no member with email {email!r} (create one: paperfeed user create)"
        )
    return member


# --- sign-in links -------------------------------------------------------------------------


def add_login_token(
    conn: Connection, *, user_id: int | None, email: str, token_hash: str, now: datetime,
    expires_at: datetime,
) -> None:
    """A sign-in link for `email`; `user_id` is None for an address with no account yet (the
    account is created when the link is used, not when it is requested)."""
    conn.execute(
        login_tokens.insert().values(
            token_hash=token_hash, user_id=user_id, email=email.strip().lower(),
            created_at=now, expires_at=expires_at,
        )
    )


def _live_link(token_hash: str, now: datetime) -> tuple[object, ...]:
    return (
        login_tokens.c.token_hash == token_hash,
        login_tokens.c.used_at.is_(None),
        login_tokens.c.expires_at > now,
    )


def peek_login_token(
    conn: Connection, token_hash: str, *, now: datetime
) -> tuple[int | None, str | None] | None:
    """(member id, email) of a usable link without using it (the link page names the account);
    None if unknown, used or expired."""
    row = conn.execute(
        select(login_tokens.c.user_id, login_tokens.c.email).where(*_live_link(token_hash, now))  # type: ignore[arg-type]
    ).first()
    return None if row is None else (row[0], row[1])


def consume_login_token(
    conn: Connection, token_hash: str, *, now: datetime
) -> tuple[int | None, str | None] | None:
    """Mark a link used and return (member id, email); None if unknown, used or expired.

    One conditional UPDATE: of two concurrent uses exactly one sees rowcount 1.
    """
    result = conn.execute(
        update(login_tokens)
        .where(*_live_link(token_hash, now))  # type: ignore[arg-type]
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    row = conn.execute(
        select(login_tokens.c.user_id, login_tokens.c.email)
        .where(login_tokens.c.token_hash == token_hash)
    ).one()
    return row[0], row[1]


def delete_login_tokens(conn: Connection, *, user_id: int | None = None,
                        email: str | None = None) -> int:
    """Drop every sign-in link of a member (by id) or of an address (password change,
    sign out everywhere, account deletion)."""
    clauses = []
    if user_id is not None:
        clauses.append(login_tokens.c.user_id == user_id)
    if email:
        clauses.append(login_tokens.c.email == email.strip().lower())
    if not clauses:
        return 0
    return conn.execute(delete(login_tokens).where(or_(*clauses))).rowcount


def purge_login_tokens(conn: Connection, *, now: datetime) -> int:
    """Drop links that expired more than a day ago (housekeeping)."""
    result = conn.execute(
        delete(login_tokens).where(login_tokens.c.expires_at < now - timedelta(days=1))
    )
    return result.rowcount


# --- sessions ------------------------------------------------------------------------------


def add_session(
    conn: Connection, *, id_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        sessions.insert().values(
            id_hash=id_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def session_member(conn: Connection, id_hash: str, *, now: datetime) -> Member | None:
    found = session_lookup(conn, id_hash, now=now)
    return found[0] if found is not None else None


def session_lookup(
    conn: Connection, id_hash: str, *, now: datetime
) -> tuple[Member, datetime] | None:
    """The session's member and when the session expires (None: no such live session)."""
    row = (
        conn.execute(
            select(users, sessions.c.expires_at.label("session_expires_at"))
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.id_hash == id_hash, sessions.c.expires_at > now)
        )
        .mappings()
        .first()
    )
    member = _member(row)
    if member is None or row is None:
        return None
    return member, row["session_expires_at"]


# Ending sessions raises the content version: web workers keep a session's member for a few
# seconds per content version (web/sessions.py), so a signed-out or banned session is
# refused by every worker at once, not when that cache expires.
def delete_session(conn: Connection, id_hash: str) -> None:
    if conn.execute(delete(sessions).where(sessions.c.id_hash == id_hash)).rowcount:
        versions.touch(conn)


def delete_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> int:
    """End every session of a member except the one whose hash is `keep` (if any)."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.id_hash != keep)
    ended: int = conn.execute(query).rowcount
    if ended:
        versions.touch(conn)
    return ended


def delete_api_tokens(conn: Connection, user_id: int) -> int:
    return conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount


def purge_sessions(conn: Connection, *, now: datetime) -> int:
    """Drop expired sessions (housekeeping, run at each sign-in)."""
    return conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount


def session_exists(conn: Connection, id_hash: str) -> bool:
    return conn.execute(
        select(func.count()).select_from(sessions).where(sessions.c.id_hash == id_hash)
    ).scalar_one() > 0


# --- personal access tokens ----------------------------------------------------------------


def add_api_token(
    conn: Connection, *, user_id: int, name: str, token_hash: str, now: datetime
) -> int:
    result = conn.execute(
        api_tokens.insert().values(
            user_id=user_id, name=name, token_hash=token_hash, created_at=now
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def list_api_tokens(conn: Connection, user_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.created_at,
                   api_tokens.c.last_used_at)
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.id)
        ).mappings()
    )


def revoke_api_token(conn: Connection, *, user_id: int, token_id: int) -> bool:
    """Delete one of the member's own tokens; False when it is not theirs (or gone)."""
    result = conn.execute(
        delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    )
    return result.rowcount == 1


def api_token_member(
    conn: Connection, token_hash: str
) -> tuple[Member, int, datetime | None] | None:
    """(member, token id, last_used_at) for a token hash, or None."""
    row = (
        conn.execute(
            select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    member = _member(row)
    assert member is not None
    return member, row["token_id"], row["last_used_at"]


def touch_api_token(conn: Connection, token_id: int, *, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
