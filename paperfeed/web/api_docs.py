"""Interactive API docs at /api/docs served from local files (no CDN: self-hosted sites may be
offline or behind a strict Content-Security-Policy).

Swagger UI comes from the `fastapi-offline` package, which ships Swagger UI 5 (it reads the
OpenAPI 3.1 document FastAPI writes; the Swagger UI 4 of `swagger-ui-bundle` answered "Unable
to render this definition" and listed no operation). It is started by `static/api-docs.js`
rather than an inline script, so the page passes the site's `script-src 'self'` policy
(web/headers.py).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import escape

ASSETS = "/api/docs-assets"
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""
# Swagger UI sets some styles through attributes; scripts stay 'self' only.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def install_api_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="api-docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        html = PAGE.format(title=escape(f"{app.title} API"), assets=ASSETS,
                           openapi=escape(app.openapi_url or "/api/openapi.json"))
        return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})
