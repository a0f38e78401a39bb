"""Account hardening (issue 14 item 7), each reproduced on e641f96 before the fix: sessions and
links end on password change, the current password guards its removal, lockout is not handed
to an attacker, usernames are case-insensitive, hidden comments stay with the moderators, a
banned account's password cannot be confirmed, the sign-in link page names its account, and
accounts are created only when a link is used."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from paperfeed.accounts import comments as comment_service
from paperfeed.accounts import profile
from paperfeed.accounts.signin import SESSION_COOKIE
from paperfeed.config import Settings
from paperfeed.errors import Conflict, NotFound
from paperfeed.storage import users as store
from paperfeed.storage.db import write
from paperfeed.storage.schema import login_tokens, sessions, users
from paperfeed.web.app import create_app
from tests.members_support import (
    CSRF_RE,
    Inbox,
    add_member,
    add_paper,
    csrf,
    follow_link,
    request_link,
    sign_in,
)

PASSWORD = "correct horse battery"


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def _set_password(client: TestClient, new: str, current: str = "") -> object:
    return client.post("/settings/password", data={
        "current": current, "new": new, "csrf_token": csrf(client, "/settings")})


def test_changing_the_password_ends_other_sessions_and_old_links(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    app = create_app(settings)
    with TestClient(app) as laptop, TestClient(app) as phone, TestClient(app) as thief:
        sign_in(laptop, inbox, "ada@example.org")
        sign_in(phone, inbox, "ada@example.org")
        _set_password(laptop, PASSWORD)
        request_link(thief, "ada@example.org")  # a link issued before the change
        old_link = inbox.last_link("ada@example.org")
        r = _set_password(laptop, "a brand new password", current=PASSWORD)
        assert r.status_code in (200, 303)
        assert laptop.get("/settings").status_code == 200  # this session goes on
        assert phone.get("/settings").status_code == 401  # the others end
        assert follow_link(thief, old_link).status_code == 400  # and so do old links


def test_sign_out_everywhere_ends_every_session(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    app = create_app(settings)
    with TestClient(app) as laptop, TestClient(app) as phone:
        sign_in(laptop, inbox, "ada@example.org")
        sign_in(phone, inbox, "ada@example.org")
        r = laptop.post("/settings/signout-everywhere",
                        data={"csrf_token": csrf(laptop, "/settings")}, follow_redirects=False)
        assert r.status_code == 303
        assert laptop.get("/settings").status_code == 401
        assert phone.get("/settings").status_code == 401
    assert _count(engine, sessions) == 0


def test_removing_the_password_needs_the_current_one(client: TestClient, inbox: Inbox) -> None:
    sign_in(client, inbox, "ada@example.org")
    _set_password(client, PASSWORD)
    token = csrf(client, "/settings")
    r = client.post("/settings/password", data={"remove": "1", "current": "", "csrf_token": token})
    assert r.status_code == 400 and "current password" in r.text
    # ...so a stolen session cannot remove it and then set its own
    r = client.post("/settings/password", data={"new": "attacker password", "csrf_token": token})
    assert r.status_code == 400
    r = client.post("/settings/password", data={"remove": "1", "current": PASSWORD,
                                                "csrf_token": token})
    assert r.status_code in (200, 303)


def test_wrong_passwords_from_an_attacker_do_not_lock_the_member_out(
    settings: Settings, engine: Engine
) -> None:
    member = add_member(engine, "ada@example.org", username="ada")
    profile.set_password(engine, member, current="", new=PASSWORD)
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.9", 1)) as attacker:
        token = csrf(attacker)
        for _ in range(settings.signin_limit_per_hour + 2):
            attacker.post("/signin/password", data={"login": "ada", "password": "guess guess",
                                                    "csrf_token": token})
        blocked = attacker.post("/signin/password", data={"login": "ada", "password": PASSWORD,
                                                          "csrf_token": token})
        assert blocked.status_code == 429  # the attacker's address is limited...
    with TestClient(app, client=("198.51.100.4", 1)) as ada:
        r = ada.post("/signin/password", data={"login": "ada", "password": PASSWORD,
                                               "csrf_token": csrf(ada)}, follow_redirects=False)
        assert r.status_code == 303  # ...the member, elsewhere, is not


def test_link_requests_from_an_attacker_do_not_lock_the_member_out(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    add_member(engine, "ada@example.org")
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.9", 1)) as attacker:
        for _ in range(settings.signin_limit_per_hour):
            request_link(attacker, "ada@example.org")
        r = attacker.post("/signin", data={"email": "ada@example.org",
                                           "csrf_token": csrf(attacker)}, follow_redirects=False)
        assert r.status_code == 429
    with TestClient(app, client=("198.51.100.4", 1)) as ada:
        request_link(ada, "ada@example.org")
        assert follow_link(ada, inbox.last_link("ada@example.org")).status_code == 303


def test_a_slower_global_cap_still_bounds_a_distributed_attack(
    settings: Settings, engine: Engine
) -> None:
    member = add_member(engine, "ada@example.org", username="ada")
    profile.set_password(engine, member, current="", new=PASSWORD)
    cap = 8
    app = create_app(settings.model_copy(update={"signin_account_limit_per_hour": cap,
                                                 "trusted_proxies": ["127.0.0.1"]}))
    statuses = []
    with TestClient(app, client=("127.0.0.1", 1)) as c:  # a proxy passing on many clients
        token = csrf(c)
        for i in range(cap + 1):
            r = c.post("/signin/password", data={"login": "ada", "password": "guess guess",
                                                 "csrf_token": token},
                       headers={"x-forwarded-for": f"203.0.113.{i}"})
            statuses.append(r.status_code)
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}


def test_usernames_are_unique_whatever_their_case(engine: Engine) -> None:
    add_member(engine, "alice@example.org", username="alice")
    bob = add_member(engine, "bob@example.org", username="bob")
    with pytest.raises(Conflict):
        profile.update_profile(engine, bob, username="Alice", display_name="")
    with pytest.raises(Conflict):
        add_member(engine, "eve@example.org", username="ALICE")
    with engine.connect() as conn:
        found = store.get_by_username(conn, "ALICE")
    assert found is not None and found.username == "alice"


def test_hf_submitter_differing_only_by_case_from_a_member_gets_its_own_account(
    engine: Engine, now: datetime
) -> None:
    from paperfeed.models import Submitter
    from paperfeed.storage.papers import ensure_external_user

    alice = add_member(engine, "alice@example.org", username="alice")
    with write(engine) as conn:
        uid = ensure_external_user(conn, Submitter(name="Alice"), now=now)
        again = ensure_external_user(conn, Submitter(name="Alice"), now=now)
    assert uid == again != alice.id


def test_a_hidden_comment_cannot_be_edited_or_deleted_by_its_author(
    settings: Settings, engine: Engine, now: datetime
) -> None:
    add_paper(engine, "2506.01234", published_at=now - timedelta(days=1))
    author = add_member(engine, "ada@example.org")
    mod = add_member(engine, "mod@example.org", role="moderator")
    cid = comment_service.add_comment(engine, settings, author, "2506.01234", "spam spam",
                                      ip="1.2.3.4", now=now)
    comment_service.hide_comment(engine, mod, cid, hidden=True, reason="spam", now=now)
    with pytest.raises(NotFound):
        comment_service.edit_comment(engine, author, cid, "innocent text", now=now)
    with pytest.raises(NotFound):
        comment_service.delete_comment(engine, author, cid)
    with engine.connect() as conn:
        from paperfeed.storage import comments as cstore

        kept = cstore.get_comment(conn, cid)
    assert kept.body == "spam spam" and kept.hidden and not kept.deleted


def test_a_banned_accounts_password_gets_the_same_answer_as_a_wrong_one(
    client: TestClient, engine: Engine
) -> None:
    member = add_member(engine, "ada@example.org", username="ada")
    profile.set_password(engine, member, current="", new=PASSWORD)
    with write(engine) as conn:
        store.set_banned(conn, member.id, True)
    token = csrf(client)
    right = client.post("/signin/password", data={"login": "ada", "password": PASSWORD,
                                                   "csrf_token": token})
    wrong = client.post("/signin/password", data={"login": "ada", "password": "not the one!",
                                                   "csrf_token": token})
    assert right.status_code == wrong.status_code == 401
    assert re.sub(r'value="[^"]*"', "", right.text) == re.sub(r'value="[^"]*"', "", wrong.text)


def test_the_signin_link_page_names_the_account(client: TestClient, inbox: Inbox, engine: Engine) -> None:
    add_member(engine, "ada@example.org", username="ada-l")
    request_link(client, "ada@example.org")
    link = inbox.last_link("ada@example.org")
    page = client.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert "ada-l" in page.text and "ada@example.org" in page.text


def test_a_signin_request_creates_no_account_until_the_link_is_used(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    request_link(client, "newcomer@example.org")
    assert _count(engine, users, users.c.email == "newcomer@example.org") == 0
    link = inbox.last_link("newcomer@example.org")
    page = client.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert "newcomer@example.org" in page.text and "new account" in page.text.lower()
    assert follow_link(client, link).status_code == 303
    assert _count(engine, users, users.c.email == "newcomer@example.org") == 1
    assert client.get("/settings").status_code == 200


def test_two_links_for_a_new_address_make_one_account(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    app = create_app(settings)
    with TestClient(app) as a, TestClient(app) as b:
        request_link(a, "twice@example.org")
        first = inbox.last_link("twice@example.org")
        request_link(b, "twice@example.org")
        second = [m for m in inbox.to("twice@example.org")][-1]
        assert follow_link(a, first).status_code == 303
        body = second.get_payload(decode=True).decode()  # type: ignore[union-attr]
        link2 = re.search(r"(https?://\S+/signin/link\?token=\S+)", body).group(1)  # type: ignore[union-attr]
        assert follow_link(b, link2).status_code == 303
    assert _count(engine, users, users.c.email == "twice@example.org") == 1


def test_csrf_token_is_bound_to_the_session_and_rotates_at_signin(
    client: TestClient, inbox: Inbox
) -> None:
    before = csrf(client, "/signin")
    sign_in(client, inbox, "ada@example.org")
    after = csrf(client, "/settings")
    assert after != before
    r = client.post("/settings/profile", data={"username": "ada", "display_name": "",
                                               "csrf_token": before})
    assert r.status_code == 403
    page = client.get("/settings")
    tokens = set(CSRF_RE.findall(page.text))
    assert len(tokens) == 1  # one token per request, reused by every form


def test_cookies_on_plain_http_keep_their_names_and_skip_secure(client: TestClient, inbox: Inbox) -> None:
    request_link(client, "ada@example.org")
    r = follow_link(client, inbox.last_link("ada@example.org"))
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in cookies)
    assert not any("Secure" in c or c.startswith("__Host-") for c in cookies)


@pytest.mark.parametrize("how", ["https", "trusted-proxy"])
def test_cookies_over_https_are_host_prefixed_and_secure(
    settings: Settings, engine: Engine, inbox: Inbox, how: str
) -> None:
    if how == "https":
        app, kwargs, headers = create_app(settings), {"base_url": "https://testserver"}, {}
    else:
        app = create_app(settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]}))
        kwargs = {"client": ("127.0.0.1", 1)}
        headers = {"x-forwarded-proto": "https"}
    with TestClient(app, headers=headers, **kwargs) as c:  # type: ignore[arg-type]
        page = c.get("/signin")
        csrf_cookie = page.headers["set-cookie"]
        assert csrf_cookie.startswith("__Host-pf_csrf=") and "Secure" in csrf_cookie
        assert "Path=/" in csrf_cookie and "Domain" not in csrf_cookie
        if how != "https":
            return  # the test client keeps Secure cookies for https URLs only
        request_link(c, "ada@example.org")
        r = follow_link(c, inbox.last_link("ada@example.org"))
        session = [x for x in r.headers.get_list("set-cookie") if "pf_session" in x]
        assert session and session[0].startswith("__Host-pf_session=") and "Secure" in session[0]
        assert c.get("/settings").status_code == 200


def test_a_plain_http_cookie_is_not_accepted_over_https(
    settings: Settings, engine: Engine, inbox: Inbox
) -> None:
    app = create_app(settings)
    with TestClient(app) as plain:
        sign_in(plain, inbox, "ada@example.org")
        value = plain.cookies[SESSION_COOKIE]
    with TestClient(app, base_url="https://testserver", cookies={SESSION_COOKIE: value}) as tls:
        assert tls.get("/settings").status_code == 401


def test_login_tokens_of_unknown_addresses_hold_no_member(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    request_link(client, "stranger@example.org")
    with engine.connect() as conn:
        row = conn.execute(select(login_tokens)).mappings().one()
    assert row["user_id"] is None and row["email"] == "stranger@example.org"
