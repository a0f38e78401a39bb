"""Collections storage: members' named lists of papers, their ordered items, and read marks.

Writes run inside the caller's write transaction (`storage.db.write`). A collection's row is
locked first on PostgreSQL (`FOR UPDATE`; SQLite's BEGIN IMMEDIATE already serialises
writers), so two concurrent appends or reorders of one list never interleave their
position updates. Positions are dense from 0 after a reorder; appends take max + 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, delete, false, func, select, true, update
from sqlalchemy.sql.elements import ColumnElement

from paperfeed.storage import versions
from paperfeed.storage.deliveries import insert_ignore
from paperfeed.storage.schema import collection_items, collections, papers, read_marks, users


@dataclass(frozen=True, slots=True)
class CollectionRow:
    """A collection with its owner's public name and how many papers it holds."""

    id: int
    user_id: int
    name: str
    description: str | None
    public: bool
    created_at: datetime
    updated_at: datetime
    owner: str  # username
    owner_name: str | None  # display name
    count: int = 0


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One paper in a collection, with what a list shows of it."""

    paper_id: str
    position: int
    note: str | None
    added_at: datetime
    title: str
    abstract: str
    authors: list[dict[str, object]]
    published_at: datetime | None
    upvotes: int
    read: bool


@dataclass(frozen=True, slots=True)
class SavedPaper:
    """A paper a member saved to one of their collections, and when (the earliest save)."""

    paper_id: str
    saved_at: datetime


def name_key(name: str) -> str:
    return name.casefold()


_COLUMNS = (
    collections.c.id,
    collections.c.user_id,
    collections.c.name,
    collections.c.description,
    collections.c.public,
    collections.c.created_at,
    collections.c.updated_at,
    users.c.username,
    users.c.display_name,
)


def _count_subquery() -> ColumnElement[Any]:
    return (
        select(func.count())
        .select_from(collection_items.join(papers, papers.c.id == collection_items.c.paper_id))
        .where(collection_items.c.collection_id == collections.c.id, papers.c.hidden == false())
        .scalar_subquery()
    )


def _row(r: Row[Any]) -> CollectionRow:
    return CollectionRow(
        id=r.id,
        user_id=r.user_id,
        name=r.name,
        description=r.description,
        public=bool(r.public),
        created_at=r.created_at,
        updated_at=r.updated_at,
        owner=r.username,
        owner_name=r.display_name,
        count=int(r.n or 0),
    )


def _select() -> Select[Any]:
    return select(*_COLUMNS, _count_subquery().label("n")).select_from(
        collections.join(users, users.c.id == collections.c.user_id)
    )


def get(conn: Connection, collection_id: int) -> CollectionRow | None:
    row = conn.execute(_select().where(collections.c.id == collection_id)).first()
    return _row(row) if row is not None else None


def list_for_user(
    conn: Connection, user_id: int, *, public_only: bool = False
) -> list[CollectionRow]:
    """A member's collections, most recently changed first."""
    query = _select().where(collections.c.user_id == user_id)
    if public_only:
        query = query.where(collections.c.public == true())
    rows = conn.execute(query.order_by(collections.c.updated_at.desc(), collections.c.id.desc()))
    return [_row(r) for r in rows]


def count_for_user(conn: Connection, user_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(collections).where(collections.c.user_id == user_id)
        ).scalar_one()
    )


def find_by_name(conn: Connection, user_id: int, name: str) -> CollectionRow | None:
    row = conn.execute(
        _select().where(
            collections.c.user_id == user_id, collections.c.name_key == name_key(name)
        )
    ).first()
    return _row(row) if row is not None else None


