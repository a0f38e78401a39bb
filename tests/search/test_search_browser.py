"""The search page in a real Chromium: type a query in the header box, get results, refine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.search.conftest import CODE_ID
from tests.web.conftest import live_server  # noqa: F401 - fixture
from tests.web.test_browser_home import launch_chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def page() -> Iterator[object]:
    for browser in launch_chromium():
        context = browser.new_context(java_script_enabled=False)  # the page works without JS
        yield context.new_page()


def test_search_from_header_box_shows_results_and_keeps_query(
    page, live_server: str, catalog: Engine  # noqa: F811
) -> None:
    page.goto(live_server + "/search")
    assert page.locator("h1").inner_text() == "Search papers"
    page.fill("#search-q", "voice cloning")
    page.click(".search-filters button[type=submit]")
    page.wait_for_url("**/search?q=voice+cloning*")
    first = page.locator(".search-results .paper-card").first
    assert first.locator("a").first.get_attribute("href") == f"/papers/{CODE_ID}"
    assert page.locator("#search-q").input_value() == "voice cloning"
    assert page.locator(".search-results mark").count() >= 2
    # refine with a filter from the form (a GET parameter), then a hostile query
    page.check("input[name=code]")
    page.click(".search-filters button[type=submit]")
    page.wait_for_url("**code=1*")
    page.wait_for_load_state()
    assert page.locator(".search-results .paper-card").count() == 1
    page.fill("#site-search", 'NEAR( "unbalanced -')
    page.press("#site-search", "Enter")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Search papers"


def test_limited_results_note_in_a_real_browser(
    page, settings, catalog: Engine, tmp_path  # noqa: ANN001
) -> None:
    """Keywords alone (no model) under a tiny posting cap: the page says the results are
    limited and what to do, and the rare word's paper is still first."""
    from tests.web.conftest import serve

    tight = settings.model_copy(update={"search_posting_cap": 2,
                                        "embedding_model": str(tmp_path / "no-model")})
    with serve(tight) as url:
        page.goto(url + "/search?q=language+models+cloning")
        note = page.locator(".search-note", has_text="Results limited")
        assert note.count() == 1
        assert "add a rarer word or use quotes" in note.inner_text()
        first = page.locator(".search-results .paper-card").first
        assert first.locator("a").first.get_attribute("href") == f"/papers/{CODE_ID}"
        page.screenshot(path=str(tmp_path / "search-limited.png"), full_page=True)
        page.goto(url + "/search?q=cloning")
        assert page.locator(".search-note", has_text="Results limited").count() == 0
