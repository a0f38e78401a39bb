"""Member writes on a real PostgreSQL (pgserver): exact vote counts and single-use links under
concurrency, where READ COMMITTED (unlike SQLite's single writer) lets transactions overlap."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from paperfeed.config import Settings
from paperfeed.storage import users, votes
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import get_paper
from paperfeed.storage.schema import votes as votes_table
from tests.members_support import add_member, add_paper

pytestmark = pytest.mark.postgres
PID = "2506.01234"
NOW = datetime(2025, 6, 16, 12)


@pytest.fixture
def pg_engine(pg_settings: Settings) -> Iterator[Engine]:
    engine = connect(pg_settings)
    migrate(engine)
    yield engine
    engine.dispose()


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _vote(engine: Engine, user_id: int) -> Callable[[], object]:
    def call() -> object:
        with write(engine) as conn:
            return votes.add_vote(conn, user_id=user_id, paper_id=PID, now=NOW)

    return call


def test_concurrent_votes_on_postgresql_give_the_exact_count(pg_engine: Engine) -> None:
    add_paper(pg_engine, PID, published_at=NOW)
    members = [add_member(pg_engine, f"m{i}@example.org") for i in range(10)]
    results = _at_once([_vote(pg_engine, m.id) for m in members for _ in range(2)])
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(1 for added, _count in results if added) == 10  # type: ignore[misc]
    with pg_engine.connect() as conn:
        stored = get_paper(conn, PID)["member_upvotes"]  # type: ignore[index]
        rows = conn.execute(select(func.count()).select_from(votes_table)).scalar_one()
    assert (stored, rows) == (10, 10)


def test_a_signin_link_used_twice_at_once_on_postgresql_signs_in_once(pg_engine: Engine) -> None:
    member = add_member(pg_engine, "ada@example.org")
    with write(pg_engine) as conn:
        users.add_login_token(conn, user_id=member.id, email="ada@example.org",
                              token_hash="h" * 64, now=NOW,
                              expires_at=NOW + timedelta(minutes=15))

    def use() -> object:
        with write(pg_engine) as conn:
            return users.consume_login_token(conn, "h" * 64, now=NOW)

    results = _at_once([use for _ in range(4)])
    assert results.count((member.id, "ada@example.org")) == 1, results
    assert results.count(None) == 3, results


def test_first_rate_limit_hits_at_once_on_postgresql_do_not_collide(pg_engine: Engine) -> None:
    from paperfeed.errors import RateLimited
    from paperfeed.storage import ratelimit

    def hit() -> object:
        ratelimit.hit(pg_engine, "vote:ip:127.0.0.1", limit=5, window_seconds=60, now=NOW,
                      what="votes")
        return "ok"

    results = _at_once([hit for _ in range(8)])
    assert results.count("ok") == 5
    assert sum(isinstance(r, RateLimited) for r in results) == 3, results
