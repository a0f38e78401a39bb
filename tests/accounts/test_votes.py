from __future__ import annotations

import re
import threading
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from paperfeed.accounts import voting
from paperfeed.config import Settings
from paperfeed.models import Featured
from paperfeed.storage import votes
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, get_paper
from paperfeed.storage.schema import votes as votes_table
from tests.members_support import Inbox, add_member, add_paper, csrf, sign_in, token_for

PID = "2506.01234"


def _count(engine: Engine, pid: str = PID) -> tuple[int, int]:
    """(papers.member_upvotes, rows in votes) for a paper."""
    with engine.connect() as conn:
        stored = get_paper(conn, pid)["member_upvotes"]  # type: ignore[index]
        rows = conn.execute(
            select(func.count()).select_from(votes_table).where(votes_table.c.paper_id == pid)
        ).scalar_one()
    return stored, rows


def _race(engine: Engine, calls: list[tuple[int, str]], now: datetime) -> None:
    """Run add_vote calls at once, each on its own connection and thread."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(user_id: int, pid: str) -> None:
        try:
            barrier.wait()
            with write(engine) as conn:
                votes.add_vote(conn, user_id=user_id, paper_id=pid, now=now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_two_concurrent_votes_by_one_member_count_once(engine: Engine, now: datetime) -> None:
    add_paper(engine, PID, published_at=now)
    member = add_member(engine, "ada@example.org")
    _race(engine, [(member.id, PID)] * 2, now)
    assert _count(engine) == (1, 1)


def test_concurrent_votes_by_many_members_are_all_counted(engine: Engine, now: datetime) -> None:
    add_paper(engine, PID, published_at=now)
    members = [add_member(engine, f"m{i}@example.org") for i in range(12)]
    _race(engine, [(m.id, PID) for m in members] * 2, now)
    assert _count(engine) == (12, 12)


def test_api_upvote_is_idempotent_and_delete_withdraws(
    client: TestClient, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    token = token_for(engine, add_member(engine, "ada@example.org"))
    auth = {"Authorization": f"Bearer {token}"}
    first = client.post(f"/api/papers/{PID}/upvote", headers=auth)
    assert first.status_code == 200
    assert first.json() == {"id": PID, "upvoted": True, "changed": True, "upvotes": 1,
                            "memberUpvotes": 1}
    second = client.post(f"/api/papers/{PID}/upvote", headers=auth).json()
    assert second["changed"] is False and second["upvotes"] == 1
    gone = client.delete(f"/api/papers/{PID}/upvote", headers=auth).json()
    assert gone["upvoted"] is False and gone["upvotes"] == 0
    assert client.delete(f"/api/papers/{PID}/upvote", headers=auth).json()["changed"] is False
    assert _count(engine) == (0, 0)


def test_api_upvote_without_or_with_a_bad_token_is_401(
    client: TestClient, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    assert client.post(f"/api/papers/{PID}/upvote").status_code == 401
    r = client.post(f"/api/papers/{PID}/upvote", headers={"Authorization": "Bearer pf_nope"})
    assert r.status_code == 401 and "error" in r.json()
    assert client.post("/api/papers/submit", json={"id": PID}).status_code == 401
    assert _count(engine) == (0, 0)


def test_api_upvote_counts_imported_upvotes_too(
    client: TestClient, engine: Engine, now: datetime
) -> None:
    from paperfeed.models import Paper
    from paperfeed.storage.papers import upsert_papers

    with write(engine) as conn:
        upsert_papers(conn, [Paper(id=PID, title="T", abstract="A", upstream_upvotes=7,
                                   published_at=now, source="hf")], now=now)
    token = token_for(engine, add_member(engine, "ada@example.org"))
    r = client.post(f"/api/papers/{PID}/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["upvotes"] == 8 and r.json()["memberUpvotes"] == 1


def test_upvote_on_unknown_paper_is_404(client: TestClient, engine: Engine) -> None:
    token = token_for(engine, add_member(engine, "ada@example.org"))
    r = client.post("/api/papers/2506.99999/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404


def test_revoked_token_is_refused(client: TestClient, engine: Engine, now: datetime) -> None:
    from paperfeed.accounts import profile
    from paperfeed.storage import users

    add_paper(engine, PID, published_at=now)
    member = add_member(engine, "ada@example.org")
    token = token_for(engine, member)
    with engine.connect() as conn:
        (row,) = users.list_api_tokens(conn, member.id)
    profile.revoke_api_token(engine, member, row["id"])
    r = client.post(f"/api/papers/{PID}/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_upvote_form_redirects_back_and_answers_json_for_scripts(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    token = csrf(client, "/settings")
    r = client.post(f"/papers/{PID}/upvote",
                    data={"vote": "1", "next": "/?date=2025-06-16", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/?date=2025-06-16#paper-{PID}"
    assert _count(engine) == (1, 1)
    r = client.post(f"/papers/{PID}/upvote", data={"vote": "0", "csrf_token": token},
                    headers={"Accept": "application/json"})
    assert r.json()["upvoted"] is False and r.json()["upvotes"] == 0


def test_upvote_form_refuses_foreign_redirect_targets(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    r = client.post(f"/papers/{PID}/upvote", data={
        "vote": "1", "next": "//evil.example/x", "csrf_token": csrf(client, "/settings")},
        follow_redirects=False)
    assert r.headers["location"].startswith("/#paper-")


def test_upvote_form_without_csrf_token_is_rejected(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    assert client.post(f"/papers/{PID}/upvote", data={"vote": "1"}).status_code == 403
    assert _count(engine) == (0, 0)


def test_upvote_form_signed_out_is_401(client: TestClient, engine: Engine, now: datetime) -> None:
    add_paper(engine, PID, published_at=now)
    r = client.post(f"/papers/{PID}/upvote", data={"vote": "1", "csrf_token": csrf(client)})
    assert r.status_code == 401 and "/signin" in r.text


def test_votes_are_rate_limited_per_account(
    settings: Settings, engine: Engine, now: datetime
) -> None:
    from paperfeed.web.app import create_app

    settings.vote_limit_per_minute = 3
    add_paper(engine, PID, published_at=now)
    auth = {"Authorization": f"Bearer {token_for(engine, add_member(engine, 'a@example.org'))}"}
    with TestClient(create_app(settings)) as c:
        codes = [c.post(f"/api/papers/{PID}/upvote", headers=auth).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.post(f"/api/papers/{PID}/upvote", headers=auth)
        assert 0 < int(r.headers["retry-after"]) <= 60


def test_list_page_shows_members_votes_with_one_lookup_for_the_whole_list(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    ids = [f"2506.0{n:04d}" for n in range(1, 13)]
    for pid in ids:
        add_paper(engine, pid, published_at=now)
    member = add_member(engine, "ada@example.org")
    with write(engine) as conn:
        add_featured(conn, [Featured(paper_id=pid, day=now.date()) for pid in ids], now=now)
        for pid in ids[:3]:
            votes.add_vote(conn, user_id=member.id, paper_id=pid, now=now)
    sign_in(client, inbox, "ada@example.org")
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM votes" in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)  # the app has its own engine
    try:
        page = client.get("/?date=2025-06-16")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert page.status_code == 200
    for pid in ids:
        form = re.search(rf'<form[^>]*id="upvote-{re.escape(pid)}"', page.text)
        assert form is not None, pid
        assert ("voted" in form.group(0).split("class=")[1].split('"')[1]) == (pid in ids[:3])
    assert len(statements) == 1, statements


def test_votes_and_withdrawals_racing_keep_the_count_exact_on_both_engines(
    both: tuple[Settings, Engine], now: datetime
) -> None:
    """Members upvote and withdraw at once (a double click on the toggle, two tabs): whatever
    order the writes land in, the paper's count is the number of vote rows, and a member who
    ends with a vote counts once."""
    settings, engine = both
    settings.vote_limit_per_minute = 1000
    add_paper(engine, PID, published_at=now)
    members = [add_member(engine, f"r{i}@example.org") for i in range(6)]
    jobs = [(m, up) for m in members for up in (True, False, True)]
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(member: object, up: bool) -> None:
        barrier.wait()
        try:
            voting.set_vote(engine, settings, member, PID, up=up,  # type: ignore[arg-type]
                            ip="127.0.0.1", now=now, later=lambda *a, **k: None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    stored, rows = _count(engine)
    assert stored == rows and 0 <= rows <= len(members)
    # and each member's last word is what stays
    for m in members:
        voting.set_vote(engine, settings, m, PID, up=True, ip="127.0.0.1", now=now,
                        later=lambda *a, **k: None)
    assert _count(engine) == (len(members), len(members))
