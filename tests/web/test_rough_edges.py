"""The rough edges a newcomer hit on e641f96 (issue 9, item 11), each a test that failed there:
internal prefixes in messages, forms answering at their POST URL (a reload re-submitted),
no favicon, a 404 page saying "not found" three times, comment headers naming the author
twice, `user create` for a known address, `user ban` taking only a username, and a
suggestion of a `--demo` flag that `digest preview` does not have."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed import outbox
from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage import comments as comment_store
from paperfeed.storage import moderation, users
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from tests.feed_factories import feature, paper
from tests.members_support import CSRF_RE, csrf, follow_link

PID = "2506.02222"


def _outbox_link(settings: Settings, to: str, part: str) -> str:
    [mail] = outbox.latest(outbox.outbox_dir(settings.data_dir), last=1, to=to)
    return next(u for u in mail.links if part in u)


def _sign_in(client: TestClient, settings: Settings, address: str) -> None:
    client.post("/signin", data={"email": address, "csrf_token": csrf(client)})
    assert follow_link(client, _outbox_link(settings, address, "/signin/link")).status_code == 303


def _token(page: str) -> str:
    m = CSRF_RE.search(page)
    assert m
    return m.group(1)


# --- messages --------------------------------------------------------------------------------


def test_error_pages_speak_to_people_without_internal_prefixes(client: TestClient) -> None:
    page = client.get("/papers/date/2025-02-30")
    assert page.status_code == 400
    message = re.search(r'<p class="error-message">([^<]*)</p>', page.text)
    assert message and message.group(1)[0].isupper(), page.text
    assert not re.match(r"[a-z-]+: ", message.group(1))
    # The JSON API keeps the component for developers.
    assert client.get("/api/daily_papers", params={"date": "2025-02-30"}).json()["error"]


@pytest.mark.parametrize("token", ["garbage", "", "already-used-or-expired"])
def test_a_dead_signin_link_speaks_to_people_without_internal_prefixes(
    client: TestClient, token: str
) -> None:
    """The page a newcomer lands on from an old sign-in mail said "sign-in: this link...";
    the text is the visitor's, without the component the CLI and logs keep."""
    page = client.get("/signin/link", params={"token": token})
    assert page.status_code == 400
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "This link is invalid, already used or expired" in text, text[:600]
    assert "sign-in: " not in text


