"""The README's quick start in a real Chromium, as a newcomer takes it: `paperfeed serve --demo`
(a subprocess, default workers, no SMTP, no base URL), sign in by the link read from the
outbox, upvote, subscribe and confirm from the outbox. Every link must point at the port the
server runs on. Screenshots go to the test's temporary directory (PAPERFEED_SCREENSHOTS=DIR
keeps them somewhere to look at)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.quickstart.conftest import DemoServer
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def page() -> Iterator[Any]:
    for browser in launch_chromium():
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(60_000)  # a loaded CI machine; Playwright waits, never sleeps
        yield page


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("PAPERFEED_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_quick_start_in_a_browser(page: Any, demo_server: DemoServer, shots: Path) -> None:
    url = demo_server.url
    page.goto(url + "/")
    assert page.locator(".paper-card").count() > 0
    page.screenshot(path=str(shots / "1-home.png"))

    # Sign in: the link is not sent anywhere, it is in the outbox.
    seen = demo_server.outbox_size()
    page.click(".account-nav >> text=Sign in")
    page.fill("#signin-email", "newcomer-browser@example.org")
    page.click("text=Email me a sign-in link")
    page.wait_for_url("**/signin?sent=1")
    mail = demo_server.mail_to("newcomer-browser@example.org", after=seen)
    [link] = [u for u in mail.links if "/signin/link?token=" in u]
    assert link.startswith(url + "/"), f"{link} is not on {url}"
    page.goto(link)
    page.click("form[action='/signin/link'] button")
    page.wait_for_url(url + "/")
    assert page.locator(".account-nav .me").inner_text().startswith("member-")
    page.screenshot(path=str(shots / "2-signed-in.png"))

    # Upvote the first paper: the count goes up by one, and stays after a reload.
    form = page.locator(".paper-card form.upvote-form").first
    action = form.get_attribute("action")
    before = int(form.locator(".upvote-count").inner_text())
    form.locator("button").click()
    selector = f"form[action='{action}'] .upvote-count"
    # (a locator assertion, not wait_for_function: the site's CSP forbids the eval it needs)
    from playwright.sync_api import expect

    expect(page.locator(selector).first).to_have_text(str(before + 1), timeout=30_000)
    page.reload()
    assert int(page.locator(selector).first.inner_text()) == before + 1

    # Subscribe from the box on the list page, confirm from the outbox.
    seen = demo_server.outbox_size()
    page.fill("#subscribe-email", "newcomer-digest@example.org")
    page.select_option("#subscribe-frequency", "weekly")
    page.click(".subscribe-form button")
    page.wait_for_url(url + "/subscribe/sent")
    assert "newcomer-digest@example.org" in page.locator("main").inner_text()
    page.screenshot(path=str(shots / "3-subscribe-sent.png"))
    mail = demo_server.mail_to("newcomer-digest@example.org", after=seen)
    [confirm] = [u for u in mail.links if "/subscribe/confirm?token=" in u]
    assert confirm.startswith(url + "/")
    page.goto(confirm)
    page.click("form[action='/subscribe/confirm'] button")
    page.wait_for_url("**/subscribe/preferences?*")
    assert "You are subscribed" in page.locator("main").inner_text()
    page.screenshot(path=str(shots / "4-subscribed.png"))
    listed = demo_server.cli("subscribers", "list", "--status", "confirmed").stdout
    assert "newcomer-digest@example.org\tweekly\tconfirmed" in listed

    # The paper page's canonical link uses the same address.
    page.goto(url + action.removesuffix("/upvote"))  # type: ignore[union-attr]
    canonical = page.locator("link[rel=canonical]").get_attribute("href")
    assert canonical and canonical.startswith(url + "/papers/")
