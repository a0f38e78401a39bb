from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from paperfeed.accounts.signin import SESSION_COOKIE
from paperfeed.config import Settings
from paperfeed.storage.schema import sessions, users
from paperfeed.web.app import create_app
from tests.members_support import (
    Inbox,
    add_member,
    csrf,
    follow_link,
    request_link,
    sign_in,
)


def test_signin_by_emailed_link_over_real_smtp_creates_a_session(
    client: TestClient, inbox: Inbox
) -> None:
    assert client.get("/settings").status_code == 401
    sign_in(client, inbox, "ada@example.org")
    msg = inbox.to("ada@example.org")[-1]
    assert "Sign in" in msg["Subject"]
    page = client.get("/settings")
    assert page.status_code == 200
    assert "ada@example.org" in page.text


def test_signin_link_works_only_once(client: TestClient, inbox: Inbox, settings: Settings) -> None:
    request_link(client, "ada@example.org")
    link = inbox.last_link("ada@example.org")
    assert follow_link(client, link).status_code == 303
    with TestClient(create_app(settings)) as other:
        again = follow_link(other, link)
        assert again.status_code == 400
        assert "already used or expired" in again.text
        assert SESSION_COOKIE not in other.cookies


def test_expired_signin_link_is_refused(client: TestClient, inbox: Inbox) -> None:
    request_link(client, "ada@example.org")
    link = inbox.last_link("ada@example.org")
    client.app.state.clock = lambda: datetime.utcnow() + timedelta(minutes=16)  # type: ignore[attr-defined]
    r = follow_link(client, link)
    assert r.status_code == 400
    assert client.get("/settings").status_code == 401


def test_session_id_changes_at_signin_so_a_planted_cookie_is_useless(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    sign_in(client, inbox, "ada@example.org")
    first = client.cookies[SESSION_COOKIE]
    # The same browser signs in again (e.g. an attacker planted this cookie): a new id.
    sign_in(client, inbox, "ada@example.org")
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sessions)).scalar_one() == 1
    assert TestClient(client.app, cookies={SESSION_COOKIE: first}).get("/settings").status_code == 401
    assert TestClient(client.app, cookies={SESSION_COOKIE: second}).get("/settings").status_code == 200


def test_session_cookie_is_httponly_and_samesite_lax(client: TestClient, inbox: Inbox) -> None:
    request_link(client, "ada@example.org")
    r = follow_link(client, inbox.last_link("ada@example.org"))
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # http base_url


def test_session_cookie_is_secure_on_https_sites(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    settings.base_url = "https://papers.example.org"
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        request_link(c, "ada@example.org")
        r = follow_link(c, inbox.last_link("ada@example.org"))
        assert "Secure" in r.headers["set-cookie"]


def test_signout_deletes_the_session_row(client: TestClient, inbox: Inbox, engine: Engine) -> None:
    sign_in(client, inbox, "ada@example.org")
    cookie = client.cookies[SESSION_COOKIE]
    r = client.post("/signout", data={"csrf_token": csrf(client, "/settings")},
                    follow_redirects=False)
    assert r.status_code == 303
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sessions)).scalar_one() == 0
    assert TestClient(client.app, cookies={SESSION_COOKIE: cookie}).get("/settings").status_code == 401


def test_signin_answer_is_identical_for_known_and_unknown_addresses(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    settings.registration_open = False
    add_member(engine, "known@example.org")
    with TestClient(create_app(settings)) as c:
        answers = []
        for address in ("known@example.org", "nobody@example.org"):
            r = c.post("/signin", data={"email": address, "csrf_token": csrf(c)},
                       follow_redirects=False)
            answers.append((r.status_code, r.headers["location"], r.text))
        assert answers[0] == answers[1]
    assert len(inbox.to("known@example.org")) == 1
    assert inbox.to("nobody@example.org") == []
    with engine.connect() as conn:
        assert conn.execute(
            select(func.count()).select_from(users).where(users.c.email == "nobody@example.org")
        ).scalar_one() == 0


def test_open_registration_creates_the_account_on_first_link(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    sign_in(client, inbox, "New.Person@Example.org")
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == "new.person@example.org")).first()
    assert row is not None and row.role == "member" and row.username.startswith("member-")


def test_signin_form_without_csrf_token_is_rejected(client: TestClient, inbox: Inbox) -> None:
    client.get("/signin")
    r = client.post("/signin", data={"email": "ada@example.org"})
    assert r.status_code == 403
    assert inbox.to("ada@example.org") == []


def test_signin_requests_are_rate_limited_per_address(
    client: TestClient, settings: Settings, inbox: Inbox
) -> None:
    for _ in range(settings.signin_limit_per_hour):
        request_link(client, "ada@example.org")
    r = client.post("/signin", data={"email": "ada@example.org", "csrf_token": csrf(client)},
                    follow_redirects=False)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert len(inbox.to("ada@example.org")) == settings.signin_limit_per_hour


def test_password_signin_after_setting_a_password(
    client: TestClient, inbox: Inbox, settings: Settings
) -> None:
    sign_in(client, inbox, "ada@example.org")
    token = csrf(client, "/settings")
    r = client.post("/settings/password", data={"new": "correct horse battery", "csrf_token": token})
    assert r.status_code == 200 and "Password saved" in r.text  # after the redirect to /settings
    with TestClient(create_app(settings)) as fresh:
        token = csrf(fresh)
        bad = fresh.post("/signin/password", data={
            "login": "ada@example.org", "password": "wrong password!", "csrf_token": token})
        unknown = fresh.post("/signin/password", data={
            "login": "who@example.org", "password": "wrong password!", "csrf_token": token})
        assert bad.status_code == unknown.status_code == 401
        assert "wrong email/username or password" in bad.text.lower()
        assert "wrong email/username or password" in unknown.text.lower()
        ok = fresh.post("/signin/password", data={
            "login": "ada@example.org", "password": "correct horse battery", "csrf_token": token},
            follow_redirects=False)
        assert ok.status_code == 303 and SESSION_COOKIE in ok.headers["set-cookie"]
        assert fresh.get("/settings").status_code == 200