def test_the_404_page_says_not_found_once(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.text.count("ot found") == 2  # <title>Not found</title> and the heading
    assert '<p class="error-message">' not in page.text
    missing = client.get("/papers/2401.99999")  # a specific message is still shown
    assert "2401.99999 is not in this catalog" in missing.text


def test_favicon_is_served_and_linked(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/signin").text


def test_comment_header_names_the_author_once(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    feature(engine, [paper(PID)], date(2025, 6, 16))
    with write(engine) as conn:
        plain = users.create_user(conn, email="plain@example.org", username="plainname",
                                  now=utcnow())
        named = users.create_user(conn, email="named@example.org", username="ada",
                                  display_name="Ada Lovelace", now=utcnow())
        for who in (plain, named):
            comment_store.add_comment(conn, paper_id=PID, user_id=who.id, body="Hi", now=utcnow())
    settings.page_cache_seconds = 0
    page = client.get(f"/papers/{PID}").text
    headers = re.findall(r"<header><strong>.*?</span></header>", page, re.S)
    assert len(headers) == 2
    plain_header = next(h for h in headers if "plainname" in h)
    assert plain_header.count("plainname") == 1
    assert "Ada Lovelace" in page and "@ada" in page


# --- POST-redirect-GET -----------------------------------------------------------------------


def test_subscribe_redirects_and_a_reload_sends_nothing_again(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    r = client.post("/subscribe", data={"email": "Reader@Example.org", "frequency": "daily",
                                        "csrf_token": csrf(client, "/")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/subscribe/sent"
    page = client.get("/subscribe/sent")
    assert "reader@example.org" in page.text and "Check your inbox" in page.text
    reload = client.get("/subscribe/sent")  # the message was shown once; nothing is re-sent
    assert reload.status_code == 200 and "reader@example.org" not in reload.text
    box = outbox.outbox_dir(settings.data_dir)
    assert len(outbox.latest(box, last=10, to="reader@example.org")) == 1
    # Confirming also lands on a page of its own, the preferences page.
    confirm = _outbox_link(settings, "reader@example.org", "/subscribe/confirm")
    form = client.get(confirm.removeprefix("http://testserver"))
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    done = client.post("/subscribe/confirm", data={"token": token,
                                                   "csrf_token": _token(form.text)},
                       follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/subscribe/preferences?token=")
    prefs = client.get(done.headers["location"])
    assert "You are subscribed: reader@example.org will receive the daily digest" in prefs.text
    with engine.connect() as conn:
        assert sstore.count_confirmed(conn, "daily") == 1
    # Saving and unsubscribing from the page redirect too.
    manage = re.search(r'name="token" value="([^"]+)"', prefs.text).group(1)  # type: ignore[union-attr]
    saved = client.post("/subscribe/preferences", data={
        "token": manage, "frequency": "weekly", "csrf_token": _token(prefs.text)},
        follow_redirects=False)
    assert saved.status_code == 303
    assert "Saved: weekly digest to reader@example.org." in client.get(saved.headers["location"]).text
    gone = client.post(f"/unsubscribe?token={manage}", follow_redirects=False)
    assert gone.status_code == 303
    assert "You are unsubscribed" in client.get(gone.headers["location"]).text
    # A mail client's RFC 8058 one-click POST still gets its answer directly.
    one_click = client.post(f"/unsubscribe?token={manage}",
                            data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert one_click.status_code == 200


def test_preferences_page_shows_no_text_from_the_url(client: TestClient, engine: Engine) -> None:
    with write(engine) as conn:
        row = sstore.add(conn, "x@example.org", "daily", confirmed=True, now=utcnow())
    from paperfeed.digests.links import Links

    token = Links(client.app.state.settings).manage_token(row["id"], "x@example.org")  # type: ignore[attr-defined]
    page = client.get("/subscribe/preferences", params={"token": token,
                                                         "done": "Your account is closed"})
    assert "Your account is closed" not in page.text


def test_settings_forms_redirect_and_say_what_they_did_once(
    client: TestClient, settings: Settings
) -> None:
    _sign_in(client, settings, "member@example.org")
    page = client.get("/settings").text
    r = client.post("/settings/password", data={"new": "a long enough password",
                                                "csrf_token": _token(page)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    assert "Password saved." in client.get("/settings").text
    assert "Password saved." not in client.get("/settings").text  # a reload: said once
    page = client.get("/settings").text
    r = client.post("/settings/profile", data={"username": "newname", "display_name": "",
                                               "csrf_token": _token(page)},
                    follow_redirects=False)
    assert r.status_code == 303 and "Profile saved." in client.get("/settings").text
    page = client.get("/settings").text
    r = client.post("/settings/tokens", data={"name": "script", "csrf_token": _token(page)},
                    follow_redirects=False)
    assert r.status_code == 303
    shown = client.get("/settings")
    token = re.search(r'<code id="new-token">([^<]+)</code>', shown.text)
    assert token and token.group(1).startswith("pf_")
    assert shown.headers["cache-control"] == "no-store"
    assert token.group(1) not in client.get("/settings").text  # shown once


def test_a_failed_form_still_answers_with_the_error(client: TestClient, settings: Settings) -> None:
    _sign_in(client, settings, "member@example.org")
    page = client.get("/settings").text
    r = client.post("/settings/password", data={"new": "short", "csrf_token": _token(page)},
                    follow_redirects=False)
    assert r.status_code == 400 and 'class="flash error"' in r.text
    assert not re.search(r'class="flash error" role="alert">[a-z-]+: ', r.text)


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAPERFEED_ENVIRONMENT", "development")
    return engine


def _cli(*args: str) -> tuple[int, str]:
    """Exit status and everything printed; a library error is printed as `paperfeed` does."""
    result = CliRunner().invoke(cli_app, list(args))
    text = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"error: {result.exception}"
    return result.exit_code, text


def test_user_create_for_a_known_address_names_the_existing_account(cli_env: Engine) -> None:
    assert _cli("user", "create", "ada@example.org", "--username", "ada")[0] == 0
    code, out = _cli("user", "create", "Ada@Example.org", "--admin")
    assert code == 1
    assert "ada@example.org already has an account: ada (member)" in out
    assert "paperfeed user set-role ada@example.org admin" in out
    assert "member-" not in out  # no made-up username in the message
    code, out = _cli("user", "create", "bob@example.org", "--username", "ada")
    assert code == 1 and "username 'ada' is taken" in out


def test_user_commands_take_an_email_or_a_username(cli_env: Engine) -> None:
    _cli("user", "create", "ada@example.org", "--username", "ada")
    assert "ada is now moderator" in _cli("user", "set-role", "ada", "moderator")[1]
    assert "ada is now member" in _cli("user", "set-role", "ADA@example.org", "member")[1]
    assert _cli("user", "token", "ada")[1].strip().startswith("pf_")
    assert "ada banned" in _cli("user", "ban", "ada@example.org", "--reason", "spam")[1]
    assert "ada unbanned" in _cli("user", "ban", "ada", "--reason", "ok", "--unban")[1]
    code, out = _cli("user", "ban", "nobody", "--reason", "x")
    assert code == 1 and "no member with email or username 'nobody'" in out
    with cli_env.connect() as conn:
        actions = [e.action for e in moderation.list_log(conn)]
    assert {"ban_member", "unban_member", "set_role:moderator"} <= set(actions)


def test_the_secret_error_suggests_only_what_exists(
    cli_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERFEED_ENVIRONMENT", "production")
    feature(cli_env, [paper(PID)], date(2025, 6, 16))
    code, out = _cli("digest", "preview", "--edition", "2025-06-16")
    assert code == 1 and "PAPERFEED_SECRET_KEY" in out
    assert "use --demo" not in out and "PAPERFEED_ENVIRONMENT=development" in out


def test_commands_do_not_create_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "nothing-here"
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(data))
    code, out = _cli("subscribers", "list")
    assert code == 1 and "paperfeed init" in out
    assert not (data / "paperfeed.db").exists()


def test_submitting_while_arxiv_is_unreachable_says_so_plainly(
    client: TestClient, settings: Settings
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.arxiv_api_url = f"http://127.0.0.1:{port}/api/query"
    settings.http_retries = 0
    _sign_in(client, settings, "member@example.org")
    page = client.post("/submit", data={"paper": "2506.01234", "csrf_token": csrf(client, "/submit")})
    assert page.status_code == 502
    assert "arXiv could not be reached to look up 2506.01234 just now" in page.text
    assert "ingest:" not in page.text and "ConnectError" not in page.text


@pytest.mark.parametrize("form", [{"content": "", "confirm": "delete"},
                                  {"content": "keep", "confirm": "no"}])
def test_the_delete_account_form_speaks_without_internal_prefixes(
    client: TestClient, settings: Settings, form: dict[str, str]
) -> None:
    _sign_in(client, settings, "leaving@example.org")
    page = client.get("/settings/delete").text
    r = client.post("/settings/delete", data={**form, "csrf_token": _token(page)},
                    follow_redirects=False)
    assert r.status_code == 400
    message = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]*)<', r.text)
    assert message and message.group(1).strip()[0].isupper(), r.text[:2000]
    assert not re.match(r"[a-z-]+: ", message.group(1).strip())