def create(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    description: str | None,
    public: bool,
    now: datetime,
) -> int:
    result = conn.execute(
        collections.insert().values(
            user_id=user_id,
            name=name,
            name_key=name_key(name),
            description=description,
            public=public,
            created_at=now,
            updated_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def lock(conn: Connection, collection_id: int) -> int | None:
    """Lock the collection row for this transaction; its owner's id, or None if it is gone."""
    query = select(collections.c.user_id).where(collections.c.id == collection_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    owner = conn.execute(query).scalar_one_or_none()
    return int(owner) if owner is not None else None


def update_collection(
    conn: Connection, collection_id: int, *, now: datetime, **values: object
) -> None:
    if "name" in values:
        values["name_key"] = name_key(str(values["name"]))
    versions.touch(conn)
    conn.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(updated_at=now, **values)
    )


def touch(conn: Connection, collection_id: int, now: datetime) -> None:
    """The collection changed: its `updated_at`, and the site's content version (paper and
    profile pages list public collections)."""
    versions.touch(conn)
    conn.execute(
        update(collections).where(collections.c.id == collection_id).values(updated_at=now)
    )


def delete_collection(conn: Connection, collection_id: int) -> None:
    # Items first: SQLite enforces ON DELETE CASCADE only with foreign keys on (they are, but
    # an explicit delete keeps this independent of the connection's pragmas).
    versions.touch(conn)
    conn.execute(delete(collection_items).where(collection_items.c.collection_id == collection_id))
    conn.execute(delete(collections).where(collections.c.id == collection_id))


def item_count(conn: Connection, collection_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(collection_items)
            .where(collection_items.c.collection_id == collection_id)
        ).scalar_one()
    )


def add_item(
    conn: Connection, collection_id: int, paper_id: str, *, note: str | None, now: datetime
) -> bool:
    """Append the paper (at the end). Returns False when it was already there (note updated
    only when one is given)."""
    last = conn.execute(
        select(func.max(collection_items.c.position)).where(
            collection_items.c.collection_id == collection_id
        )
    ).scalar_one_or_none()
    stmt = insert_ignore(conn, collection_items).values(
        collection_id=collection_id,
        paper_id=paper_id,
        position=(int(last) + 1) if last is not None else 0,
        note=note,
        added_at=now,
    )
    added = bool(conn.execute(stmt.returning(collection_items.c.paper_id)).first())
    if not added and note is not None:
        set_note(conn, collection_id, paper_id, note)
    return added


def set_note(conn: Connection, collection_id: int, paper_id: str, note: str | None) -> bool:
    result = conn.execute(
        update(collection_items)
        .where(
            collection_items.c.collection_id == collection_id,
            collection_items.c.paper_id == paper_id,
        )
        .values(note=note)
    )
    return bool(result.rowcount)


def remove_item(conn: Connection, collection_id: int, paper_id: str) -> bool:
    result = conn.execute(
        delete(collection_items).where(
            collection_items.c.collection_id == collection_id,
            collection_items.c.paper_id == paper_id,
        )
    )
    return bool(result.rowcount)


def ordered_ids(conn: Connection, collection_id: int) -> list[str]:
    """Every paper id in the collection, in list order (hidden papers included)."""
    return list(
        conn.execute(
            select(collection_items.c.paper_id)
            .where(collection_items.c.collection_id == collection_id)
            .order_by(
                collection_items.c.position,
                collection_items.c.added_at,
                collection_items.c.paper_id,
            )
        ).scalars()
    )


def set_order(conn: Connection, collection_id: int, paper_ids: Sequence[str]) -> None:
    """Positions 0..n-1 in the given order (the caller passes every id of the collection)."""
    for position, pid in enumerate(paper_ids):
        conn.execute(
            update(collection_items)
            .where(
                collection_items.c.collection_id == collection_id,
                collection_items.c.paper_id == pid,
            )
            .values(position=position)
        )


def items(
    conn: Connection,
    collection_id: int,
    *,
    reader_id: int | None,
    include_read: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[ItemRow]:
    """The collection's visible papers in list order; `read` says whether `reader_id` marked
    each read, and `include_read=False` leaves those out."""
    read_join = and_(
        read_marks.c.paper_id == papers.c.id, read_marks.c.user_id == (reader_id or -1)
    )
    query = (
        select(
            collection_items.c.paper_id,
            collection_items.c.position,
            collection_items.c.note,
            collection_items.c.added_at,
            papers.c.title,
            papers.c.abstract,
            papers.c.authors,
            papers.c.published_at,
            (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"),
            read_marks.c.read_at,
        )
        .select_from(
            collection_items.join(papers, papers.c.id == collection_items.c.paper_id).outerjoin(
                read_marks, read_join
            )
        )
        .where(collection_items.c.collection_id == collection_id, papers.c.hidden == false())
        .order_by(
            collection_items.c.position, collection_items.c.added_at, collection_items.c.paper_id
        )
    )
    if not include_read:
        query = query.where(read_marks.c.read_at.is_(None))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [
        ItemRow(
            paper_id=r.paper_id,
            position=int(r.position),
            note=r.note,
            added_at=r.added_at,
            title=r.title,
            abstract=r.abstract,
            authors=list(r.authors or []),
            published_at=r.published_at,
            upvotes=int(r.upvotes or 0),
            read=r.read_at is not None,
        )
        for r in conn.execute(query)
    ]


def read_count(conn: Connection, collection_id: int, reader_id: int) -> int:
    """How many visible papers of the collection the reader marked read."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(
                collection_items.join(papers, papers.c.id == collection_items.c.paper_id).join(
                    read_marks,
                    and_(
                        read_marks.c.paper_id == collection_items.c.paper_id,
                        read_marks.c.user_id == reader_id,
                    ),
                )
            )
            .where(collection_items.c.collection_id == collection_id, papers.c.hidden == false())
        ).scalar_one()
    )


def collections_with_paper(conn: Connection, user_id: int, paper_id: str) -> set[int]:
    """Which of the member's collections hold the paper."""
    return set(
        conn.execute(
            select(collection_items.c.collection_id)
            .select_from(
                collection_items.join(
                    collections, collections.c.id == collection_items.c.collection_id
                )
            )
            .where(collections.c.user_id == user_id, collection_items.c.paper_id == paper_id)
        ).scalars()
    )


def saved_ids(conn: Connection, user_id: int, paper_ids: Iterable[str]) -> set[str]:
    """Which of `paper_ids` the member saved to any collection (one query per list page)."""
    ids = list(paper_ids)
    if not ids:
        return set()
    return set(
        conn.execute(
            select(collection_items.c.paper_id)
            .select_from(
                collection_items.join(
                    collections, collections.c.id == collection_items.c.collection_id
                )
            )
            .where(collections.c.user_id == user_id, collection_items.c.paper_id.in_(ids))
        ).scalars()
    )


def saved_by(conn: Connection, user_id: int, *, limit: int) -> set[str] | None:
    """Every paper the member saved to any collection, or None when that is more than `limit`
    papers (callers then ask `saved_ids` for the papers of one page)."""
    ids = set(conn.execute(
        select(collection_items.c.paper_id)
        .select_from(
            collection_items.join(collections, collections.c.id == collection_items.c.collection_id)
        )
        .where(collections.c.user_id == user_id)
        .distinct()
        .limit(limit + 1)
    ).scalars())
    return ids if len(ids) <= limit else None


def public_collections_with(conn: Connection, paper_id: str, *, limit: int) -> list[CollectionRow]:
    """Public collections that hold the paper, most recently changed first."""
    query = (
        _select()
        .where(
            collections.c.public == true(),
            collections.c.id.in_(
                select(collection_items.c.collection_id).where(
                    collection_items.c.paper_id == paper_id
                )
            ),
            users.c.banned == false(),
        )
        .order_by(collections.c.updated_at.desc(), collections.c.id.desc())
        .limit(limit)
    )
    return [_row(r) for r in conn.execute(query)]


def saved_papers(
    conn: Connection, user_id: int, *, since: datetime | None = None
) -> list[SavedPaper]:
    """Every paper the member saved to any of their collections, with the earliest save time,
    newest first (hidden papers left out)."""
    first = func.min(collection_items.c.added_at).label("saved_at")
    query = (
        select(collection_items.c.paper_id, first)
        .select_from(
            collection_items.join(
                collections, collections.c.id == collection_items.c.collection_id
            ).join(papers, papers.c.id == collection_items.c.paper_id)
        )
        .where(collections.c.user_id == user_id, papers.c.hidden == false())
        .group_by(collection_items.c.paper_id)
    )
    if since is not None:
        query = query.having(first >= since)
    rows = conn.execute(query).all()
    out = [SavedPaper(str(pid), at) for pid, at in rows]
    out.sort(key=lambda s: (s.saved_at, s.paper_id), reverse=True)
    return out


# -- read marks ---------------------------------------------------------------------------
def mark_read(conn: Connection, user_id: int, paper_id: str, *, now: datetime) -> bool:
    stmt = insert_ignore(conn, read_marks).values(user_id=user_id, paper_id=paper_id, read_at=now)
    return bool(conn.execute(stmt.returning(read_marks.c.paper_id)).first())


def mark_unread(conn: Connection, user_id: int, paper_id: str) -> bool:
    result = conn.execute(
        delete(read_marks).where(read_marks.c.user_id == user_id, read_marks.c.paper_id == paper_id)
    )
    return bool(result.rowcount)


def read_ids(conn: Connection, user_id: int, paper_ids: Iterable[str]) -> set[str]:
    ids = list(paper_ids)
    if not ids:
        return set()
    return set(
        conn.execute(
            select(read_marks.c.paper_id).where(
                read_marks.c.user_id == user_id, read_marks.c.paper_id.in_(ids)
            )
        ).scalars()
    )
