"""In a real Chromium on a live server over plain http (as the quick start runs): sign in with
the emailed link under the new cookies and CSP, upvote with the script, download my data,
sign out everywhere, and delete the account -- with no Content-Security-Policy violation on any
page, the API docs included. Screenshots of the settings and deletion pages."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from paperfeed.config import Settings
from paperfeed.models import Featured, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured
from paperfeed.storage.schema import users, votes
from tests.members_support import Inbox, add_paper, smtp  # noqa: F401 - fixture
from tests.web.conftest import live_server  # noqa: F401 - fixture
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser
PAPER = "2506.01234"
SHOT_DIR = os.environ.get("PAPERFEED_SCREENSHOT_DIR")


@pytest.fixture
def settings(tmp_path: Path, smtp: tuple[Inbox, int]) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path / "data", environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://127.0.0.1", smtp_host="127.0.0.1", smtp_port=smtp[1],
    )


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


def test_member_flows_work_with_the_new_cookies_and_csp(
    browser, live_server: str, engine: Engine, smtp: tuple[Inbox, int],  # noqa: F811, ANN001
    tmp_path: Path,
) -> None:
    inbox = smtp[0]
    shots = Path(SHOT_DIR) if SHOT_DIR else tmp_path
    now = utcnow()
    add_paper(engine, PAPER, published_at=now - timedelta(days=1), title="A paper to keep")
    with write(engine) as conn:
        add_featured(conn, [Featured(PAPER, now.date(), source="hf")], now=now)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: violations.append(str(e)))

    # Sign in with the emailed link: the link page names the new account it creates.
    page.goto(live_server + "/signin")
    page.fill("#signin-email", "grace@example.org")
    page.click("text=Email me a sign-in link")
    page.wait_for_url("**/signin?sent=1")
    page.goto(inbox.last_link("grace@example.org"))
    assert "creates a new account for grace@example.org" in page.locator("main").inner_text()
    page.click("form[action='/signin/link'] button")
    page.wait_for_url(live_server + "/")
    names = {c["name"]: c for c in context.cookies()}
    assert {"pf_session", "pf_csrf"} <= set(names)  # plain http: no __Host- prefix
    assert names["pf_session"]["httpOnly"] and not names["pf_session"]["secure"]

    # The upvote script runs under the CSP: the count changes in place.
    form = page.locator(f"form[action='/papers/{PAPER}/upvote']")
    form.locator("button").click()
    form.locator(".upvote-count", has_text="1").wait_for()

    # Settings: comment, then download my data.
    page.goto(live_server + f"/papers/{PAPER}")
    page.fill("form[action$='/comments'] textarea", "Kept after I leave")
    page.click("form[action$='/comments'] button[type=submit]")
    page.goto(live_server + "/settings")
    page.screenshot(path=str(shots / "screenshot-settings.png"), full_page=True)
    with page.expect_download() as info:
        page.click("text=Download my data")
    data = json.loads(Path(info.value.path()).read_text())
    assert data["profile"]["email"] == "grace@example.org"
    assert [v["paper_id"] for v in data["tables"]["votes"]] == [PAPER]
    username = data["profile"]["username"]

    # The API docs run Swagger UI from a static script under the site's CSP.
    docs = context.new_page()
    docs.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    docs.goto(live_server + "/api/docs")
    docs.locator("#swagger-ui .swagger-ui").wait_for()  # the static script ran
    docs.close()

    # Delete the account, keeping the comment and the vote as anonymous.
    page.goto(live_server + "/settings")
    page.click("text=Delete my account")
    page.check("input[name=content][value=keep]")
    page.fill("#delete-confirm", username)
    page.screenshot(path=str(shots / "screenshot-delete-account.png"), full_page=True)
    page.click("button.danger")
    page.wait_for_url("**/account-deleted?content=keep")
    assert "Your account is deleted" in page.locator("h1").inner_text()
    page.screenshot(path=str(shots / "screenshot-account-deleted.png"), full_page=True)
    assert page.locator(".account-nav").inner_text().strip() == "Sign in"
    page.goto(live_server + f"/papers/{PAPER}")
    assert "Kept after I leave" in page.locator("main").inner_text()
    with engine.connect() as conn:
        assert conn.execute(select(users.c.id).where(users.c.email == "grace@example.org")).first() is None
        assert len(conn.execute(select(votes)).all()) == 1
    assert violations == []
