"""Digest subscriptions: the SQL behind subscribing, confirming, unsubscribing and bounces.

Addresses are stored lower-cased (the column is unique). A subscription is `pending` until
its confirmation link is followed, `confirmed` while it receives digests, `unsubscribed`
(kept, so the address is not mailed again) or `suspended` after repeated hard bounces.
Every function takes a Connection; callers open write transactions (`storage.db.write`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import RowMapping

from paperfeed.errors import BadRequest
from paperfeed.storage.deliveries import insert_ignore
from paperfeed.storage.schema import deliveries, subscriptions, users

STATUSES = ("pending", "confirmed", "unsubscribed", "suspended")


def get_by_email(conn: Connection, email: str) -> RowMapping | None:
    return (
        conn.execute(select(subscriptions).where(subscriptions.c.email == email.lower()))
        .mappings()
        .first()
    )


def get_by_id(conn: Connection, subscription_id: int) -> RowMapping | None:
    return (
        conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
        .mappings()
        .first()
    )


def get_for_link(conn: Connection, subscription_id: int, email: str) -> RowMapping | None:
    """The subscription a signed link names: id and address must both still match."""
    row = get_by_id(conn, subscription_id)
    if row is None or row["email"] != email.lower():
        return None
    return row


def request(conn: Connection, email: str, frequency: str, *, now: datetime) -> RowMapping:
    """The row for a subscribe request: a new `pending` row, or the existing one unchanged
    (an existing subscription only changes when its owner follows a signed link)."""
    row = get_by_email(conn, email)
    if row is not None:
        return row
    # ON CONFLICT DO NOTHING: the same address sent twice at once (a double click) found no
    # row in both transactions on PostgreSQL, and the second insert broke the unique address.
    conn.execute(
        insert_ignore(conn, subscriptions).values(
            email=email.lower(),
            frequency=frequency,
            status="pending",
            created_at=now,
            hard_bounces=0,
        )
    )
    found = get_by_email(conn, email)
    assert found is not None
    return found


def confirm(conn: Connection, email: str, frequency: str, *, now: datetime) -> RowMapping:
    """Confirm (or re-confirm) `email` at `frequency`; creates the row if it was removed.
    Following a confirmation link proves the address works, so bounces are reset."""
    row = get_by_email(conn, email)
    user_id = conn.execute(
        select(users.c.id).where(users.c.email == email.lower())
    ).scalar_one_or_none()  # a member with this address gets the "for you" section later
    if row is None:
        conn.execute(
            insert_ignore(conn, subscriptions).values(  # as in `request`: one row per address
                email=email.lower(),
                user_id=user_id,
                frequency=frequency,
                status="confirmed",
                created_at=now,
                confirmed_at=now,
                hard_bounces=0,
            )
        )
        row = get_by_email(conn, email)
    if row is None:
        raise RuntimeError(f"subscriptions: no row for {email!r} after inserting it")
    if row["status"] != "confirmed" or row["frequency"] != frequency or row["user_id"] != user_id:
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == row["id"])
            .values(
                user_id=user_id,
                status="confirmed",
                frequency=frequency,
                confirmed_at=row["confirmed_at"] if row["status"] == "confirmed" else now,
                unsubscribed_at=None,
                hard_bounces=0,
            )
        )
    found = get_by_email(conn, email)
    assert found is not None
    return found


def state_marker(row: RowMapping) -> str:
    """What a confirmation link is bound to: the row's last unsubscribe time ("" if never).
    Unsubscribing moves it on, so a link mailed before then cannot subscribe the address
    again; a link for a row that no longer exists is refused as well."""
    at = row["unsubscribed_at"]
    return at.isoformat() if at is not None else ""


def confirm_link(
    conn: Connection, email: str, frequency: str, since: str, *, now: datetime
) -> RowMapping:
    """Follow a confirmation link: confirm the pending (or unsubscribed, suspended) row the
    link was made for. BadRequest when the row is gone or its state moved on since the link
    was mailed; a confirmed row is left as it is (a second click changes nothing)."""
    row = get_by_email(conn, email)
    if row is None or state_marker(row) != since:
        raise BadRequest(
            "subscribe: this confirmation link is no longer valid; subscribe again to get a "
            "new one"
        )
    if row["status"] == "confirmed":
        return row
    return confirm(conn, email, frequency, now=now)


def unsubscribe(conn: Connection, subscription_id: int, *, now: datetime) -> bool:
    """Mark unsubscribed; True if it changed (idempotent: a second call changes nothing)."""
    result = conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id, subscriptions.c.status != "unsubscribed")
        .values(status="unsubscribed", unsubscribed_at=now)
    )
    return bool(result.rowcount)


def set_frequency(conn: Connection, subscription_id: int, frequency: str) -> bool:
    result = conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id, subscriptions.c.frequency != frequency)
        .values(frequency=frequency)
    )
    return bool(result.rowcount)


def add(
    conn: Connection, email: str, frequency: str, *, confirmed: bool, now: datetime
) -> RowMapping:
    """Admin add: create or update the row; `confirmed` skips double opt-in."""
    if confirmed:
        return confirm(conn, email, frequency, now=now)
    row = request(conn, email, frequency, now=now)
    if row["frequency"] != frequency:
        set_frequency(conn, row["id"], frequency)
    found = get_by_email(conn, email)
    assert found is not None
    return found


def remove(conn: Connection, email: str) -> bool:
    """Delete the row and its delivery history (admin; users unsubscribe instead)."""
    row = get_by_email(conn, email)
    if row is None:
        return False
    conn.execute(deliveries.delete().where(deliveries.c.subscription_id == row["id"]))
    conn.execute(subscriptions.delete().where(subscriptions.c.id == row["id"]))
    return True


def purge_pending(conn: Connection, *, before: datetime) -> int:
    """Delete subscriptions still `pending` (never confirmed) that were requested before
    `before`: an address nobody confirmed is not kept. Returns how many went."""
    stale = select(subscriptions.c.id).where(
        subscriptions.c.status == "pending", subscriptions.c.created_at < before
    )
    conn.execute(deliveries.delete().where(deliveries.c.subscription_id.in_(stale)))
    return conn.execute(
        subscriptions.delete().where(
            subscriptions.c.status == "pending", subscriptions.c.created_at < before
        )
    ).rowcount


def list_subscriptions(
    conn: Connection, *, status: str | None = None, frequency: str | None = None
) -> list[RowMapping]:
    query = select(subscriptions).order_by(subscriptions.c.id)
    if status:
        query = query.where(subscriptions.c.status == status)
    if frequency:
        query = query.where(subscriptions.c.frequency == frequency)
    return list(conn.execute(query).mappings())


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(subscriptions.c.status, func.count()).group_by(subscriptions.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def count_confirmed(conn: Connection, frequency: str) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                subscriptions.c.status == "confirmed", subscriptions.c.frequency == frequency
            )
        ).scalar_one()
    )


def record_hard_bounce(conn: Connection, subscription_id: int, *, limit: int) -> bool:
    """Count a permanent failure; suspend at `limit` bounces in a row. True if suspended now."""
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id)
        .values(hard_bounces=subscriptions.c.hard_bounces + 1)
    )
    result = conn.execute(
        subscriptions.update()
        .where(
            subscriptions.c.id == subscription_id,
            subscriptions.c.hard_bounces >= limit,
            subscriptions.c.status == "confirmed",
        )
        .values(status="suspended")
    )
    return bool(result.rowcount)


def reset_bounces(conn: Connection, subscription_id: int) -> None:
    """A delivery succeeded: bounces no longer count as 'in a row'."""
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id, subscriptions.c.hard_bounces > 0)
        .values(hard_bounces=0)
    )
