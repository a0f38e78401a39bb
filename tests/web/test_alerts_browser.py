"""Saved searches in a real Chromium on a live server: save the search you are looking at,
see a new paper that matches it on the search's page, and ask for papers like one you read."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.alerts.run import match_new_papers
from paperfeed.config import Settings
from paperfeed.models import Author, Paper, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.papers import upsert_papers
from tests.web.test_collections_browser import browser, real_day, signed_in  # noqa: F401

pytestmark = pytest.mark.browser


def test_save_a_search_and_see_new_matches_in_a_browser(
    browser, live_server: str, engine: Engine, settings: Settings, real_day: list[str],  # noqa: F811
    tmp_path: Path,
) -> None:
    context = signed_in(browser, live_server, engine, settings)
    page = context.new_page()
    page.goto(live_server + "/search?q=diffusion+language")
    page.click("form.save-search button")
    page.wait_for_url(re.compile(r".*/alerts/\d+\?saved=1$"))
    assert "Saved." in page.locator(".flash").inner_text()
    assert "No new paper has matched yet" in page.locator(".empty").inner_text()
    search_url = page.url.split("?")[0]

    with write(engine) as conn:  # a paper arrives, as after an ingest
        upsert_papers(conn, [Paper(id="2607.00001", title="Diffusion language models at scale",
                                   abstract="A study.", authors=[Author("Ada Lovelace")],
                                   categories=["cs.CL"], source="t")],
                      now=utcnow() + timedelta(seconds=1))
    assert match_new_papers(engine, settings).matches == 1
    page.goto(search_url)
    assert page.locator(".item-title").all_inner_texts() == ["Diffusion language models at scale"]
    page.goto(live_server + "/alerts")
    assert "diffusion language" in page.locator("table.alerts").inner_text()

    page.goto(f"{live_server}/papers/{real_day[0]}")
    page.click("form.like-alert button")
    page.wait_for_url(re.compile(r".*/alerts/\d+\?saved=1$"))
    assert page.locator("h1").inner_text().startswith("Papers like: ")
    page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
    context.close()
