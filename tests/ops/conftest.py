"""A demo instance (the bundled corpus with its vectors, plus members, votes, comments,
collections and subscriptions) built once per test session and copied for each test that
backs it up, exports it or restores it."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.schema import featured

SECRET = "test-secret-key-for-paperfeed-tests"


def ops_settings(data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, environment="development",  # type: ignore[arg-type]
                    secret_key=SECRET, base_url="http://testserver", **extra)


def add_community(engine: Engine, *, members: int = 6) -> list[str]:
    """Members with votes, comments, a collection, a subscription and feed tokens on the
    demo's most recent papers; returns the paper ids used."""
    from paperfeed import library
    from paperfeed.storage import comments, feed_tokens, subscriptions, users, votes

    now = datetime(2026, 8, 21, 12, 0)
    with engine.connect() as conn:
        ids = list(conn.execute(select(featured.c.paper_id).order_by(featured.c.day.desc(),
                                featured.c.paper_id).limit(12)).scalars())
    with write(engine) as conn:
        made = [users.create_user(conn, email=f"m{i}@example.org", now=now,
                                  username=f"member{i}") for i in range(members)]
        users.set_password_hash(conn, made[0].id, "$argon2id$v=19$m=65536,t=3,p=4$secret")
        for i, member in enumerate(made):
            for pid in ids[i: i + 4]:
                votes.add_vote(conn, user_id=member.id, paper_id=pid, now=now)
            comments.add_comment(conn, paper_id=ids[i], user_id=member.id,
                                 body=f"Comment {i} on {ids[i]} \u2014 with \u00fcn\u00efcode",
                                 now=now)
            subscriptions.add(conn, f"m{i}@example.org", "daily" if i % 2 else "weekly",
                              confirmed=bool(i % 3), now=now)
        feed_tokens.ensure(conn, user_id=made[0].id, kind="upvotes", now=now)
    for i, member in enumerate(made[:3]):
        cid = library.create_collection(engine, member, name=f"Reading list {i}",
                                        public=bool(i % 2), now=now)
        for pid in ids[:3]:
            library.save_paper(engine, member, pid, collection_id=cid, note=f"note {pid}",
                               now=now + timedelta(minutes=1))
    _add_member_extras(engine, made, ids, now)
    return ids


def _add_member_extras(engine: Engine, made: list, ids: list[str], now: datetime) -> None:
    """A saved search (with its anchors), for-you feedback, a read mark and a moderation
    entry, so copies and exports meet those tables too."""
    from paperfeed.alerts.searches import create_search
    from paperfeed.storage import moderation, recommend
    from paperfeed.storage.collections import mark_read

    settings = Settings(data_dir=Path("/nonexistent"))
    create_search(engine, settings, made[1], query="diffusion language models",
                  delivery="weekly", now=now)
    with write(engine) as conn:
        recommend.set_feedback(conn, made[2].id, ids[:2], "more", now=now)
        mark_read(conn, made[2].id, ids[0], now=now)
        moderation.record(conn, actor_id=made[0].id, action="hide_comment",
                          target_type="comment", target_id="1", reason="test", now=now)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the demo instance with community data (do not modify: copy)."""
    from paperfeed.demo import load_demo

    data = tmp_path_factory.mktemp("demo-template") / "data"
    data.mkdir()
    settings = ops_settings(data)
    engine = connect(settings)
    migrate(engine)
    load_demo(engine, settings=settings)
    add_community(engine)
    engine.dispose()
    return data


@pytest.fixture
def demo_copy(demo_template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "instance"
    shutil.copytree(demo_template, data)
    return data
