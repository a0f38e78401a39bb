"""What a reader sees, in a real Chromium (headless, no JavaScript): the home page with a real
Hugging Face day, then a paper page reached by clicking its title."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.models import utcnow
from paperfeed.sources.hf_daily import import_path
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch_chromium() -> Iterator[object]:
    """Debian's Chromium through Playwright, closed afterwards; skips the test with the reason
    when either is missing. Every browser test's `browser` fixture yields from this."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


DAY_FILE = FIXTURES / "hf" / "2025-06-16.json"  # a real /api/daily_papers?date=2025-06-16
TITLE = "Aligned Novel View Image and Geometry Synthesis via Cross-modal Attention Instillation"


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def real_day(engine: Engine, tmp_path: Path) -> Engine:
    src = tmp_path / "hf"
    src.mkdir()
    shutil.copy(DAY_FILE, src / DAY_FILE.name)
    summary = import_path(engine, src)
    assert summary.new == 9 and summary.rejected == 0
    return engine


def test_home_page_then_paper_page_in_a_real_browser(browser, real_day, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server + "/")

    assert page.locator("h1").inner_text() == "Daily Papers"
    assert page.locator(".tagline").inner_text() == "by AK and the research community"
    year_suffix = "" if utcnow().year == 2025 else ", 2025"
    assert page.locator("#list-heading").inner_text() == f"Jun 16{year_suffix}"
    assert "Get trending papers in your email inbox!" in page.locator(".subscribe-box").inner_text()
    assert page.get_by_role("button", name="Subscribe").is_visible()
    assert page.get_by_label("Email address").is_visible()

    # Landmarks, and the keyboard path: the first Tab lands on the skip link.
    for landmark in ("banner", "main", "contentinfo", "search"):
        assert page.get_by_role(landmark).count() >= 1, landmark
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    cards = page.locator(".paper-card")
    assert cards.count() == 9
    first = cards.first  # trending: the most upvoted paper of the day
    assert first.locator(".paper-title").inner_text() == TITLE
    assert first.locator(".upvote-count").inner_text() == "20"
    meta = first.locator(".paper-meta").inner_text()
    assert "7 authors" in meta and f"Jun 13{year_suffix}" in meta
    # The abstract is clamped on screen (its full text is longer than what is shown).
    clamped = first.locator(".abstract").evaluate("e => e.scrollHeight > e.clientHeight + 2")
    assert clamped

    first.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"{live_server}/papers/2506.11924")
    assert page.locator("h1").inner_text() == TITLE
    abstract = page.locator(".abstract-full").inner_text()
    assert abstract.startswith("We introduce a diffusion-based framework")
    assert abstract.rstrip().endswith("Project page is available at https://cvlab-kaist.github.io/MoAI.")
    assert page.get_by_role("link", name="arXiv page").get_attribute("href") == (
        "https://arxiv.org/abs/2506.11924")
    assert page.locator(".author-list li").count() == 7
    assert "Min-Seop Kwak" in page.locator(".author-list").inner_text()
    context.close()


def test_home_page_fits_a_phone_screen(browser, real_day, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.locator(".paper-card").count() == 9
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a 375px screen"
    context.close()
