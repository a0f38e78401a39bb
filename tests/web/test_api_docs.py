from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.test_browser_home import launch_chromium


@pytest.fixture
def browser() -> Iterator[object]:
    yield from launch_chromium()


def test_api_docs_load_swagger_from_this_server_not_a_cdn(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    spec = client.get("/api/openapi.json").json()
    assert "/api/daily_papers" in spec["paths"]


@pytest.mark.browser
def test_api_docs_render_the_operations_in_chromium_offline(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    """Swagger UI loads from this server only (every other host is refused, as offline), under
    the page's Content-Security-Policy, reads the OpenAPI 3.1 document and lists operations."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []

    def offline(route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live_server + "/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/daily_papers" in p for p in paths), paths
    assert page.locator(".errors-wrapper").count() == 0
    page.screenshot(path=str(tmp_path / "api-docs.png"))
    assert not elsewhere and not problems, (elsewhere, problems)
