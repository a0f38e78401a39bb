"""Math in search results: highlighted titles and abstract snippets carry the same KaTeX hooks
as cards (`<span class="tex" data-tex=...>`), a snippet never cuts a formula, and a query word
inside a formula marks the whole formula instead of splitting its TeX."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.feed_factories import feature, paper
from tests.web.test_browser_home import launch_chromium

DAY = date(2025, 6, 12)
FILLER = "We describe the setting in plain words and many more plain words here. "
LONG_FORMULA = ("$\\sum_{i=1}^{n} \\alpha_i \\mathcal{L}(x_i, y_i) + \\lambda "
                "\\|\\theta\\|_2^2$")
# The query word sits a little after a formula, so the snippet window (which starts about a
# quarter of its width before the densest match) would begin inside the formula; another
# formula sits where a 320-character window ends.
ABSTRACT_START = (FILLER * 3 + "The objective " + LONG_FORMULA + " is minimised for zebrafish "
                  "tracking, with costs $\\mathcal{O}(n\\log n)$ per frame and "
                  + FILLER * 2 + "Then $\\mathbb{E}_{x \\sim p}[f(x)] \\leq \\epsilon$ holds. "
                  + FILLER * 4)
ABSTRACT_WORD_IN_MATH = FILLER * 2 + "Sorting costs $\\mathcal{O}(n\\log n)$ comparisons. " \
    + FILLER * 4
TITLE = "GenM$^3$: Zebrafish Motion Generation"


@pytest.fixture
def site(engine: Engine) -> Engine:
    feature(engine, [
        paper("2506.00001", title=TITLE, abstract=ABSTRACT_START),
        paper("2506.00002", title="Sorting networks", abstract=ABSTRACT_WORD_IN_MATH),
    ], DAY)
    return engine


def _snippets(page: str) -> list[str]:
    return re.findall(r'<p class="abstract">(.*?)</p>', page, re.S)


def _visible(fragment: str) -> str:
    """The text a reader sees before KaTeX runs: tags and data-tex attributes gone."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def test_snippet_never_cuts_a_formula_and_renders_its_math(client: TestClient, site) -> None:
    page = client.get("/search", params={"q": "zebrafish"}).text
    [snippet] = [s for s in _snippets(page) if "zebrafish" in s.lower()]
    assert "<mark>zebrafish</mark>" in snippet.lower()
    assert 'class="tex"' in snippet
    visible = _visible(snippet)
    assert "$" not in visible and "\\" not in visible, visible
    for tex in re.findall(r'data-tex="([^"]*)"', snippet):
        tex = html.unescape(tex)
        assert tex.count("{") == tex.count("}") and "<mark>" not in tex, tex
        assert tex in ABSTRACT_START


def test_query_word_inside_a_formula_marks_the_whole_formula(client: TestClient, site) -> None:
    page = client.get("/search", params={"q": "log sorting"}).text
    [snippet] = [s for s in _snippets(page) if "Sorting" in s]
    assert "<mark>Sorting</mark>" in snippet
    assert '<mark><span class="tex" data-tex="\\mathcal{O}(n\\log n)">' in snippet
    assert "$" not in _visible(snippet)


def test_highlighted_title_keeps_its_math(client: TestClient, site) -> None:
    page = client.get("/search", params={"q": "zebrafish"}).text
    title = re.search(r'<h3 class="paper-title"[^>]*><a href="/papers/2506.00001">(.*?)</a>',
                      page, re.S)
    assert title
    assert "<mark>Zebrafish</mark>" in title.group(1)
    assert '<span class="tex" data-tex="^3">' in title.group(1)


def test_api_highlights_keep_tex_whole(client: TestClient, site) -> None:
    """The JSON API answers TeX source as huggingface.co does (clients typeset it themselves):
    marks never land inside a formula and a snippet never cuts one."""
    hits = client.get("/api/papers/search", params={"q": "log sorting zebrafish"}).json()
    by_id = {h["paper"]["id"]: h for h in hits}
    summary = by_id["2506.00002"]["highlightedSummary"]
    assert "<mark>$\\mathcal{O}(n\\log n)$</mark>" in summary
    summary = by_id["2506.00001"]["highlightedSummary"]
    assert summary.count("$") % 2 == 0
    for formula in re.findall(r"\$[^$]*\$", summary):
        assert "<mark>" not in formula and formula in ABSTRACT_START
    assert by_id["2506.00001"]["highlightedTitle"] == (
        "GenM$^3$: <mark>Zebrafish</mark> Motion Generation")


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


@pytest.mark.browser
def test_search_snippets_typeset_math_in_chromium(browser, site, live_server, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(live_server + "/search?q=zebrafish+log+sorting")
    page.wait_for_selector(".abstract .katex")
    page.wait_for_selector("mark .katex")  # the formula holding "log", typeset
    texts = page.locator(".abstract").all_inner_texts()
    assert len(texts) == 2 and all("$" not in t and "\\" not in t for t in texts), texts
    assert page.locator(".paper-title mark").count() >= 2
    assert page.locator(".paper-title .katex").count() == 1  # GenM³
    assert page.locator(".tex-failed").count() == 0
    page.screenshot(path=str(tmp_path / "search-math.png"), full_page=True)
