"""Served below a prefix (`uvicorn --root-path /pf`, a proxy's path prefix): pages and the JSON
API both answer, and API errors stay JSON. The page routes skip the API's routes by the path
below the root path (web/app.py `route_path`, our own: Starlette's is private), so a Starlette
upgrade that moved the root path in or out of `scope["path"]` would show here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.web.app import create_app, route_path


@pytest.fixture(params=["", "/pf"])
def prefixed(request: pytest.FixtureRequest, settings: Settings, engine: object
             ) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(settings), root_path=request.param) as client:
        yield client, request.param


def test_pages_and_api_answer_below_a_root_path(prefixed: tuple[TestClient, str]) -> None:
    client, root = prefixed
    home = client.get(root + "/")
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    health = client.get(root + "/api/health")
    assert health.status_code == 200 and health.json()["status"]
    assert client.get(root + "/api/daily_papers").json() == []
    assert client.get(root + "/search", params={"q": "x"}).status_code == 200


def test_api_errors_stay_json_and_page_errors_html_below_a_root_path(
    prefixed: tuple[TestClient, str]
) -> None:
    client, root = prefixed
    api = client.get(root + "/api/nope")
    assert api.status_code == 404 and api.json()["error"] == "Not found"
    page = client.get(root + "/apix")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("path", "root", "below"), [
    ("/api/health", "", "/api/health"),
    ("/pf/api/health", "/pf", "/api/health"),
    ("/pf", "/pf", ""),
    ("/pfx/api", "/pf", "/pfx/api"),  # not below the root: a sibling path
    ("/api/health", "/pf", "/api/health"),  # root path not inside path (older Starlette)
])
def test_route_path_is_the_path_below_the_root_path(path: str, root: str, below: str) -> None:
    assert route_path({"path": path, "root_path": root}) == below
