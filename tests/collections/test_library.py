"""Collections through the service layer (paperfeed.library) on SQLite and PostgreSQL: saving,
notes, ordering, privacy, read marks, the public read for recommendations, concurrency."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed import library
from paperfeed.errors import BadRequest, Conflict, Forbidden, NotFound
from paperfeed.models import Member
from paperfeed.storage import users
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from tests.collections.conftest import new_member
from tests.feed_factories import paper

NOW = datetime(2025, 6, 16, 12, 0)
IDS = [f"2506.{i:05d}" for i in range(1, 7)]
HIDDEN = "2506.09999"


@pytest.fixture(scope="module", autouse=True)
def catalog(db: Engine) -> None:
    with write(db) as conn:
        upsert_papers(conn, [paper(pid, title=f"Title {pid}") for pid in IDS], now=NOW)
        upsert_papers(conn, [paper("hep-th/9901001", title="Old style")], now=NOW)
        upsert_papers(conn, [paper(HIDDEN, title="Soon hidden")], now=NOW)


def member(engine: Engine, name: str) -> Member:
    return new_member(engine, name)


def ids(engine: Engine, cid: int, viewer: Member | None, **kw: bool) -> list[str]:
    row = library.visible_collection(engine, cid, viewer)
    return [i.paper_id for i in library.collection_items(engine, row, viewer, **kw)[0]]


def test_save_creates_reading_list_once_and_keeps_order_of_saving(db: Engine) -> None:
    ada = member(db, "ada")
    first = library.save_paper(db, ada, IDS[2], now=NOW)
    assert first.added and first.collection_name == "Reading list"
    again = library.save_paper(db, ada, f"https://arxiv.org/abs/{IDS[2]}v2", now=NOW)
    assert not again.added and again.collection_id == first.collection_id
    library.save_paper(db, ada, IDS[0], now=NOW)
    library.save_paper(db, ada, "hep-th/9901001", now=NOW)
    assert [c.name for c in library.my_collections(db, ada)] == ["Reading list"]
    assert ids(db, first.collection_id, ada) == [IDS[2], IDS[0], "hep-th/9901001"]


def test_note_is_kept_unless_replaced_and_empty_note_clears_it(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Diffusion", now=NOW)
    library.save_paper(db, ada, IDS[0], collection_id=cid, note="  read §3 <b>first</b> ", now=NOW)
    library.save_paper(db, ada, IDS[0], collection_id=cid, now=NOW)  # no note: kept
    row = library.visible_collection(db, cid, ada)
    assert library.collection_items(db, row, ada)[0][0].note == "read §3 <b>first</b>"
    library.set_note(db, ada, cid, IDS[0], "", now=NOW)
    assert library.collection_items(db, row, ada)[0][0].note is None
    with pytest.raises(BadRequest, match="too long"):
        library.set_note(db, ada, cid, IDS[0], "x" * 2001, now=NOW)
    with pytest.raises(NotFound):
        library.set_note(db, ada, cid, IDS[1], "not saved there", now=NOW)


def test_reorder_whole_and_part_and_moves(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Order", now=NOW)
    for pid in IDS[:5]:
        library.save_paper(db, ada, pid, collection_id=cid, now=NOW)
    a, b, c, d, e = IDS[:5]
    assert library.reorder(db, ada, cid, [e, d, c, b, a], now=NOW) == [e, d, c, b, a]
    # A part of the list is rearranged among the places it holds; the others stay put.
    assert library.reorder(db, ada, cid, [a, d], now=NOW) == [e, a, c, b, d]
    assert library.move(db, ada, cid, c, "up", now=NOW) == [e, c, a, b, d]
    assert library.move(db, ada, cid, e, "up", now=NOW) == [e, c, a, b, d]  # already first
    assert library.move(db, ada, cid, e, "bottom", now=NOW) == [c, a, b, d, e]
    assert ids(db, cid, ada) == [c, a, b, d, e]
    with pytest.raises(BadRequest, match="not in this collection"):
        library.reorder(db, ada, cid, [IDS[5]], now=NOW)
    with pytest.raises(BadRequest):
        library.move(db, ada, cid, a, "sideways", now=NOW)


def test_move_skips_papers_hidden_by_read_marks(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Queue", now=NOW)
    for pid in IDS[:3]:
        library.save_paper(db, ada, pid, collection_id=cid, now=NOW)
    library.mark_read(db, ada, IDS[1], read=True, now=NOW)
    assert ids(db, cid, ada) == [IDS[0], IDS[2]]
    # "Up" from the third passes the first in the member's view (the read one is invisible).
    assert library.move(db, ada, cid, IDS[2], "up", now=NOW) == [IDS[2], IDS[1], IDS[0]]


def test_private_collections_are_not_found_by_others_public_ones_are(db: Engine) -> None:
    ada, bob = member(db, "ada"), member(db, "bob")
    cid = library.create_collection(db, ada, name="Secret", now=NOW)
    library.save_paper(db, ada, IDS[0], collection_id=cid, note="mine", now=NOW)
    for viewer in (None, bob):
        with pytest.raises(NotFound):
            library.visible_collection(db, cid, viewer)
    assert cid not in {c.id for c in library.public_collections_with(db, IDS[0], limit=100)}
    library.update_collection(db, ada, cid, public=True, now=NOW)
    assert ids(db, cid, None) == [IDS[0]]
    shared = library.public_collections_with(db, IDS[0], limit=100)
    assert [c.name for c in shared if c.id == cid] == ["Secret"]
    assert [c.id for c in library.public_collections_of(db, ada.id)] == [cid]
    # Nobody but the owner changes it, and a stranger cannot tell it from a missing one.
    for act in (
        lambda: library.save_paper(db, bob, IDS[1], collection_id=cid, now=NOW),
        lambda: library.remove_paper(db, bob, cid, IDS[0], now=NOW),
        lambda: library.reorder(db, bob, cid, [IDS[0]], now=NOW),
        lambda: library.update_collection(db, bob, cid, public=False, now=NOW),
        lambda: library.delete_collection(db, bob, cid),
        lambda: library.set_note(db, bob, cid, IDS[0], "hijack", now=NOW),
    ):
        with pytest.raises(NotFound):
            act()
    assert ids(db, cid, ada) == [IDS[0]]


def test_banned_owner_hides_public_collections_and_cannot_save(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Public", public=True, now=NOW)
    library.save_paper(db, ada, IDS[0], collection_id=cid, now=NOW)
    with write(db) as conn:
        users.set_banned(conn, ada.id, True)
    ada.banned = True
    with pytest.raises(NotFound):
        library.visible_collection(db, cid, None)
    assert cid not in {c.id for c in library.public_collections_with(db, IDS[0], limit=100)}
    with pytest.raises(Forbidden):
        library.save_paper(db, ada, IDS[1], now=NOW)


def test_names_are_unique_per_member_ignoring_case(db: Engine) -> None:
    ada, bob = member(db, "ada"), member(db, "bob")
    library.create_collection(db, ada, name="Graphs", now=NOW)
    with pytest.raises(Conflict):
        library.create_collection(db, ada, name="  gRAPHS ", now=NOW)
    library.create_collection(db, bob, name="Graphs", now=NOW)  # another member: fine
    other = library.create_collection(db, ada, name="Trees", now=NOW)
    with pytest.raises(Conflict):
        library.update_collection(db, ada, other, name="graphs", now=NOW)
    with pytest.raises(BadRequest):
        library.create_collection(db, ada, name=" \x00 \t ", now=NOW)
    with pytest.raises(BadRequest):
        library.create_collection(db, ada, name="n" * 101, now=NOW)


def test_saving_an_unknown_or_hidden_paper_is_not_found(db: Engine) -> None:
    ada = member(db, "ada")
    with pytest.raises(NotFound):
        library.save_paper(db, ada, "2999.99999", now=NOW)
    with pytest.raises(NotFound):
        library.save_paper(db, ada, "not an id'; drop table papers", now=NOW)
    from sqlalchemy import update

    from paperfeed.storage.schema import papers

    with write(db) as conn:
        conn.execute(update(papers).where(papers.c.id == HIDDEN).values(hidden=True))
    with pytest.raises(NotFound):
        library.save_paper(db, ada, HIDDEN, now=NOW)


def test_read_marks_hide_papers_from_own_view_only(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Shared", public=True, now=NOW)
    for pid in IDS[:3]:
        library.save_paper(db, ada, pid, collection_id=cid, now=NOW)
    assert library.mark_read(db, ada, IDS[1], read=True, now=NOW)
    assert not library.mark_read(db, ada, IDS[1], read=True, now=NOW)  # idempotent
    row = library.visible_collection(db, cid, ada)
    items, hidden = library.collection_items(db, row, ada)
    assert [i.paper_id for i in items] == [IDS[0], IDS[2]] and hidden == 1
    everything = library.collection_items(db, row, ada, include_read=True)[0]
    assert [(i.paper_id, i.read) for i in everything] == [
        (IDS[0], False), (IDS[1], True), (IDS[2], False)
    ]
    assert ids(db, cid, None) == IDS[:3]  # a visitor sees the whole public list
    library.mark_read(db, ada, IDS[1], read=False, now=NOW)
    assert ids(db, cid, ada) == IDS[:3]


def test_saved_papers_lists_first_save_time_newest_first(db: Engine) -> None:
    ada = member(db, "ada")
    two = library.create_collection(db, ada, name="Two", now=NOW)
    library.save_paper(db, ada, IDS[0], now=NOW)
    library.save_paper(db, ada, IDS[1], now=NOW + timedelta(hours=1))
    library.save_paper(db, ada, IDS[0], collection_id=two, now=NOW + timedelta(hours=2))
    saved = library.saved_papers(db, ada.id)
    assert [(s.paper_id, s.saved_at) for s in saved] == [
        (IDS[1], NOW + timedelta(hours=1)), (IDS[0], NOW)
    ]
    assert [s.paper_id for s in library.saved_papers(db, ada.id, since=NOW + timedelta(minutes=1))] == [IDS[1]]
    library.delete_collection(db, ada, two)
    assert len(library.saved_papers(db, ada.id)) == 2


def test_concurrent_saves_to_one_list_lose_nothing(db: Engine) -> None:
    ada = member(db, "ada")
    cid = library.create_collection(db, ada, name="Busy", now=NOW)
    errors: list[BaseException] = []

    def save(pid: str) -> None:
        try:
            library.save_paper(db, ada, pid, collection_id=cid, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(pid,)) for pid in IDS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = ids(db, cid, ada)
    assert sorted(got) == sorted(IDS)
    # Positions end up distinct: a reorder after concurrent appends is exact.
    assert library.reorder(db, ada, cid, list(reversed(got)), now=NOW) == list(reversed(got))


def test_a_collection_created_twice_at_once_is_created_once(db: Engine) -> None:
    """The "New collection" form sent twice (a double click) answered the second copy with
    "you already have a collection named ..." — or, on PostgreSQL at the same instant, could
    break the unique name: both copies now get the one collection. A later create with that
    name is still refused."""
    ada = member(db, "ada")
    barrier = threading.Barrier(3)
    got: list[object] = []

    def create() -> None:
        barrier.wait()
        try:
            got.append(library.create_collection(db, ada, name="Twice", now=NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            got.append(exc)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and isinstance(got[0], int), got
    with pytest.raises(Conflict):
        library.create_collection(db, ada, name="Twice", now=NOW + timedelta(minutes=5))
    with pytest.raises(Conflict):  # the same name with another description is another wish
        library.create_collection(db, ada, name="Twice", description="other", now=NOW)
