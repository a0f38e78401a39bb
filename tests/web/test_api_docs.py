from __future__ import annotations

import re

from fastapi.testclient import TestClient


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
