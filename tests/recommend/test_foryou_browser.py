"""For you in a real Chromium on a live server over the demo corpus: the cold-start page with
search as you type, an active-learning round, the ranked list with its reasons, and "Not
interested" sinking a paper on the next load. Screenshots go to the test's temporary directory
(PAPERFEED_SCREENSHOT_DIR=docs refreshes the ones the docs show)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from paperfeed.accounts.signin import SESSION_COOKIE, start_session
from paperfeed.models import utcnow
from paperfeed.web.app import create_app
from tests.recommend.conftest import Demo
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser
SHOT_DIR = os.environ.get("PAPERFEED_SCREENSHOT_DIR")


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def live_demo(demo_sqlite: Demo) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(demo_sqlite.settings), log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _shot(page, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(Path(SHOT_DIR or tmp_path) / name), full_page=False)


def test_cold_start_round_and_ranked_list_in_a_browser(
    browser, live_demo: str, demo_sqlite: Demo, tmp_path: Path,  # noqa: ANN001
) -> None:
    member = demo_sqlite.member("ada")
    cookie = start_session(demo_sqlite.engine, demo_sqlite.settings, member, now=utcnow())
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": live_demo}])
    page = context.new_page()

    # The For-you tab sits beside Day / Week / Month; a new member lands on the cold start.
    page.goto(live_demo + "/papers/week/2026-W34")
    page.get_by_role("link", name="For you", exact=True).click()
    page.wait_for_url("**/for-you/start")
    assert page.get_by_role("heading", name="Start your list").is_visible()
    # The demo's papers come from Hugging Face (no arXiv categories): topics, not an empty grid.
    assert page.get_by_role("heading", name="1. Topics").is_visible()
    assert page.locator('input[name="topic"]').count() >= 10
    page.locator("#categories").scroll_into_view_if_needed()
    _shot(page, tmp_path, "foryou-topics.png")

    # Search as you type: results come from the JSON search API, no submit needed.
    page.fill("#seed-q", "video diffusion")
    page.wait_for_selector("[data-seed-results] li button")
    _shot(page, tmp_path, "foryou-start.png")
    page.locator("[data-seed-results] li button").first.click()
    page.wait_for_url("**/for-you/start#seeds")
    assert page.locator("text=picked").count() >= 1

    # One active-learning round of ten papers.
    page.goto(live_demo + "/for-you/round")
    cards = page.locator(".round-card")
    assert cards.count() == 10
    for i in range(3):
        cards.nth(i).get_by_label("Interested").check()
    for i in range(3, 5):
        cards.nth(i).get_by_label("Not for me").check()
    _shot(page, tmp_path, "foryou-round.png")
    page.get_by_role("button", name="Save and see my list").click()
    page.wait_for_url("**/for-you")

    # The ranked list explains itself with a paper the member acted on.
    items = page.locator(".foryou-list > li")
    assert items.count() >= 5
    assert page.locator(".reason a").first.is_visible()
    reason = page.locator(".reason").first.inner_text()
    assert reason.startswith(("Because you liked", "Because you picked"))
    _shot(page, tmp_path, "foryou-list.png")

    # "Not interested" takes effect on the next load: the paper moves to the end.
    first = items.first.get_attribute("id")
    items.first.get_by_role("button", name="Not interested").click()
    page.wait_for_load_state()
    assert page.locator(".foryou-list > li").last.get_attribute("id") == first
    assert page.locator(f'[id="{first}"] .reason').inner_text().startswith("You marked this")
    context.close()
