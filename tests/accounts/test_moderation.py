from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import Featured, utcnow
from paperfeed.storage import moderation
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured
from paperfeed.web.app import create_app
from tests.members_support import Inbox, add_member, add_paper, csrf, sign_in, token_for

PID = "2506.01234"


def _featured_today(engine: Engine, pid: str = PID) -> str:
    day = utcnow().date()
    add_paper(engine, pid, published_at=utcnow() - timedelta(days=1))
    with write(engine) as conn:
        add_featured(conn, [Featured(pid, day, source="member")], now=utcnow())
    return day.isoformat()


def _mod_client(settings: Settings, inbox: Inbox, engine: Engine, role: str = "moderator"):
    add_member(engine, f"{role}@example.org", role=role, username=role)
    c = TestClient(create_app(settings))
    sign_in(c, inbox, f"{role}@example.org")
    return c


def test_moderator_hides_a_paper_from_feeds_and_api_with_a_logged_reason(
    settings: Settings, inbox: Inbox, engine: Engine, client: TestClient
) -> None:
    day = _featured_today(engine)
    assert PID in client.get(f"/papers/date/{day}").text  # now in the anonymous page cache
    mod = TestClient(client.app)
    add_member(engine, "moderator@example.org", role="moderator", username="moderator")
    sign_in(mod, inbox, "moderator@example.org")
    r = mod.post(f"/papers/{PID}/hide", data={
        "hidden": "1", "reason": "not a paper", "csrf_token": csrf(mod, f"/papers/{PID}")},
        follow_redirects=False)
    assert r.status_code == 303
    assert PID not in client.get(f"/papers/date/{day}").text
    assert client.get(f"/papers/{PID}").status_code == 404
    assert client.get(f"/api/papers/{PID}").status_code == 404
    assert "Unhide paper" in mod.get(f"/papers/{PID}").text  # moderators can still undo it
    with engine.connect() as conn:
        (entry,) = moderation.list_log(conn)
    assert (entry.actor, entry.action, entry.target_id, entry.reason) == (
        "moderator", "hide_paper", PID, "not a paper")


def test_member_cannot_use_moderator_actions(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    _featured_today(engine)
    sign_in(client, inbox, "ada@example.org")
    token = csrf(client, f"/papers/{PID}")
    assert client.post(f"/papers/{PID}/hide", data={"csrf_token": token}).status_code == 403
    assert client.post("/featured/1/remove", data={"csrf_token": token}).status_code == 403
    assert client.get("/admin").status_code == 403
    assert "Moderation" not in client.get(f"/papers/{PID}").text.split("<main")[1].split(
        "Comments")[0]


def test_moderator_removes_a_featured_entry(
    settings: Settings, inbox: Inbox, engine: Engine, client: TestClient
) -> None:
    day = _featured_today(engine)
    assert PID in client.get(f"/papers/date/{day}").text  # now in the anonymous page cache
    mod = TestClient(client.app)
    add_member(engine, "moderator@example.org", role="moderator", username="moderator")
    sign_in(mod, inbox, "moderator@example.org")
    with engine.connect() as conn:
        (entry,) = moderation.featured_entries(conn, PID)
    r = mod.post(f"/featured/{entry['id']}/remove", data={
        "removed": "1", "reason": "duplicate", "csrf_token": csrf(mod, f"/papers/{PID}")},
        follow_redirects=False)
    assert r.status_code == 303
    assert PID not in client.get(f"/papers/date/{day}").text
    assert client.get(f"/papers/{PID}").status_code == 200  # still indexed, just not featured
    with engine.connect() as conn:
        assert moderation.list_log(conn)[0].action == "remove_featured"


def test_banned_member_cannot_vote_comment_or_submit(
    settings: Settings, inbox: Inbox, engine: Engine, client: TestClient
) -> None:
    _featured_today(engine)
    sign_in(client, inbox, "ada@example.org")
    with engine.connect() as conn:
        from paperfeed.storage import users

        ada = users.get_by_email(conn, "ada@example.org")
    assert ada is not None
    token = token_for(engine, ada)
    mod = _mod_client(settings, inbox, engine)
    r = mod.post("/admin/ban", data={"username": ada.username, "reason": "spam",
                                     "csrf_token": csrf(mod, "/admin")})
    assert r.status_code == 200 and "banned" in r.text
    # The ban ended the browser session ...
    assert client.get("/settings").status_code == 401
    # ... and the API token can no longer act.
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/papers/{PID}/upvote", headers=auth).status_code == 403
    assert client.post("/api/papers/submit", json={"id": PID}, headers=auth).status_code == 403
    # Signing in again gives no link, so no new session either.
    before = len(inbox.to("ada@example.org"))
    client.post("/signin", data={"email": "ada@example.org", "csrf_token": csrf(client)})
    assert len(inbox.to("ada@example.org")) == before


def test_moderator_cannot_ban_an_admin(
    settings: Settings, inbox: Inbox, engine: Engine
) -> None:
    add_member(engine, "boss@example.org", role="admin", username="boss")
    mod = _mod_client(settings, inbox, engine)
    r = mod.post("/admin/ban", data={"username": "boss", "reason": "x",
                                     "csrf_token": csrf(mod, "/admin")})
    assert r.status_code == 403


def test_moderation_log_is_visible_to_admins_only(
    settings: Settings, inbox: Inbox, engine: Engine
) -> None:
    _featured_today(engine)
    mod = _mod_client(settings, inbox, engine)
    mod.post(f"/papers/{PID}/hide", data={"hidden": "1", "reason": "<b>off-topic</b>",
                                          "csrf_token": csrf(mod, f"/papers/{PID}")})
    page = mod.get("/admin")
    assert page.status_code == 200 and "Moderation log" not in page.text
    admin = _mod_client(settings, inbox, engine, role="admin")
    page = admin.get("/admin").text
    assert "Moderation log" in page
    assert "hide_paper" in page and "&lt;b&gt;off-topic&lt;/b&gt;" in page
    assert "moderator" in page


def test_ban_is_refused_without_csrf(settings: Settings, inbox: Inbox, engine: Engine) -> None:
    add_member(engine, "ada@example.org", username="ada")
    mod = _mod_client(settings, inbox, engine)
    mod.get("/admin")
    assert mod.post("/admin/ban", data={"username": "ada", "reason": "x"}).status_code == 403


def test_hidden_paper_cannot_be_voted_on(
    settings: Settings, inbox: Inbox, engine: Engine, client: TestClient, now: datetime
) -> None:
    _featured_today(engine)
    mod = _mod_client(settings, inbox, engine)
    mod.post(f"/papers/{PID}/hide", data={"hidden": "1", "reason": "x",
                                          "csrf_token": csrf(mod, f"/papers/{PID}")})
    token = token_for(engine, add_member(engine, "ada@example.org"))
    r = client.post(f"/api/papers/{PID}/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404
