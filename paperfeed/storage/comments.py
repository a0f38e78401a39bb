"""Comments on papers: plain text bodies, edited/deleted by their author, hidden by moderators.

"Visible" = neither deleted nor hidden; storage.catalog.comment_counts counts those: the
comment count on cards, paper pages and `numComments` in the API. The count imported from
Hugging Face (`papers.upstream_comments`) is shown apart, as theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from paperfeed.errors import NotFound
from paperfeed.storage import versions
from paperfeed.storage.schema import comments, users
from paperfeed.storage.users import lock_member


@dataclass(slots=True)
class Comment:
    id: int
    paper_id: str
    user_id: int
    username: str
    display_name: str | None
    body: str
    created_at: datetime
    edited_at: datetime | None
    hidden: bool
    deleted: bool


_COLUMNS = (
    comments.c.id,
    comments.c.paper_id,
    comments.c.user_id,
    users.c.username,
    users.c.display_name,
    comments.c.body,
    comments.c.created_at,
    comments.c.edited_at,
    comments.c.hidden,
    comments.c.deleted,
)


def _comment(row: object) -> Comment:
    return Comment(*row)  # type: ignore[misc]


def same_recent_comment(
    conn: Connection, *, paper_id: str, user_id: int, body: str, since: datetime
) -> int | None:
    """The id of the member's comment on this paper with exactly this body posted at or after
    `since` (a double-submitted form), or None. Call it in the write transaction that then
    adds the comment: the member's row is locked first (`users.lock_member`), so two copies
    sent at once cannot both find none and both insert."""
    lock_member(conn, user_id)
    found = conn.execute(
        select(comments.c.id)
        .where(comments.c.paper_id == paper_id, comments.c.user_id == user_id,
               comments.c.created_at >= since, comments.c.deleted.is_(False),
               comments.c.body == body)
        .order_by(comments.c.id.desc())
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def add_comment(conn: Connection, *, paper_id: str, user_id: int, body: str, now: datetime) -> int:
    result = conn.execute(
        comments.insert().values(
            paper_id=paper_id, user_id=user_id, body=body, created_at=now, hidden=False,
            deleted=False,
        )
    )
    versions.touch(conn)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get_comment(conn: Connection, comment_id: int) -> Comment:
    row = conn.execute(
        select(*_COLUMNS).join(users, users.c.id == comments.c.user_id)
        .where(comments.c.id == comment_id)
    ).first()
    if row is None:
        raise NotFound(f"comments: no comment {comment_id}")
    return _comment(row)


def list_comments(
    conn: Connection, paper_id: str, *, include_hidden: bool = False
) -> list[Comment]:
    """Comments of a paper, oldest first; deleted ones never, hidden ones only for moderators."""
    query = (
        select(*_COLUMNS)
        .join(users, users.c.id == comments.c.user_id)
        .where(comments.c.paper_id == paper_id, comments.c.deleted.is_(False))
        .order_by(comments.c.created_at, comments.c.id)
    )
    if not include_hidden:
        query = query.where(comments.c.hidden.is_(False))
    return [_comment(r) for r in conn.execute(query)]


def edit_comment(conn: Connection, comment_id: int, *, body: str, now: datetime) -> None:
    conn.execute(
        update(comments).where(comments.c.id == comment_id).values(body=body, edited_at=now)
    )
    versions.touch(conn)


def delete_comment(conn: Connection, comment_id: int) -> None:
    conn.execute(update(comments).where(comments.c.id == comment_id).values(deleted=True))
    versions.touch(conn)


def set_hidden(conn: Connection, comment_id: int, hidden: bool) -> None:
    conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden=hidden))
    versions.touch(conn)
