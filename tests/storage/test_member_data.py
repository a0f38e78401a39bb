"""Members' own data: the registry covers every table that names a member, the export holds
everything the member created, and deleting the account leaves nothing personal in any table
(SQLite and PostgreSQL), with votes and comments kept as anonymous or removed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from paperfeed.accounts import comments as comment_service
from paperfeed.accounts import moderating, own_data, profile, signin, voting
from paperfeed.alerts import searches as saved_searches
from paperfeed.config import Settings
from paperfeed.models import Featured, Member, Submitter
from paperfeed.storage import collections as cstore
from paperfeed.storage import feed_tokens, member_data
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import add_featured
from paperfeed.storage.schema import (
    alert_deliveries,
    deliveries,
    metadata,
    papers,
    read_marks,
    users,
    votes,
)
from tests.members_support import add_member, add_paper

NOW = datetime(2025, 6, 16, 12, 0)
EMAIL = "zed.unique@example.org"
USERNAME = "zedunique"
DISPLAY = "Zed Q. Unique"
BODY = "zed-comment-marker words"
MEMBER_COLUMN = re.compile(r"(^|_)user_id$|^(submitter|actor|owner|member|author)_id$")


def _names_a_member(column: object) -> bool:
    fks = getattr(column, "foreign_keys", ())
    return any(fk.target_fullname == "users.id" for fk in fks) or bool(
        MEMBER_COLUMN.search(getattr(column, "name", ""))
    )


def test_every_table_naming_a_member_is_registered() -> None:
    registered = member_data.registry()
    missing = []
    for table in metadata.sorted_tables:
        if table.name == "users":
            continue
        for column in table.c:
            if not _names_a_member(column):
                continue
            entry = registered.get(table.name)
            if entry is None and table.name not in member_data.NOT_MEMBER_DATA:
                missing.append(f"{table.name}.{column.name}")
            elif entry is not None and entry.column != column.name and column.name != "user_id":
                missing.append(f"{table.name}.{column.name} (registered on {entry.column})")
    assert not missing, (
        "tables with member data not in storage/member_data.MEMBER_TABLES: " + ", ".join(missing)
    )


def test_every_table_referencing_a_registered_one_is_its_child() -> None:
    registered = member_data.registry()
    missing = []
    for table in metadata.sorted_tables:
        if table.name in registered:
            continue
        for fk in table.foreign_keys:
            parent = registered.get(fk.column.table.name)
            if parent is None:
                continue
            if not any(c.table is table for c in parent.children):
                missing.append(f"{table.name}.{fk.parent.name} -> {parent.name}")
    assert not missing, "register these as children in MEMBER_TABLES: " + ", ".join(missing)


def _populate(engine: Engine, settings: Settings) -> Member:
    """A member who did everything there is to do, through the services people use."""
    for pid in ("2506.00001", "2506.00002"):
        add_paper(engine, pid, published_at=NOW - timedelta(days=1), now=NOW)
    zed = add_member(engine, EMAIL, username=USERNAME, now=NOW)
    admin = add_member(engine, "admin@example.org", role="admin", username="theadmin", now=NOW)
    other = add_member(engine, "other@example.org", username="other", now=NOW)
    profile.update_profile(engine, zed, username=USERNAME, display_name=DISPLAY)
    profile.set_password(engine, zed, current="", new="zed's long password")
    assert signin.request_link(engine, settings, EMAIL, now=NOW, ip="192.0.2.7") is not None
    signin.password_signin(engine, settings, USERNAME, "zed's long password", now=NOW,
                           ip="192.0.2.7")
    profile.create_api_token(engine, zed, name="zed script", now=NOW)
    for pid in ("2506.00001", "2506.00002"):
        voting.set_vote(engine, settings, zed, pid, up=True, ip="192.0.2.7", now=NOW)
    voting.set_vote(engine, settings, other, "2506.00001", up=True, ip="192.0.2.8", now=NOW)
    comment_service.add_comment(engine, settings, zed, "2506.00001", BODY, ip="192.0.2.7",
                                now=NOW)
    with write(engine) as conn:
        add_featured(conn, [Featured("2506.00002", NOW.date(), submitted_at=NOW, source="member",
                                     submitter=Submitter(name=USERNAME, user_id=zed.id))],
                     now=NOW)
        feed_tokens.ensure(conn, user_id=zed.id, kind="upvotes", now=NOW)
        cid = cstore.create(conn, user_id=zed.id, name="Zed's reading", description="mine",
                            public=True, now=NOW)
        cstore.add_item(conn, cid, "2506.00001", note="zed note", now=NOW)
        conn.execute(read_marks.insert().values(user_id=zed.id, paper_id="2506.00002",
                                                read_at=NOW))
        conn.execute(alert_deliveries.insert().values(user_id=zed.id, edition="2025-06-16",
                                                      status="sent", attempts=1))
        sub = sstore.confirm(conn, EMAIL, "daily", now=NOW)
        conn.execute(deliveries.insert().values(subscription_id=sub["id"], edition="2025-06-16",
                                                status="sent", attempts=1))
    saved_searches.create_search(engine, settings, zed, query="zed's diffusion watch",
                                 delivery="weekly", now=NOW)
    moderating.set_role(engine, EMAIL, "moderator", actor=None, now=NOW)
    zed = moderating.set_role(engine, EMAIL, "moderator", actor=None, now=NOW)
    other_comment = comment_service.add_comment(engine, settings, other, "2506.00002",
                                                "spam", ip="192.0.2.8", now=NOW)
    comment_service.hide_comment(engine, zed, other_comment, hidden=True, reason="spam", now=NOW)
    moderating.ban_member(engine, admin, USERNAME, banned=True, reason="test", now=NOW)
    moderating.ban_member(engine, admin, USERNAME, banned=False, reason="test", now=NOW)
    signin.start_session(engine, settings, zed, now=NOW)  # (the ban ended earlier ones)
    with write(engine) as conn:
        from paperfeed.storage import users as ustore

        fresh = ustore.get_by_id(conn, zed.id)
    assert fresh is not None
    return fresh


def _markers() -> list[str]:
    return [EMAIL, USERNAME, DISPLAY, member_data.hashed(EMAIL),
            member_data.hashed(EMAIL)[:32], member_data.hashed(USERNAME)]


def _everything(engine: Engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) of every value in every table."""
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for key, value in row.items():
                    if value is not None:
                        yield table.name, key, str(value)


