"""Digest deliveries: the claim protocol that makes each (subscription, edition) go out once.

A delivery row is created by the sender that *claims* it; the primary key (subscription_id,
edition) makes the claim unique across any number of concurrent senders on any machines, on
SQLite (claims run inside BEGIN IMMEDIATE) and PostgreSQL (INSERT .. ON CONFLICT DO NOTHING).

States: claimed -> sending -> sent | failed (permanent 5xx) | deferred (transient failures
exhausted; any later run takes it again) | skipped (no longer confirmed). A row left in
`claimed` or `sending` by a sender that died is taken over (compare-and-set on the old
claimer) once its lease expired or, on the same host, once the claimer's process is gone.
Only a row taken over from `sending` can produce a duplicate, and one already handed to SMTP
twice is not sent a third time (`skipped`): see docs/digests.md. `attempts` counts handoffs.

The state machine works on any table of the same shape (a `Ledger`: the table and its
recipient key column): digests use `deliveries` keyed by subscription, saved-search alerts
use `alert_deliveries` keyed by member (`storage/alerts.py` claims those rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Table, and_, bindparam, func, select
from sqlalchemy.sql.dml import Insert, Update

from paperfeed.storage.schema import alert_deliveries, deliveries, subscriptions

ACTIVE = ("claimed", "sending")


@dataclass(frozen=True, slots=True)
class Ledger:
    """A deliveries-shaped table: (key, edition) primary key plus the claim columns."""

    table: Table
    key_name: str

    @property
    def key(self) -> Column[int]:
        return self.table.c[self.key_name]  # type: ignore[no-any-return]


DIGESTS = Ledger(deliveries, "subscription_id")
ALERTS = Ledger(alert_deliveries, "user_id")


def insert_ignore(conn: Connection, table: object) -> Insert:
    """`INSERT .. ON CONFLICT DO NOTHING` for SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()  # type: ignore[arg-type]
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this sender owns, with what it needs to send it."""

    subscription_id: int
    email: str
    status: str  # the subscription's status now (send only when "confirmed")
    user_id: int | None
    hard_bounces: int
    attempts: int  # handoffs to SMTP so far (1+ means taken over from a stopped sender)


def take_over_stale(
    conn: Connection,
    *,
    edition: str,
    claimer: str,
    now: datetime,
    lease_seconds: int,
    claimer_gone: Callable[[str], bool],
    limit: int,
    ledger: Ledger = DIGESTS,
) -> int:
    """Take up to `limit` rows whose sender died (or that were deferred by another run).
    Each takeover is a compare-and-set on the old claimer and state. Returns how many."""
    expired = now - timedelta(seconds=lease_seconds)
    t = ledger.table
    rows = conn.execute(
        select(
            ledger.key,
            t.c.status,
            t.c.claimed_by,
            t.c.claimed_at,
            t.c.attempts,
        )
        .where(
            t.c.edition == edition,
            t.c.status.in_((*ACTIVE, "deferred")),
            t.c.claimed_by != claimer,
        )
        .order_by(ledger.key)
    ).all()
    gone: dict[str, bool] = {}
    taken = 0
    for sub_id, status, old, claimed_at, handoffs in rows:
        if taken >= limit:
            break
        if status != "deferred":
            if old not in gone:
                gone[old] = claimer_gone(old)
            if not gone[old] and claimed_at is not None and claimed_at > expired:
                continue
        values: dict[str, object]
        if status == "sending" and handoffs >= 2:
            # Handed to SMTP twice already, each time by a sender killed before it could
            # record the outcome: a third copy could follow two accepted ones. Stop here.
            values = {
                "status": "skipped",
                "claimed_by": claimer,
                "last_error": f"not sent a third time: {handoffs} handoffs to SMTP ended in "
                f"sender crashes (last {old}); the subscriber most likely has it",
            }
        else:
            note = f"taken over from {status} by {old}"
            if status == "sending":
                note += " (the first copy may have been accepted: possible duplicate)"
            values = {
                "status": "claimed",
                "claimed_by": claimer,
                "claimed_at": now,
                "last_error": note,
            }
        # Compare-and-set on (status, old claimer): a concurrent taker wins at most once.
        moved = _move(conn, sub_id, edition, old, from_status=status, ledger=ledger, **values)
        if moved and values["status"] == "claimed":
            taken += 1
    return taken


def claim_new(
    conn: Connection,
    *,
    edition: str,
    frequency: str,
    claimer: str,
    now: datetime,
    limit: int,
    message_id: Callable[[int], str],
    after_id: int = 0,
) -> int:
    """Claim up to `limit` confirmed `frequency` subscriptions with id > `after_id` that have
    no row for `edition` yet; rows another sender inserted first are left to it. Returns the
    highest candidate id (the caller's next `after_id`), 0 when there was none. The cursor
    keeps each batch's scan short: without it every batch would re-walk all the
    subscriptions already delivered, quadratic in the list size."""
    candidates = (
        conn.execute(
            select(subscriptions.c.id)
            .select_from(
                subscriptions.outerjoin(
                    deliveries,
                    and_(
                        deliveries.c.subscription_id == subscriptions.c.id,
                        deliveries.c.edition == edition,
                    ),
                )
            )
            .where(
                subscriptions.c.status == "confirmed",
                subscriptions.c.frequency == frequency,
                deliveries.c.subscription_id.is_(None),
                subscriptions.c.id > after_id,
            )
            .order_by(subscriptions.c.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not candidates:
        return 0
    conn.execute(
        insert_ignore(conn, deliveries),
        [
            {
                "subscription_id": sub_id,
                "edition": edition,
                "status": "claimed",
                "claimed_by": claimer,
                "claimed_at": now,
                "attempts": 0,
                "message_id": message_id(sub_id),
            }
            for sub_id in candidates
        ],
    )
    return int(candidates[-1])


def my_claims(conn: Connection, *, edition: str, claimer: str) -> list[Claim]:
    """Rows this sender holds in state `claimed`, in subscription order."""
    rows = conn.execute(
        select(
            deliveries.c.subscription_id,
            deliveries.c.attempts,
            subscriptions.c.email,
            subscriptions.c.status,
            subscriptions.c.user_id,
            subscriptions.c.hard_bounces,
        )
        .select_from(
            deliveries.join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        )
        .where(
            deliveries.c.edition == edition,
            deliveries.c.claimed_by == claimer,
            deliveries.c.status == "claimed",
        )
        .order_by(deliveries.c.subscription_id)
    ).all()
    claims = [
        Claim(r.subscription_id, r.email, r.status, r.user_id, r.hard_bounces, r.attempts)
        for r in rows
    ]
    return claims


def _move(
    conn: Connection,
    sub_id: int,
    edition: str,
    claimer: str,
    *,
    from_status: str,
    ledger: Ledger = DIGESTS,
    **values: object,
) -> bool:
    t = ledger.table
    result = conn.execute(
        t.update()
        .where(
            ledger.key == sub_id,
            t.c.edition == edition,
            t.c.claimed_by == claimer,
            t.c.status == from_status,
        )
        .values(**values)
    )
    return bool(result.rowcount)


def _own_row_update(ledger: Ledger, from_status: str, **values: object) -> Update:
    """A prepared compare-and-set update (built once: the two per-message updates run 10,000s
    of times per edition, and building statements dominated their cost)."""
    t = ledger.table
    return (
        t.update()
        .where(
            ledger.key == bindparam("b_sub"),
            t.c.edition == bindparam("b_edition"),
            t.c.claimed_by == bindparam("b_claimer"),
            t.c.status == from_status,
        )
        .values(**values)
    )


def _prepared(ledger: Ledger) -> tuple[Update, Update]:
    """(start sending, mark sent) of a ledger."""
    t = ledger.table
    return (
        _own_row_update(
            ledger, "claimed", status="sending", claimed_at=bindparam("b_now"),
            attempts=t.c.attempts + 1,
        ),
        _own_row_update(ledger, "sending", status="sent", sent_at=bindparam("b_now")),
    )


_PREPARED = {DIGESTS: _prepared(DIGESTS), ALERTS: _prepared(ALERTS)}


def _run(
    conn: Connection, stmt: Update, sub_id: int, edition: str, claimer: str, now: datetime
) -> bool:
    params = {"b_sub": sub_id, "b_edition": edition, "b_claimer": claimer, "b_now": now}
    return bool(conn.execute(stmt, params).rowcount)


def start_sending(
    conn: Connection, sub_id: int, edition: str, claimer: str, now: datetime,
    *, ledger: Ledger = DIGESTS,
) -> bool:
    """claimed -> sending, only if this sender still holds the claim (False: taken over).
    `attempts` counts these handoffs to SMTP."""
    return _run(conn, _PREPARED[ledger][0], sub_id, edition, claimer, now)


def mark_sent(
    conn: Connection, sub_id: int, edition: str, claimer: str, now: datetime,
    *, ledger: Ledger = DIGESTS,
) -> bool:
    return _run(conn, _PREPARED[ledger][1], sub_id, edition, claimer, now)


def mark_failed(
    conn: Connection, sub_id: int, edition: str, claimer: str, *, error: str, status: str,
    ledger: Ledger = DIGESTS,
) -> bool:
    """sending -> failed (permanent) or deferred (transient, retried by a later run)."""
    return _move(
        conn,
        sub_id,
        edition,
        claimer,
        from_status="sending",
        ledger=ledger,
        status=status,
        last_error=error[:2000],
    )


def mark_skipped(
    conn: Connection, sub_id: int, edition: str, claimer: str, reason: str,
    *, ledger: Ledger = DIGESTS,
) -> bool:
    return _move(
        conn, sub_id, edition, claimer, from_status="claimed", ledger=ledger, status="skipped",
        last_error=reason,
    )


def release(
    conn: Connection, *, edition: str, claimer: str, reason: str, ledger: Ledger = DIGESTS
) -> int:
    """Give back every row this sender still holds in `claimed` (never sent) as deferred."""
    t = ledger.table
    result = conn.execute(
        t.update()
        .where(
            t.c.edition == edition,
            t.c.claimed_by == claimer,
            t.c.status == "claimed",
        )
        .values(status="deferred", last_error=reason[:2000])
    )
    return int(result.rowcount)


def status_counts(conn: Connection, edition: str, *, ledger: Ledger = DIGESTS) -> dict[str, int]:
    t = ledger.table
    rows = conn.execute(
        select(t.c.status, func.count()).where(t.c.edition == edition).group_by(t.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def rows_for(conn: Connection, edition: str, ids: Iterable[int] | None = None) -> list[dict]:
    query = select(deliveries).where(deliveries.c.edition == edition)
    if ids is not None:
        query = query.where(deliveries.c.subscription_id.in_(list(ids)))
    return [dict(r) for r in conn.execute(query.order_by(deliveries.c.subscription_id)).mappings()]
