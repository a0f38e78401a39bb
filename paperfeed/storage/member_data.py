"""The tables that hold members' data, and what "download my data" and "delete my account"
do with each: the one registry a feature adds its tables to.

`MEMBER_TABLES` lists every table with a column that names a member (a foreign key to
`users.id`, or a `*user_id` / `submitter_id` / `actor_id` column); tests/storage/
test_member_data.py fails when a table with such a column is missing, and when a table that
references a registered one is not listed as its child. So a feature that stores something per
member (collections, saved searches, a "for you" model) says here, in one line, whether it is
exported and what deletion does to it:

- `delete`: the rows go with the account (sessions, tokens, collections, ...);
- `content`: votes and comments: the member chooses to keep them as anonymous (they stay,
  pointing at the emptied account) or to remove them;
- `keep`: records that stay, attributed to the emptied account (a paper they put on a daily
  list, a moderation action they took).

The member's `users` row itself is never deleted: it is emptied of everything personal
(name, email, password, avatar) and marked `deleted_at`, so anonymous content and the
moderation log keep valid references on every database. All SQL for export and deletion is
here; `accounts/own_data.py` is the service the pages, the API and the CLI call.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Table, delete, or_, select, update

from paperfeed.errors import NotFound
from paperfeed.storage import versions
from paperfeed.storage import votes as vote_store
from paperfeed.storage.schema import (
    alert_deliveries,
    api_tokens,
    collection_items,
    collections,
    comments,
    deliveries,
    featured,
    feed_tokens,
    login_tokens,
    moderation_log,
    rate_limits,
    read_marks,
    recommend_feedback,
    recommend_profiles,
    saved_search_anchors,
    saved_search_matches,
    saved_searches,
    sessions,
    subscriptions,
    users,
    votes,
)

OnDelete = Literal["delete", "content", "keep"]
Content = Literal["keep", "remove"]
FORMAT = "paperfeed.member-data/1"


@dataclass(frozen=True)
class Child:
    """Rows of `table` reached through the parent's `parent_key` by `column` (exported inside
    each parent row under `name`, deleted before the parent)."""

    table: Table
    column: str
    name: str
    parent_key: str = "id"
    private: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberTable:
    table: Table
    on_delete: OnDelete
    column: str = "user_id"
    private: tuple[str, ...] = ()  # never exported: hashes and nonces, not the member's data
    children: tuple[Child, ...] = ()
    email_column: str | None = None  # rows matched by the member's address too
    remove: Callable[[Connection, int], None] | None = None  # `content` removal, if special
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.table.name)


def _remove_votes(conn: Connection, user_id: int) -> None:
    """Delete the member's votes and keep `papers.member_upvotes` exact."""
    paper_ids = list(conn.execute(select(votes.c.paper_id).where(votes.c.user_id == user_id))
                     .scalars())
    conn.execute(delete(votes).where(votes.c.user_id == user_id))
    for pid in paper_ids:
        vote_store.recount(conn, pid)


MEMBER_TABLES: tuple[MemberTable, ...] = (
    MemberTable(sessions, "delete", private=("id_hash",)),
    MemberTable(login_tokens, "delete", private=("token_hash",), email_column="email"),
    MemberTable(api_tokens, "delete", private=("token_hash",)),
    MemberTable(feed_tokens, "delete", private=("nonce",)),
    MemberTable(votes, "content", remove=_remove_votes),
    MemberTable(comments, "content"),
    MemberTable(featured, "keep", column="submitter_id"),
    MemberTable(moderation_log, "keep", column="actor_id"),
    MemberTable(subscriptions, "delete", email_column="email",
                children=(Child(deliveries, "subscription_id", "deliveries"),)),
    MemberTable(collections, "delete",
                children=(Child(collection_items, "collection_id", "items"),)),
    MemberTable(read_marks, "delete"),
    # "For you": the member's model (weights exported as base64 float32) and their feedback.
    MemberTable(recommend_profiles, "delete"),
    MemberTable(recommend_feedback, "delete"),
    # The compiled rule, the query's vector and its anchors are derived from the words saved.
    MemberTable(saved_searches, "delete", private=("rule", "vector", "model_id"),
                children=(Child(saved_search_matches, "search_id", "matches"),
                          Child(saved_search_anchors, "search_id", "anchors"))),
    MemberTable(alert_deliveries, "delete", private=("claimed_by",)),
)

# Columns that name a member but are not member data, with the reason (checked by the test).
NOT_MEMBER_DATA: dict[str, str] = {}


def registry() -> dict[str, MemberTable]:
    return {t.name: t for t in MEMBER_TABLES}


