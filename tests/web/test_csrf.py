from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse

from paperfeed.config import Settings
from paperfeed.web.app import create_app
from paperfeed.web.csrf import COOKIE, csrf_input, verify_csrf


def _app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/_form")
    def form(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<form>{csrf_input(request)}</form>")

    @app.post("/_form", dependencies=[Depends(verify_csrf)])
    def post() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


def _token(html: str) -> str:
    return html.split('value="')[1].split('"')[0]


def test_form_post_with_matching_token_is_accepted(settings: Settings, engine: object) -> None:
    with TestClient(_app(settings)) as c:
        page = c.get("/_form")
        assert COOKIE in page.cookies
        r = c.post("/_form", data={"csrf_token": _token(page.text)})
        assert r.status_code == 200 and r.text == "ok"


def test_form_post_without_or_with_forged_token_is_rejected(
    settings: Settings, engine: object
) -> None:
    with TestClient(_app(settings)) as c:
        c.get("/_form")
        assert c.post("/_form", data={}).status_code == 403
        assert c.post("/_form", data={"csrf_token": "0" * 64}).status_code == 403


def test_token_from_another_browser_is_rejected(settings: Settings, engine: object) -> None:
    app = _app(settings)
    with TestClient(app) as attacker, TestClient(app) as victim:
        stolen = _token(attacker.get("/_form").text)
        victim.get("/_form")
        assert victim.post("/_form", data={"csrf_token": stolen}).status_code == 403
