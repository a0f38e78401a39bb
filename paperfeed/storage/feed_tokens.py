"""Private feed tokens (table `feed_tokens`): create or reuse, look up, list, revoke.

The secret part of a private feed URL is computed by `web/feeds.py` from the row's nonce and
the site secret; this module only stores rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from paperfeed.storage.schema import feed_tokens


def ensure(
    conn: Connection, *, user_id: int, kind: str, arg: str = "", now: datetime
) -> RowMapping:
    """The member's token row for (kind, arg), created on first use (one per feed)."""
    row = get_for(conn, user_id=user_id, kind=kind, arg=arg)
    if row is not None:
        return row
    try:
        with conn.begin_nested():
            conn.execute(
                feed_tokens.insert().values(
                    user_id=user_id, kind=kind, arg=arg, nonce=secrets.token_hex(16),
                    created_at=now,
                )
            )
    except IntegrityError:  # another request created it a moment ago
        pass
    row = get_for(conn, user_id=user_id, kind=kind, arg=arg)
    assert row is not None
    return row


def get_for(conn: Connection, *, user_id: int, kind: str, arg: str = "") -> RowMapping | None:
    return conn.execute(
        select(feed_tokens).where(
            feed_tokens.c.user_id == user_id, feed_tokens.c.kind == kind, feed_tokens.c.arg == arg
        )
    ).mappings().first()


def get(conn: Connection, token_id: int) -> RowMapping | None:
    return conn.execute(select(feed_tokens).where(feed_tokens.c.id == token_id)).mappings().first()


def list_for(conn: Connection, user_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(feed_tokens).where(feed_tokens.c.user_id == user_id).order_by(feed_tokens.c.id)
        ).mappings()
    )


def revoke(conn: Connection, *, user_id: int, token_id: int) -> bool:
    """Delete one of the member's own feed tokens; False when it is not theirs (or gone)."""
    result = conn.execute(
        delete(feed_tokens).where(feed_tokens.c.id == token_id, feed_tokens.c.user_id == user_id)
    )
    return result.rowcount == 1


def touch(conn: Connection, token_id: int, *, now: datetime) -> None:
    conn.execute(update(feed_tokens).where(feed_tokens.c.id == token_id).values(last_used_at=now))