def test_changing_a_password_needs_the_current_one(client: TestClient, inbox: Inbox) -> None:
    sign_in(client, inbox, "ada@example.org")
    token = csrf(client, "/settings")
    client.post("/settings/password", data={"new": "first password!", "csrf_token": token})
    r = client.post("/settings/password", data={
        "current": "not it at all", "new": "second password", "csrf_token": token})
    assert r.status_code == 400 and "current password is wrong" in r.text


def test_banned_member_gets_no_signin_link(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    from paperfeed.storage import users as store
    from paperfeed.storage.db import write

    member = add_member(engine, "ada@example.org")
    with write(engine) as conn:
        store.set_banned(conn, member.id, True)
    request_link(client, "ada@example.org")
    assert inbox.to("ada@example.org") == []


def test_settings_page_creates_a_token_shown_once_and_revokes_it(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    import re

    from paperfeed.storage.schema import api_tokens

    sign_in(client, inbox, "ada@example.org")
    r = client.post("/settings/tokens", data={"name": "laptop", "csrf_token": csrf(client, "/settings")})
    m = re.search(r'<code id="new-token">(pf_[\w\-]+)</code>', r.text)
    assert m and r.headers["cache-control"] == "no-store"
    token = m.group(1)
    with engine.connect() as conn:
        (stored,) = conn.execute(select(api_tokens.c.id, api_tokens.c.token_hash)).all()
    assert token not in stored.token_hash  # stored hashed only
    page = client.get("/settings").text
    assert "laptop" in page and token not in page  # never shown again
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/whoami", headers=auth).status_code == 200
    client.post(f"/settings/tokens/{stored.id}/revoke", data={"csrf_token": csrf(client, "/settings")})
    assert client.get("/api/whoami", headers=auth).status_code == 401


def test_profile_username_change_and_taken_username(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    add_member(engine, "bob@example.org", username="bob")
    sign_in(client, inbox, "ada@example.org")
    token = csrf(client, "/settings")
    ok = client.post("/settings/profile", data={"username": "ada", "display_name": "Ada L.",
                                                "csrf_token": token})
    assert ok.status_code == 200 and "Profile saved" in ok.text
    taken = client.post("/settings/profile", data={"username": "bob", "display_name": "",
                                                   "csrf_token": token})
    assert taken.status_code == 409 and "taken" in taken.text
    bad = client.post("/settings/profile", data={"username": "<script>", "display_name": "",
                                                 "csrf_token": token})
    assert bad.status_code == 400 and "<script>" not in bad.text.split("<main")[1]


def test_expired_sessions_are_purged_at_the_next_signin(
    client: TestClient, inbox: Inbox, engine: Engine, settings: Settings
) -> None:
    sign_in(client, inbox, "ada@example.org")
    later = datetime.utcnow() + timedelta(days=settings.session_days, minutes=1)
    client.app.state.clock = lambda: later  # type: ignore[attr-defined]
    assert client.get("/settings").status_code == 401  # expired
    with TestClient(client.app) as other:
        sign_in(other, inbox, "bob@example.org")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sessions)).scalar_one() == 1


def test_signin_link_returns_to_the_page_the_member_came_from(
    client: TestClient, inbox: Inbox
) -> None:
    page = client.get("/signin", params={"next": "/papers/date/2025-06-16"})
    token = csrf(client, "/signin")
    assert 'name="next" value="/papers/date/2025-06-16"' in page.text
    client.post("/signin", data={"email": "ada@example.org", "next": "/papers/date/2025-06-16",
                                 "csrf_token": token})
    link = inbox.last_link("ada@example.org")
    assert "next=%2Fpapers%2Fdate%2F2025-06-16" in link
    r = follow_link(client, link)
    assert r.headers["location"] == "/papers/date/2025-06-16"


def test_signin_link_ignores_a_foreign_next(client: TestClient, inbox: Inbox) -> None:
    client.post("/signin", data={"email": "ada@example.org", "next": "https://evil.example/",
                                 "csrf_token": csrf(client)})
    r = follow_link(client, inbox.last_link("ada@example.org"))
    assert r.headers["location"] == "/"


def test_without_smtp_the_link_goes_to_the_outbox_and_the_log_in_production_too(
    tmp_path, caplog  # type: ignore[no-untyped-def]
) -> None:
    """No SMTP host: the operator reads the link from the outbox (or the WARNING line), even
    in production, where there is no other way to sign in before mail is set up."""
    import logging
    import re

    from paperfeed import outbox
    from paperfeed.storage.db import connect, migrate

    settings = Settings(data_dir=tmp_path / "dev", environment="production",
                        secret_key="x" * 40, base_url="http://testserver")  # type: ignore[arg-type]
    settings.data_dir.mkdir(parents=True)
    migrate(connect(settings))
    with caplog.at_level(logging.INFO, logger="paperfeed.mail"), \
            TestClient(create_app(settings)) as c:
        c.post("/signin", data={"email": "dev@example.org", "csrf_token": csrf(c)})
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        m = re.search(r"http://testserver(/signin/link\?token=[\w\-]+)", "\n".join(warned))
        assert m, warned
        [stored] = outbox.latest(outbox.outbox_dir(settings.data_dir), last=5)
        assert stored.to == "dev@example.org" and stored.links == ("http://testserver" + m.group(1),)
        assert follow_link(c, stored.links[0]).status_code == 303
        assert c.get("/settings").status_code == 200