# --- export --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _rows(
    conn: Connection, table: Table, where: Any, private: tuple[str, ...]
) -> list[dict[str, Any]]:
    cols = [c for c in table.c if c.name not in private]
    query = select(*cols).where(where)
    pk = list(table.primary_key.columns)
    if pk:
        query = query.order_by(*pk)
    return [{str(k): _plain(v) for k, v in r.items()} for r in conn.execute(query).mappings()]


def _where(entry: MemberTable, user_id: int, email: str | None) -> Any:
    clauses = [entry.table.c[entry.column] == user_id]
    if entry.email_column and email:
        clauses.append(entry.table.c[entry.email_column] == email)
    return or_(*clauses)


def export_member(conn: Connection, user_id: int, *, now: datetime, site: str) -> dict[str, Any]:
    """Everything the member created or that is kept about them, as plain JSON values."""
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None or row["deleted_at"] is not None:
        raise NotFound(f"accounts: no member with id {user_id}")
    profile = {str(k): _plain(v) for k, v in row.items() if k != "password_hash"}
    profile["has_password"] = row["password_hash"] is not None
    tables: dict[str, list[dict[str, Any]]] = {}
    for entry in MEMBER_TABLES:
        found = _rows(conn, entry.table, _where(entry, user_id, row["email"]), entry.private)
        for child in entry.children:
            for parent in found:
                parent[child.name] = _rows(
                    conn, child.table,
                    child.table.c[child.column] == parent[child.parent_key], child.private,
                )
        tables[entry.name] = found
    return {"format": FORMAT, "exported_at": now.isoformat(), "site": site,
            "profile": profile, "tables": tables}


# --- deletion ------------------------------------------------------------------------------


def hashed(text: str) -> str:
    """The SHA-256 hex digest used for addresses in rate-limit keys (accounts/secrets.py)."""
    return hashlib.sha256(text.encode()).hexdigest()


def _rate_limit_prefixes(user_id: int, email: str | None, username: str) -> list[str]:
    out = [f"{kind}:user:{user_id}" for kind in ("vote", "submit", "comment")]
    for text in filter(None, [email, username.lower()]):
        out += [f"signin:addr:{hashed(text)}", f"signin:login:{hashed(text)}"]
    if email:
        out.append(f"subscribe:email:{hashed(email)[:32]}")
    return out


def delete_member(conn: Connection, user_id: int, *, content: Content, now: datetime) -> str:
    """Delete a member's account inside the caller's write transaction; returns the emptied
    account's new (anonymous) username. `content`: keep votes and comments as anonymous, or
    remove them."""
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None or row["deleted_at"] is not None:
        raise NotFound(f"accounts: no member with id {user_id}")
    email, username = row["email"], row["username"]
    versions.touch(conn)  # their votes, comments, sessions (cached per version) leave pages
    for entry in MEMBER_TABLES:
        where = _where(entry, user_id, email)
        if entry.on_delete == "keep" or (entry.on_delete == "content" and content == "keep"):
            continue
        if entry.remove is not None:
            entry.remove(conn, user_id)
            continue
        for child in entry.children:
            parents = select(entry.table.c[child.parent_key]).where(where).scalar_subquery()
            conn.execute(delete(child.table).where(child.table.c[child.column].in_(parents)))
        conn.execute(delete(entry.table).where(where))
    anonymous = f"deleted-{secrets.token_hex(5)}"
    # The moderation log names members it acted on by username: point those at the new name.
    conn.execute(
        update(moderation_log)
        .where(moderation_log.c.target_type == "user", moderation_log.c.target_id == username)
        .values(target_id=anonymous)
    )
    prefixes = _rate_limit_prefixes(user_id, email, username)
    conn.execute(delete(rate_limits).where(or_(
        *[rate_limits.c.key == p for p in prefixes],
        *[rate_limits.c.key.startswith(p + ":", autoescape=True) for p in prefixes],
    )))
    conn.execute(update(users).where(users.c.id == user_id).values(
        **_emptied_profile(), username=anonymous, role="member", banned=False, deleted_at=now,
    ))
    return anonymous


# `users` columns an emptied account keeps; every other column is reset (NULL, or its
# default), so a column a feature adds to `users` later is emptied without a change here.
KEPT_USER_COLUMNS = ("id", "username", "role", "banned", "external", "created_at", "deleted_at")


def _emptied_profile() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in users.c:
        if column.name in KEPT_USER_COLUMNS:
            continue
        if column.nullable:
            values[column.name] = None
        elif column.default is not None and column.default.is_scalar:
            values[column.name] = column.default.arg  # type: ignore[attr-defined]
    return values
