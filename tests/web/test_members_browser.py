"""Members in a real Chromium: sign in with the emailed link (real SMTP on loopback), upvote
a paper (the count changes without a reload), submit a paper whose metadata comes from a
recorded arXiv response replayed on loopback, and find it on today's list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import Featured, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured
from tests.conftest import FIXTURES
from tests.members_support import Inbox, add_paper, replay_server, smtp  # noqa: F401 - fixture
from tests.web.conftest import live_server  # noqa: F401 - fixture
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser
SEEDED = "2506.01234"
SUBMITTED = "2206.06921"  # tests/fixtures/arxiv/query_doc.xml


@pytest.fixture
def arxiv_url() -> Iterator[str]:
    server, url = replay_server(FIXTURES / "arxiv" / "query_doc.xml")
    yield url
    server.shutdown()


@pytest.fixture
def settings(tmp_path: Path, smtp: tuple[Inbox, int], arxiv_url: str) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path / "data",
        environment="development",
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://127.0.0.1",  # live_server serves on its own port and base URL
        arxiv_delay_seconds=0,
        http_retries=0,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        arxiv_api_url=arxiv_url,
        submission_max_age_days=100_000,  # the recorded paper is from 2022
    )


@pytest.fixture
def page() -> Iterator[object]:
    for browser in launch_chromium():
        yield browser.new_context().new_page()


def test_member_signs_in_by_email_upvotes_and_submits_a_paper(
    page, live_server: str, engine: Engine, smtp: tuple[Inbox, int]  # noqa: F811
) -> None:
    inbox = smtp[0]
    now = utcnow()
    add_paper(engine, SEEDED, published_at=now - timedelta(days=1), title="A seeded paper")
    with write(engine) as conn:
        add_featured(conn, [Featured(SEEDED, now.date(), source="hf")], now=now)

    # Sign in: ask for a link, open it from the email, press the button.
    page.goto(live_server + "/")
    page.click("text=Sign in")
    page.fill("#signin-email", "ada@example.org")
    page.click("text=Email me a sign-in link")
    page.wait_for_url("**/signin?sent=1")
    link = inbox.last_link("ada@example.org")
    assert link.startswith(live_server + "/signin/link?")
    page.goto(link)
    page.click("form[action='/signin/link'] button")
    page.wait_for_url(live_server + "/")
    assert page.locator(".account-nav .me").inner_text().startswith("member-")

    # Upvote: the count changes in place (no reload: the marker survives).
    form = page.locator(f"form[action='/papers/{SEEDED}/upvote']")
    assert form.locator(".upvote-count").inner_text() == "0"
    page.evaluate("window.__noReload = true")
    form.locator("button").click()
    # (a locator, not wait_for_function: the site's CSP forbids the eval that needs)
    form.locator(".upvote-count", has_text="1").wait_for()
    assert page.evaluate("window.__noReload") is True
    assert "voted" in (form.get_attribute("class") or "")
    page.reload()
    assert form.locator(".upvote-count").inner_text() == "1"  # stored, not just displayed

    # Submit a paper by URL; its metadata comes from the replayed arXiv response.
    page.click("text=Submit a paper")
    page.fill("#submit-paper", f"https://arxiv.org/abs/{SUBMITTED}v3")
    page.click("form[action='/submit'] button")
    assert "Attainable forms of Assouad spectra" in page.locator(".flash").inner_text()
    page.goto(live_server + "/")
    assert page.locator(f"a[href='/papers/{SUBMITTED}']").first.inner_text() == (
        "Attainable forms of Assouad spectra"
    )
