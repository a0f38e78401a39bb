"""Collections in a real Chromium on a live server with a real Hugging Face day: save from a card
(JavaScript: no reload), save to a new collection with a note from the paper page, make it
public, reorder by drag and drop, share the link with a visitor, and reorder with the buttons
with JavaScript off."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.accounts.signin import SESSION_COOKIE, start_session
from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.sources.hf_daily import import_path
from paperfeed.storage import users
from paperfeed.storage.db import write
from tests.conftest import FIXTURES
from tests.web.test_browser_home import DAY_FILE, launch_chromium

pytestmark = pytest.mark.browser
DAY = "/papers/date/2025-06-16"
# Screenshots go to the test's temporary directory; set PAPERFEED_SCREENSHOT_DIR=docs to
# refresh the ones the docs show.
SHOT_DIR = os.environ.get("PAPERFEED_SCREENSHOT_DIR")


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def real_day(engine: Engine, tmp_path: Path) -> list[str]:
    src = tmp_path / "hf"
    src.mkdir()
    shutil.copy(DAY_FILE, src / DAY_FILE.name)
    assert import_path(engine, src).new == 9
    import json

    return [p["paper"]["id"] for p in json.loads((FIXTURES / "hf" / DAY_FILE.name).read_text())]


def signed_in(browser, live_server: str, engine: Engine, settings: Settings, **kw):  # noqa: ANN001, ANN201
    with write(engine) as conn:
        member = users.create_user(conn, email="ada@example.org", now=utcnow(), username="ada",
                                   display_name="Ada Lovelace")
    cookie = start_session(engine, settings, member, now=utcnow())
    context = browser.new_context(viewport={"width": 1100, "height": 900}, **kw)
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": live_server}])
    return context


def order_on_page(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all(".collection-item", "els => els.map(e => e.dataset.paper)")


def test_save_share_and_reorder_a_collection_in_a_browser(
    browser, live_server: str, engine: Engine, settings: Settings, real_day: list[str],
    tmp_path: Path,
) -> None:
    first, second, third = real_day[:3]
    context = signed_in(browser, live_server, engine, settings)
    page = context.new_page()

    # Save from a card: with JavaScript the button turns into "Saved" without a reload.
    page.goto(live_server + DAY)
    page.evaluate("window.__noReload = true")
    card = page.locator(f"article:has(a[href='/papers/{first}'])")
    card.locator("button.save-button").click()
    card.locator("a.save-link.saved").wait_for()
    assert page.evaluate("window.__noReload") is True
    assert "Reading list" in page.locator(".toast").inner_text()

    # The paper page: a new collection with a note.
    page.goto(f"{live_server}/papers/{second}")
    page.select_option("#save-collection", "new")
    page.fill("#save-new", "Vision <reading>")
    page.fill("#save-note", "Compare with the diffusion baseline")
    page.click("#save-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/papers/{second}#save$"))
    assert "Vision <reading>" in page.locator(".in-collections").inner_text()
    for pid in (third, first):
        page.goto(f"{live_server}/papers/{pid}")
        page.select_option("#save-collection", label="Vision <reading>")
        page.click("#save-form button[type=submit]")
        page.wait_for_url(re.compile(rf".*/papers/{pid}#save$"))
    page.click(".in-collections a:has-text('Vision')")
    cid = re.search(r"/collections/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    assert order_on_page(page) == [second, third, first]
    assert "Compare with the diffusion baseline" in page.locator(".item-note").inner_text()

    # Make it public: the share link appears.
    page.click("summary:has-text('Edit collection')")
    page.check("input[name=public]")
    page.click("form[action$='/edit'] button[type=submit]")
    share = page.locator("#share-url").input_value()
    assert share.endswith(f"/collections/{cid}")

    # Drag the last paper to the top; the order is stored (it survives a reload).
    page.drag_and_drop(f"[id='item-{first}']", f"[id='item-{second}']")
    from playwright.sync_api import expect

    expect(page.locator("#collection-items")).to_have_attribute("data-saved", "1")
    assert order_on_page(page) == [first, second, third]
    page.reload()
    assert order_on_page(page) == [first, second, third]
    shots = Path(SHOT_DIR) if SHOT_DIR else tmp_path
    page.screenshot(path=str(shots / "screenshot-collection.png"), full_page=True)

    # A visitor opens the shared link: same list, no owner controls; the paper page lists it.
    visitor = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    visitor.goto(live_server + f"/collections/{cid}")
    assert visitor.locator("h1").inner_text() == "Vision <reading>"
    assert order_on_page(visitor) == [first, second, third]
    assert visitor.locator(".item-actions").count() == 0
    assert "Ada Lovelace" in visitor.locator(".collection-owner").inner_text()
    visitor.goto(f"{live_server}/papers/{third}")
    assert "Vision <reading>" in visitor.locator(".public-collections").inner_text()
    visitor.context.close()

    # Without JavaScript: the buttons move a paper and the page comes back in the new order.
    nojs = context.browser.new_context(java_script_enabled=False)
    nojs.add_cookies(context.cookies())
    plain = nojs.new_page()
    plain.goto(f"{live_server}/collections/{cid}")
    plain.locator(f"[id='item-{third}'] button[value=up]").click()
    plain.wait_for_load_state()
    assert order_on_page(plain) == [first, third, second]
    plain.locator(f"[id='item-{first}']").get_by_role("button", name="Mark as read").click()
    plain.wait_for_load_state()
    assert order_on_page(plain) == [third, second]
    assert "1 read paper hidden" in plain.locator(".read-toggle").inner_text()
    nojs.close()
    context.close()
