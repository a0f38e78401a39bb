"""A newcomer's click-through in a real Chromium, signed out and signed in: every same-origin
link of the home page and a paper page answers without an error, pages load without console
errors (the favicon included), and no page is wider than a phone's screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from sqlalchemy import Engine

from paperfeed import library
from paperfeed.accounts import signin
from paperfeed.config import Settings
from paperfeed.models import utcnow
from tests.feed_factories import feature, paper
from tests.members_support import add_member
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser
PAPER = "2506.01234"
MEMBER_PAGES = ["/", f"/papers/{PAPER}", "/settings", "/collections", "/alerts", "/submit",
                "/for-you", "/for-you/start", "/search?q=attention", "/organizations",
                "/users/ada", "/admin", "/signin"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def site(settings: Settings, engine: Engine) -> str:
    """Today's list with three papers and an admin with a public collection; returns the
    admin's session cookie."""
    today = utcnow().date()
    feature(engine, [
        paper(PAPER, title="Linear attention at $\\mathcal{O}(n)$ cost", upvotes=12,
              authors=["Ada Lovelace", "Alan Turing"], published=utcnow() - timedelta(days=1),
              organization={"name": "acme", "fullname": "Acme Labs"}),
        paper("2506.01235", title="A second paper", published=utcnow() - timedelta(days=1)),
        paper("2506.01236", title="An older paper", published=datetime(2025, 6, 1)),
    ], today)
    feature(engine, [paper("2506.01237", title="Yesterday's paper")], today - timedelta(days=1))
    admin = add_member(engine, "ada@example.org", role="admin", username="ada")
    shelf = library.create_collection(engine, admin, name="Reading", public=True, now=utcnow())
    library.save_paper(engine, admin, PAPER, collection_id=shelf, now=utcnow())
    return signin.start_session(engine, settings, admin, now=datetime.now())


def _context(browser, live_server: str, cookie: str | None, width: int):
    context = browser.new_context(viewport={"width": width, "height": 800})
    if cookie:
        context.add_cookies([{"name": signin.SESSION_COOKIE, "value": cookie,
                              "url": live_server}])
    return context


def _watch(page, problems: list[str]) -> None:
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_every_link_of_the_home_and_paper_pages_answers(
    browser, site: str, live_server: str, signed_in: bool
) -> None:
    context = _context(browser, live_server, site if signed_in else None, 1280)
    page = context.new_page()
    problems: list[str] = []
    _watch(page, problems)
    links: dict[str, str] = {}
    for start in ("/", f"/papers/{PAPER}"):
        page.goto(live_server + start, wait_until="networkidle", timeout=90_000)
        for href in page.eval_on_selector_all("a[href], link[href]",
                                              "els => els.map(e => e.getAttribute('href'))"):
            url = urlparse(urljoin(live_server + start, href))
            if url.netloc == urlparse(live_server).netloc and not href.startswith("#"):
                links.setdefault(url.path + (f"?{url.query}" if url.query else ""), start)
    assert len(links) > 20, links
    request = context.request
    for link, found_on in sorted(links.items()):
        answer = request.get(live_server + link, max_redirects=5)
        assert answer.status < 400, f"{link} (linked from {found_on}) answered {answer.status}"
    context.close()
    assert not problems, problems


@pytest.mark.parametrize("width", [390])
def test_member_pages_fit_the_screen_without_errors(
    browser, site: str, live_server: str, width: int, tmp_path: Path
) -> None:
    context = _context(browser, live_server, site, width)
    page = context.new_page()
    problems: list[str] = []
    _watch(page, problems)
    for path in MEMBER_PAGES:
        page.goto(live_server + path, wait_until="networkidle", timeout=90_000)
        wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .map(el => el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className)
            .slice(0, 5)""")
        assert not wide, f"{path} is wider than {width}px: {wide}"
    page.goto(live_server + "/", wait_until="networkidle", timeout=90_000)
    page.screenshot(path=str(tmp_path / f"home-{width}.png"))
    context.close()
    assert not problems, problems


def test_favicon_is_served(client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text

