"""Reading and finding your way in a real Chromium with JavaScript on: math typeset by KaTeX,
keyboard shortcuts, the date picker, search suggestions, the phone layout, no other hosts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.accounts import signin
from paperfeed.sources.hf_daily import import_path
from tests.conftest import FIXTURES
from tests.feed_factories import feature, paper
from tests.members_support import add_member
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser
DAY = date(2026, 8, 20)
# Real arXiv titles with math (from the arXiv cs sample in ../shared/data).
MATH_TITLES = {
    "2506.90001": "GenM$^3$: Generative Pretrained Multi-path Motion Model for Text Conditional "
                  "Human Motion Generation",
    "2506.90002": "$\\mathcal{X}$-KD: General Experiential Knowledge Distillation for Large "
                  "Language Models",
    "2506.90003": "Neural Reasoning for Robust Instance Retrieval in $\\mathcal{SHOIQ}$",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Engine:
    src = tmp_path / "hf"
    src.mkdir()
    shutil.copy(FIXTURES / "hf" / "2026-08-20.json", src / "2026-08-20.json")
    assert import_path(engine, src).rejected == 0
    feature(engine, [
        paper(pid, title=title, upvotes=500 - i,
              abstract="We reach $\\mathcal{O}(n\\log n)$ cost and save \\$1M at 360$^\\circ$.",
              authors=["Ada Lovelace", "Alan Turing"])
        for i, (pid, title) in enumerate(MATH_TITLES.items())
    ], DAY, at=datetime(2026, 8, 20, 5, 0))
    feature(engine, [paper("2507.00001", title="A July paper")], date(2026, 7, 14))
    return engine


def _page(browser, live_server, path, *, width=1280, js=True, hosts=None):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  java_script_enabled=js)
    page = context.new_page()
    if hosts is not None:
        page.on("request", lambda r: hosts.append(r.url))
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle", timeout=90_000)  # CI machines run loaded
    return context, page


def test_math_is_typeset_and_no_raw_dollar_is_left(browser, site, live_server) -> None:
    hosts: list[str] = []
    context, page = _page(browser, live_server, "/papers/date/2026-08-20", hosts=hosts)
    page.wait_for_selector(".paper-title .katex")
    for pid in MATH_TITLES:
        title = page.locator(f'[data-paper="{pid}"] .paper-title')
        assert title.locator(".katex").count() >= 1
        shown = title.inner_text()
        assert "$" not in shown and "\\mathcal" not in shown, shown
    abstract = page.locator('[data-paper="2506.90002"] .abstract').inner_text()
    assert "$1M" in abstract  # an escaped dollar stays a dollar
    assert "\\$" not in abstract and "$\\mathcal" not in abstract
    # search results too (a math title is typeset rather than highlighted)
    page.goto(live_server + "/search?q=SHOIQ")
    page.wait_for_selector(".paper-title .katex")
    assert "$" not in page.locator(".paper-title").first.inner_text()
    # the paper page typesets its title and abstract too
    page.goto(live_server + "/papers/2506.90003")
    page.wait_for_selector("#paper-title .katex")
    assert "$" not in page.locator("#paper-title").inner_text()
    assert page.locator(".abstract-full .katex").count() >= 2
    # everything came from this server: no fonts, scripts or pictures from other hosts
    assert hosts and all(u.startswith(live_server) for u in hosts), {
        u for u in hosts if not u.startswith(live_server)}
    context.close()


def test_math_reads_well_without_javascript(browser, site, live_server) -> None:
    context, page = _page(browser, live_server, "/papers/2506.90002", js=False)
    assert page.locator("#paper-title").inner_text().startswith("𝒳-KD: General")
    context.close()


def test_keyboard_shortcuts_move_open_upvote_search_and_help(browser, site, live_server,
                                                             engine, settings) -> None:
    member = add_member(engine, "keys@example.org")
    cookie = signin.start_session(engine, settings, member, now=datetime.now())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": signin.SESSION_COOKIE, "value": cookie,
                          "url": live_server}])
    page = context.new_page()
    page.goto(live_server + "/papers/date/2026-08-20")
    page.wait_for_load_state("networkidle", timeout=90_000)  # CI machines run loaded
    cards = page.locator(".paper-card")
    page.keyboard.press("j")
    assert "kbd-current" in (cards.nth(0).get_attribute("class") or "")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    second = cards.nth(1)
    assert "kbd-current" in (second.get_attribute("class") or "")
    assert page.evaluate("document.activeElement.closest('.paper-card').dataset.paper") == (
        second.get_attribute("data-paper"))
    before = int(second.locator(".upvote-count").inner_text())
    page.keyboard.press("u")
    page.wait_for_function(
        "([el, n]) => Number(el.textContent) === n",
        arg=[second.locator(".upvote-count").element_handle(), before + 1])
    assert second.locator("form.upvote-form.voted").count() == 1
    page.keyboard.press("?")
    assert page.locator("#kbd-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#kbd-help").is_visible()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search"
    page.keyboard.press("j")  # typing in the box is not a shortcut
    assert page.locator("#site-search").input_value() == "j"
    page.locator("#site-search").fill("")
    page.locator("main").click(position={"x": 5, "y": 5})
    chosen = second.get_attribute("data-paper")
    page.keyboard.press("o")
    page.wait_for_url(f"{live_server}/papers/{chosen}")
    context.close()


def test_date_picker_shows_days_with_papers_and_moves_between_months(
        browser, site, live_server) -> None:
    context, page = _page(browser, live_server, "/papers/date/2026-08-20")
    picker = page.locator("details.date-picker")
    picker.locator("summary").click()
    cal = picker.locator(".calendar")
    assert cal.is_visible()
    assert cal.locator(".cal-month").inner_text() == "August 2026"
    assert cal.locator("a.cal-day[aria-current=date]").inner_text() == "20"
    assert cal.locator("a.cal-day").count() == 1  # only the 20th has papers
    cal.locator("[aria-label='Previous month']").click()
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval
        "() => document.querySelector('details.date-picker .cal-month').textContent"
        " === 'July 2026'")
    assert page.url.endswith("/papers/date/2026-08-20")  # swapped in place, no navigation
    page.locator("details.date-picker a.cal-day").first.click()
    page.wait_for_url(f"{live_server}/papers/date/2026-07-14")
    assert page.locator(".paper-title").inner_text() == "A July paper"
    context.close()
    # without JavaScript the same links are plain navigation
    context, page = _page(browser, live_server, "/papers/date/2026-08-20", js=False)
    page.locator("details.date-picker summary").click()
    page.locator("details.date-picker [aria-label='Previous month']").click()
    page.wait_for_url(f"{live_server}/calendar/2026-07")
    assert page.locator("a.cal-day").inner_text() == "14"
    context.close()


def test_search_suggestions_as_you_type(browser, site, live_server) -> None:
    context, page = _page(browser, live_server, "/")
    box = page.locator("#site-search")
    box.click()
    box.press_sequentially("knowledge distil", delay=20)
    options = page.locator("#site-search-suggestions [role=option]")
    options.first.wait_for()
    texts = options.all_inner_texts()
    assert any("Knowledge Distillation" in t for t in texts), texts
    assert box.get_attribute("aria-expanded") == "true"
    box.fill("")
    box.press_sequentially("lovel", delay=20)
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval
        "() => [...document.querySelectorAll('#site-search-suggestions [role=option]')]"
        ".some(o => o.textContent.includes('Ada Lovelace'))")
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant")
    box.press("Enter")
    page.wait_for_url(f"{live_server}/authors/Ada%20Lovelace")
    assert page.locator("h1").inner_text() == "Ada Lovelace"
    assert page.locator(".paper-card").count() == 4  # three math papers and the July one
    context.close()


@pytest.mark.parametrize("path", ["/papers/date/2026-08-20", "/papers/2608.17253",
                                  "/search?q=reasoning", "/authors/Ada%20Lovelace",
                                  "/organizations/UCSanDiego"])
def test_pages_fit_a_390px_phone(browser, site, live_server, path) -> None:
    context, page = _page(browser, live_server, path, width=390)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a 390px screen"
    if path.startswith("/papers/date"):
        page.screenshot(path="/tmp/list-390.png")
    context.close()
