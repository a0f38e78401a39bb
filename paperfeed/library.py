"""Collections: members save papers to named lists (private or public) with a note per paper,
reorder them, share public ones by URL, and mark papers read (read papers leave the member's
own views of their lists).

The rules live here (ownership, limits, validation); `storage/collections.py` holds the SQL.
Other features read a member's saves through `saved_papers()` (recommendations use them as
positive signals) and `public_collections_of()` (profile pages).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, Engine

from paperfeed.accounts.guards import require_active
from paperfeed.errors import BadRequest, Conflict, NotFound
from paperfeed.models import Member, normalize_arxiv_id
from paperfeed.storage import collections as store
from paperfeed.storage.collections import CollectionRow, ItemRow, SavedPaper
from paperfeed.storage.db import write
from paperfeed.storage.papers import get_paper
from paperfeed.storage.users import lock_member

DEFAULT_NAME = "Reading list"
MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_NOTE = 2000
MAX_COLLECTIONS = 200  # per member
MAX_ITEMS = 5000  # per collection
MAX_REORDER = MAX_ITEMS
Direction = Literal["up", "down", "top", "bottom"]
DIRECTIONS: tuple[str, ...] = ("up", "down", "top", "bottom")

__all__ = [
    "CollectionRow",
    "ItemRow",
    "SavedPaper",
    "saved_papers",
    "public_collections_of",
    "public_collections_with",
]


def _clean(text: str | None, limit: int, what: str) -> str:
    """One line (names) or trimmed text without control characters; BadRequest past `limit`."""
    raw = text or ""
    kept = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in raw
    ).strip()
    if len(kept) > limit:
        raise BadRequest(f"collections: the {what} is too long ({len(kept)} characters, at most "
                         f"{limit})")
    return kept


def clean_name(name: str | None) -> str:
    value = " ".join(_clean(name, MAX_NAME * 4, "name").split())
    if not value:
        raise BadRequest("collections: give the collection a name")
    if len(value) > MAX_NAME:
        raise BadRequest(f"collections: a name has at most {MAX_NAME} characters")
    return value


def clean_note(note: str | None) -> str | None:
    return _clean(note, MAX_NOTE, "note") or None


def clean_description(text: str | None) -> str | None:
    return _clean(text, MAX_DESCRIPTION, "description") or None


def _paper_id(conn: Connection, raw: str) -> str:
    try:
        pid = normalize_arxiv_id(raw)
    except BadRequest:
        raise NotFound(f"collections: no paper {raw[:80]!r}") from None
    row = get_paper(conn, pid)
    if row is None or row["hidden"]:
        raise NotFound(f"collections: no paper {pid!r} in this catalog")
    return pid


MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL; larger ids cannot exist (and would not bind)


def _known(collection_id: int) -> int:
    """NotFound for ids no collection can have (0, negative, beyond a 32-bit INTEGER)."""
    if not 1 <= collection_id <= MAX_ID:
        raise NotFound(f"collections: there is no collection {str(collection_id)[:24]}")
    return collection_id


def _owned(conn: Connection, member: Member, collection_id: int) -> None:
    """Lock the collection; NotFound unless it exists and belongs to the member (a stranger
    learns nothing about other members' private lists)."""
    owner = store.lock(conn, _known(collection_id))
    if owner is None or owner != member.id:
        raise NotFound(f"collections: you have no collection {collection_id}")


# -- reading ------------------------------------------------------------------------------
def visible_collection(engine: Engine, collection_id: int, viewer: Member | None) -> CollectionRow:
    """The collection if the viewer may see it: its owner always, anyone when it is public
    (and the owner is not banned). Otherwise NotFound, private or not."""
    with engine.connect() as conn:
        row = store.get(conn, _known(collection_id))
        owner = None
        if row is not None and (viewer is None or viewer.id != row.user_id):
            from paperfeed.storage.users import get_by_id

            owner = get_by_id(conn, row.user_id)
    if row is None:
        raise NotFound(f"collections: there is no collection {collection_id}")
    if viewer is not None and viewer.id == row.user_id:
        return row
    if not row.public or owner is None or owner.banned:
        raise NotFound(f"collections: there is no collection {collection_id}")
    return row


def collection_items(
    engine: Engine,
    collection: CollectionRow,
    viewer: Member | None,
    *,
    include_read: bool = False,
) -> tuple[list[ItemRow], int]:
    """(items in list order, how many read ones were left out). Read marks apply to the
    owner's own view only: visitors of a public collection see every paper."""
    own = viewer is not None and viewer.id == collection.user_id
    with engine.connect() as conn:
        rows = store.items(
            conn,
            collection.id,
            reader_id=viewer.id if own and viewer else None,
            include_read=include_read or not own,
        )
        hidden_read = 0
        if own and viewer is not None and not include_read:
            hidden_read = store.read_count(conn, collection.id, viewer.id)
    return rows, hidden_read


def my_collections(engine: Engine, member: Member) -> list[CollectionRow]:
    with engine.connect() as conn:
        return store.list_for_user(conn, member.id)


def containing(engine: Engine, member: Member, paper_id: str) -> set[int]:
    """Ids of the member's collections that hold the paper."""
    with engine.connect() as conn:
        return store.collections_with_paper(conn, member.id, paper_id)


def saved_papers(
    engine: Engine, user_id: int, *, since: datetime | None = None
) -> list[SavedPaper]:
    """Papers the member saved to any of their collections, with the time of the first save,
    newest first (hidden papers left out). The public read for other features
    (recommendations take these as positive signals)."""
    with engine.connect() as conn:
        return store.saved_papers(conn, user_id, since=since)


def public_collections_of(engine: Engine, user_id: int) -> list[CollectionRow]:
    """A member's public collections (for their profile page), most recently changed first."""
    with engine.connect() as conn:
        return store.list_for_user(conn, user_id, public_only=True)


def public_collections_with(
    engine: Engine, paper_id: str, *, limit: int = 10
) -> list[CollectionRow]:
    """Public collections (of members not banned) that hold the paper, for its page."""
    with engine.connect() as conn:
        return store.public_collections_with(conn, paper_id, limit=limit)


# -- writing ------------------------------------------------------------------------------
# The same collection created again within this time is one form sent twice, not a clash.
DOUBLE_SUBMIT = timedelta(minutes=2)


def _create_in(
    conn: Connection,
    member: Member,
    *,
    name: str,
    description: str | None,
    public: bool,
    now: datetime,
) -> int:
    # two creations of one name at once run one after the other: the second finds the first
    # instead of breaking the unique name
    lock_member(conn, member.id)
    existing = store.find_by_name(conn, member.id, name)
    if existing is not None:
        if (existing.name == name and existing.description == description
                and existing.public == public and existing.created_at >= now - DOUBLE_SUBMIT):
            return existing.id  # the form sent twice (a double click): one collection
        raise Conflict(f"collections: you already have a collection named {name!r}")
    if store.count_for_user(conn, member.id) >= MAX_COLLECTIONS:
        raise BadRequest(f"collections: at most {MAX_COLLECTIONS} collections per member; "
                         "delete one first")
    return store.create(
        conn, user_id=member.id, name=name, description=description, public=public, now=now
    )


def create_collection(
    engine: Engine,
    member: Member,
    *,
    name: str,
    description: str | None = None,
    public: bool = False,
    now: datetime,
) -> int:
    require_active(member)
    clean = clean_name(name)
    desc = clean_description(description)
    with write(engine) as conn:
        return _create_in(conn, member, name=clean, description=desc, public=public, now=now)


def update_collection(
    engine: Engine,
    member: Member,
    collection_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
    now: datetime,
) -> None:
    """Rename, describe, or make public/private (None leaves a field as it is)."""
    require_active(member)
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = clean_name(name)
    if description is not None:
        values["description"] = clean_description(description)
    if public is not None:
        values["public"] = public
    with write(engine) as conn:
        _owned(conn, member, collection_id)
        if "name" in values:
            other = store.find_by_name(conn, member.id, str(values["name"]))
            if other is not None and other.id != collection_id:
                raise Conflict(
                    f"collections: you already have a collection named {values['name']!r}"
                )
        store.update_collection(conn, collection_id, now=now, **values)


def delete_collection(engine: Engine, member: Member, collection_id: int) -> None:
    with write(engine) as conn:
        _owned(conn, member, collection_id)
        store.delete_collection(conn, collection_id)


@dataclass(frozen=True, slots=True)
class SaveResult:
    collection_id: int
    collection_name: str
    paper_id: str
    added: bool  # False: it was already in the collection (its note may have changed)


def save_paper(
    engine: Engine,
    member: Member,
    paper_id: str,
    *,
    collection_id: int | None = None,
    new_collection: str | None = None,
    note: str | None = None,
    now: datetime,
) -> SaveResult:
    """Save a paper to one of the member's collections: `collection_id`, or a new collection
    named `new_collection`, or (neither) the member's default "Reading list", created on first
    use. Saving again is harmless; a given note replaces the old one."""
    require_active(member)
    clean = clean_note(note) if note is not None else None
    new_name = clean_name(new_collection) if new_collection and new_collection.strip() else None
    with write(engine) as conn:
        pid = _paper_id(conn, paper_id)
        if new_name is not None:
            existing = store.find_by_name(conn, member.id, new_name)
            cid = existing.id if existing is not None else _create_in(
                conn, member, name=new_name, description=None, public=False, now=now
            )
            name = new_name if existing is None else existing.name
        elif collection_id is not None:
            _owned(conn, member, collection_id)
            cid = collection_id
            row = store.get(conn, cid)
            name = row.name if row is not None else ""
        else:
            default = store.find_by_name(conn, member.id, DEFAULT_NAME)
            cid = default.id if default is not None else _create_in(
                conn, member, name=DEFAULT_NAME, description=None, public=False, now=now
            )
            name = default.name if default is not None else DEFAULT_NAME
        store.lock(conn, cid)
        if store.item_count(conn, cid) >= MAX_ITEMS and not store.collections_with_paper(
            conn, member.id, pid
        ) & {cid}:
            raise BadRequest(f"collections: a collection holds at most {MAX_ITEMS} papers")
        added = store.add_item(conn, cid, pid, note=clean if note is not None else None, now=now)
        store.touch(conn, cid, now)
    return SaveResult(cid, name, pid, added)


def remove_paper(
    engine: Engine, member: Member, collection_id: int, paper_id: str, *, now: datetime
) -> bool:
    pid = normal_id(paper_id)
    with write(engine) as conn:
        _owned(conn, member, collection_id)
        removed = store.remove_item(conn, collection_id, pid)
        if removed:
            store.touch(conn, collection_id, now)
    return removed


def set_note(
    engine: Engine, member: Member, collection_id: int, paper_id: str, note: str | None,
    *, now: datetime,
) -> None:
    require_active(member)
    pid = normal_id(paper_id)
    clean = clean_note(note)
    with write(engine) as conn:
        _owned(conn, member, collection_id)
        if not store.set_note(conn, collection_id, pid, clean):
            raise NotFound(f"collections: paper {pid} is not in this collection")
        store.touch(conn, collection_id, now)


def normal_id(raw: str) -> str:
    try:
        return normalize_arxiv_id(raw)
    except BadRequest:
        raise NotFound(f"collections: no paper {raw[:80]!r}") from None


def reorder(
    engine: Engine, member: Member, collection_id: int, paper_ids: Sequence[str], *, now: datetime
) -> list[str]:
    """Put `paper_ids` in this order. They may be a part of the list (what the member's view
    shows: read papers hidden, say): they are rearranged among the places they hold, and
    every other paper keeps its place. Unknown ids are refused. Returns the new full order."""
    if len(paper_ids) > MAX_REORDER:
        raise BadRequest(f"collections: at most {MAX_REORDER} papers in one reorder")
    wanted = list(dict.fromkeys(normal_id(p) for p in paper_ids))
    with write(engine) as conn:
        _owned(conn, member, collection_id)
        full = store.ordered_ids(conn, collection_id)
        where = {pid: i for i, pid in enumerate(full)}
        unknown = [p for p in wanted if p not in where]
        if unknown:
            raise BadRequest(
                f"collections: {unknown[0]} is not in this collection (reload the page)"
            )
        slots = sorted(where[p] for p in wanted)
        order = list(full)
        for slot, pid in zip(slots, wanted, strict=True):
            order[slot] = pid
        if order != full:
            store.set_order(conn, collection_id, order)
            store.touch(conn, collection_id, now)
    return order


def move(
    engine: Engine,
    member: Member,
    collection_id: int,
    paper_id: str,
    direction: str,
    *,
    include_read: bool = False,
    now: datetime,
) -> list[str]:
    """Move one paper up, down, to the top or to the bottom of the list as the member sees it
    (read papers hidden unless `include_read`), so "up" always passes a paper they can see."""
    if direction not in DIRECTIONS:
        raise BadRequest(f"collections: move {direction[:10]!r}? use up, down, top or bottom")
    pid = normal_id(paper_id)
    with engine.connect() as conn:
        if store.lock(conn, _known(collection_id)) != member.id:
            raise NotFound(f"collections: you have no collection {collection_id}")
        view = [
            item.paper_id
            for item in store.items(
                conn, collection_id, reader_id=member.id, include_read=include_read
            )
        ]
    if pid not in view:
        raise NotFound(f"collections: paper {pid} is not in this collection")
    i = view.index(pid)
    view.pop(i)
    target = {"up": max(i - 1, 0), "down": min(i + 1, len(view)), "top": 0,
              "bottom": len(view)}[direction]
    view.insert(target, pid)
    return reorder(engine, member, collection_id, view, now=now)


def mark_read(engine: Engine, member: Member, paper_id: str, *, read: bool, now: datetime) -> bool:
    """Mark a paper read (it leaves the member's views of their lists) or unread again.
    Returns whether anything changed."""
    with write(engine) as conn:
        if read:
            return store.mark_read(conn, member.id, _paper_id(conn, paper_id), now=now)
        return store.mark_unread(conn, member.id, normal_id(paper_id))
