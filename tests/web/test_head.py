"""HEAD answers like GET, without a body, on every GET route of the route table (pages, feeds,
API, static files), through a real uvicorn server as `curl -I` and link checkers see it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from paperfeed import library
from paperfeed.accounts import signin
from paperfeed.accounts.comments import add_comment
from paperfeed.alerts.searches import create_search
from paperfeed.config import Settings
from paperfeed.storage import feed_tokens
from paperfeed.storage.db import write
from paperfeed.web.app import create_app
from paperfeed.web.feeds import private_kinds
from tests.feed_factories import feature, paper
from tests.members_support import add_member, token_for

DAY = date(2025, 6, 12)
NOW = datetime(2025, 6, 13, 9, 0)
PAPER = "2506.01234"
OLD_STYLE = "hep-th/9901001"
# Pages, feeds, API and static files that must answer 200 here.
CORE = ["/", "/papers.atom", f"/papers/{PAPER}", f"/papers/{PAPER}.bib", "/search",
        "/api/daily_papers", f"/api/papers/{PAPER}", "/api/me/collections", "/api/docs",
        "/api/openapi.json", "/static/site.css", "/settings", "/organizations/acme"]
# Headers that may differ between two answers to the same URL.
VOLATILE = {"date", "set-cookie", "content-length", "etag", "last-modified", "x-request-id"}


def _routes(routes: Any, prefix: str = "") -> Any:
    """(full path, route) of every route, through FastAPI's lazily included routers."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + getattr(route, "path_format", getattr(route, "path", "")), route


def _site(settings: Settings, engine: Engine) -> dict[str, str]:
    """A small catalog and an admin with a collection, a comment and a saved search; returns
    the value of every path parameter the route table uses."""
    feature(engine, [paper(PAPER, authors=["Ada Lovelace"], organization={"name": "acme", "fullname": "Acme Labs"}),
                     paper(OLD_STYLE, title="An old-style id")], DAY)
    admin = add_member(engine, "head@example.org", role="admin", username="headcheck")
    collection = library.create_collection(engine, admin, name="Reading", public=True, now=NOW)
    library.save_paper(engine, admin, PAPER, collection_id=collection, now=NOW)
    comment = add_comment(engine, settings, admin, PAPER, "A comment.", ip="127.0.0.1", now=NOW)
    search = create_search(engine, settings, admin, query="diffusion", now=NOW)
    with write(engine) as conn:
        feed_tokens.ensure(conn, user_id=admin.id, kind=next(iter(private_kinds())), now=NOW)
    cookie = signin.start_session(engine, settings, admin, now=datetime.now())
    return {
        "cookie": cookie, "api_token": token_for(engine, admin, now=NOW), "day": DAY.isoformat(), "week": "2025-W24", "month": "2025-06",
        "fmt": "atom", "arxiv_id": PAPER, "paper_id": PAPER, "raw_id": PAPER,
        "archive": OLD_STYLE.split("/")[0], "number": OLD_STYLE.split("/")[1],
        "collection_id": str(collection), "comment_id": str(comment),
        "search_id": str(search), "raw": "Ada Lovelace", "username": "headcheck",
    }


def _get_urls(settings: Settings, values: dict[str, str]) -> list[str]:
    app = create_app(settings)
    urls = ["/static/site.css", "/static/katex/katex.min.js"]
    for path, route in _routes(app.routes):
        methods = getattr(route, "methods", None)
        if not methods or "GET" not in methods:
            continue
        names = re.findall(r"{(\w+)}", path)
        missing = [n for n in names if n not in values]
        assert not missing, f"give {path} a value for {missing} in _site()"
        url = path
        if path.startswith("/organizations/"):
            url = path.replace("{raw}", "acme")
        for name in names:
            url = url.replace("{" + name + "}", values[name], 1)
        urls.append(url)
    return urls


def test_head_answers_like_get_on_every_get_route(settings, engine, live_server) -> None:
    values = _site(settings, engine)
    with httpx.Client(base_url=live_server, cookies={signin.SESSION_COOKIE: values["cookie"]},
                      headers={"Authorization": f"Bearer {values['api_token']}"},
                      follow_redirects=False, timeout=30) as client:
        private = re.search(r"/feeds/private/([0-9]+-[0-9a-f]+)\.atom", client.get("/settings").text)
        assert private, "no private feed URL on /settings"
        values["token"] = private.group(1)
        urls = _get_urls(settings, values)
        ok: set[str] = set()
        for url in urls:
            get = client.get(url)
            head = client.head(url)
            assert head.status_code == get.status_code, (url, get.status_code, head.status_code)
            assert head.content == b"", url
            same = {k: v for k, v in get.headers.items() if k not in VOLATILE}
            assert {k: v for k, v in head.headers.items() if k not in VOLATILE} == same, url
            if "content-length" in get.headers and get.status_code == 200 and \
                    "content-length" in head.headers and not url.startswith("/api/me"):
                assert head.headers["content-length"] == get.headers["content-length"], url
            ok.add(url) if get.status_code == 200 else None
        # The data above lets the walk reach real pages, not just a list of 401s and 404s.
        assert len(ok) > len(urls) * 3 // 4, sorted(set(urls) - ok)
        assert set(CORE) <= ok, sorted(set(CORE) - ok)


def test_head_is_refused_where_get_is(client) -> None:
    """A POST-only route refuses HEAD as it refuses GET (405 naming the allowed method)."""
    get = client.get("/signout")
    head = client.head("/signout")
    assert get.status_code == head.status_code == 405
    assert head.headers.get("allow") == get.headers.get("allow")
    assert head.content == b""