def _check_nothing_personal(engine: Engine, member: Member, content: str) -> None:
    leaks = [(t, c, v[:60]) for t, c, v in _everything(engine)
             for m in _markers() if m.lower() in v.lower()]
    assert not leaks, leaks
    registered = member_data.registry()
    with engine.connect() as conn:
        for entry in member_data.MEMBER_TABLES:
            n = len(conn.execute(select(entry.table).where(
                entry.table.c[entry.column] == member.id)).all())
            kept = entry.on_delete == "keep" or (entry.on_delete == "content" and content == "keep")
            assert (n > 0) == kept or (kept and n == 0), (entry.name, n, content)
        row = conn.execute(select(users).where(users.c.id == member.id)).mappings().one()
        assert row["email"] is None and row["password_hash"] is None
        assert row["display_name"] is None and row["deleted_at"] is not None
        assert row["username"].startswith("deleted-")
        counts = {pid: n for pid, n in conn.execute(select(papers.c.id, papers.c.member_upvotes))}
        voted = len(conn.execute(select(votes).where(votes.c.paper_id == "2506.00001")).all())
    assert counts["2506.00001"] == voted == (2 if content == "keep" else 1)
    bodies = [v for t, c, v in _everything(engine) if t == "comments" and c == "body"]
    assert (BODY in bodies) == (content == "keep")
    assert "subscriptions" in registered


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[Engine, Settings]]:
    if request.param == "sqlite":
        chosen = settings
    else:
        chosen = request.getfixturevalue("pg_settings")
    chosen.data_dir.mkdir(parents=True, exist_ok=True)
    eng = connect(chosen)
    migrate(eng)
    yield eng, chosen
    eng.dispose()


@pytest.mark.parametrize("content", ["keep", "remove"])
def test_deleting_an_account_leaves_nothing_personal_in_any_table(
    db: tuple[Engine, Settings], content: str
) -> None:
    engine, settings = db
    zed = _populate(engine, settings)
    found_before = [m for _t, _c, v in _everything(engine) for m in _markers() if m in v]
    assert EMAIL in found_before and USERNAME in found_before  # the scan sees the member
    own_data.delete_account(engine, zed, content=content, confirm=USERNAME, now=NOW)
    _check_nothing_personal(engine, zed, content)


def test_the_export_holds_everything_the_member_created_and_no_secrets(
    db: tuple[Engine, Settings]
) -> None:
    engine, settings = db
    zed = _populate(engine, settings)
    data = own_data.export_data(engine, settings, zed, now=NOW)
    text = json.dumps(data)
    assert data["profile"]["email"] == EMAIL and data["profile"]["has_password"] is True
    assert "password_hash" not in text and "token_hash" not in text and "id_hash" not in text
    tables = data["tables"]
    assert sorted(v["paper_id"] for v in tables["votes"]) == ["2506.00001", "2506.00002"]
    assert [c["body"] for c in tables["comments"]] == [BODY]
    assert tables["collections"][0]["items"][0]["note"] == "zed note"
    assert tables["subscriptions"][0]["deliveries"][0]["edition"] == "2025-06-16"
    assert tables["featured"][0]["paper_id"] == "2506.00002"
    assert tables["saved_searches"][0]["query"] == "zed's diffusion watch"
    assert "vector" not in tables["saved_searches"][0]
    assert tables["alert_deliveries"][0]["edition"] == "2025-06-16"
    assert {e["action"] for e in tables["moderation_log"]} == {"hide_comment"}
    assert tables["api_tokens"][0]["name"] == "zed script"
    assert tables["login_tokens"] and tables["sessions"] and tables["feed_tokens"]
    assert set(tables) == set(member_data.registry())


def test_deleting_needs_the_username_and_a_choice(db: tuple[Engine, Settings]) -> None:
    from paperfeed.errors import BadRequest

    engine, settings = db
    zed = _populate(engine, settings)
    with pytest.raises(BadRequest):
        own_data.delete_account(engine, zed, content="keep", confirm="someone", now=NOW)
    with pytest.raises(BadRequest):
        own_data.delete_account(engine, zed, content="", confirm=USERNAME, now=NOW)
    with engine.connect() as conn:
        assert conn.execute(select(users.c.email).where(users.c.id == zed.id)).scalar() == EMAIL
