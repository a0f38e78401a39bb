"""Every route, every path and query parameter (and form field), with extreme values: never a 5xx.

The walk signs in as an admin (so member and moderator routes run past their guards) and
sends a valid CSRF token with every form, so the values reach the code behind the checks.
It runs on SQLite and, with fewer examples, on PostgreSQL (whose 32-bit integers and NUL-free
text are stricter than SQLite's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from paperfeed.accounts import profile, signin
from paperfeed.accounts.comments import add_comment
from paperfeed.config import Settings
from paperfeed.models import Featured
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import add_featured
from paperfeed.web.app import create_app
from tests.conftest import FIXTURES
from tests.members_support import CSRF_RE, add_member, add_paper, replay_server

PAPER = "2506.01234"
EXTREMES = [
    "0", "-1", "1", str(2**31 - 1), str(2**31), str(2**63 - 1), str(2**63), str(2**64),
    str(-(2**63) - 1), "1" * 400, "1e999", "NaN", "inf",
    "9999-12-31", "9999-W52", "9999-W53", "9999-12", "0000-01-01", "0001-01-01", "0001-W01",
    "0001-01", "2024-W53", "2025-13-45", "", " ", "\x00", "a\x00b", "%00", "../../etc/passwd",
    "<script>alert(1)</script>", "'; DROP TABLE users; --", "\u202e\ufeff", "😀" * 50,
    "x" * 5000, PAPER, "hep-th/9901001", "2506.01234v99999999999999999999",
    "trending", "publishedAt", "daily", "weekly", "true", "false",
]
values = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=40),
)


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    form_params: tuple[str, ...]
    has_body_model: bool


def _params(dependant: Any, kind: str) -> list[Any]:
    """`kind` parameters of a route and of every dependency it has (nested)."""
    out, stack = [], [dependant]
    while stack:
        current = stack.pop()
        out.extend(getattr(current, kind))
        stack.extend(current.dependencies)
    return out


def _routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through included routers (FastAPI >= 0.116
    wraps them in a lazy `_IncludedRouter`)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path_format, route


# Routes that end the walker's own session (they are tested elsewhere).
SKIP = {"/signout", "/settings/signout-everywhere", "/settings/delete"}


def targets(app: Any) -> list[Target]:
    out = []
    for full_path, route in _routes(app.routes):
        if full_path in SKIP:
            continue
        d = route.dependant
        body_params = _params(d, "body_params")
        body = [p.alias for p in body_params]
        is_form = any(getattr(p.field_info, "media_type", "") ==
                      "application/x-www-form-urlencoded" for p in body_params)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            out.append(Target(
                method, full_path,
                tuple(dict.fromkeys(p.alias for p in _params(d, "path_params"))),
                tuple(dict.fromkeys(p.alias for p in _params(d, "query_params"))),
                tuple(body) if is_form else (),
                bool(body) and not is_form,
            ))
    return out


class Walker:
    def __init__(self, app: Any, cookie: str, token: str) -> None:
        # Signed in both ways: the session for pages, a personal access token for the API.
        self.client = TestClient(app, raise_server_exceptions=False,
                                 headers={"Authorization": f"Bearer {token}"})
        self.client.__enter__()
        self.client.cookies.set(signin.SESSION_COOKIE, cookie)
        page = self.client.get("/settings")
        m = CSRF_RE.search(page.text)
        assert m, page.text[:300]
        self.csrf = m.group(1)
        self.targets = targets(app)

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def send(self, target: Target, data: st.DataObject) -> None:
        path = target.path
        for name in target.path_params:
            value = data.draw(values, label=name) or "x"
            path = path.replace("{" + name + "}", quote(value, safe=""))
        query = {n: data.draw(values, label=n) for n in target.query_params
                 if data.draw(st.booleans(), label=f"send {n}")}
        kwargs: dict[str, Any] = {"params": query, "follow_redirects": False}
        if target.form_params:
            form = {n: data.draw(values, label=n) for n in target.form_params
                    if n != "csrf_token" and data.draw(st.booleans(), label=f"send {n}")}
            form["csrf_token"] = self.csrf
            kwargs["data"] = form
        elif target.has_body_model:
            kwargs["json"] = data.draw(st.dictionaries(st.sampled_from(
                ["id", "email", "frequency", "content", "confirm"]), values, max_size=3))
        elif target.method == "POST":
            kwargs["data"] = {"csrf_token": self.csrf}
        r = self.client.request(target.method, path, **kwargs)
        assert r.status_code < 500, (target.method, path, kwargs, r.status_code, r.text[:300])


def _seed(engine: Engine, settings_: Settings) -> tuple[str, str]:
    now = datetime.utcnow()
    add_paper(engine, PAPER, published_at=now - timedelta(days=1), title="Walk paper")
    with write(engine) as conn:
        add_featured(conn, [Featured(PAPER, now.date(), source="hf")], now=now)
    admin = add_member(engine, "walker@example.org", role="admin", username="walker")
    add_comment(engine, settings_, admin, PAPER, "a comment", ip="127.0.0.1", now=now)
    token = profile.create_api_token(engine, admin, name="walk", now=now)
    return signin.start_session(engine, settings_, admin, now=now), token


@pytest.fixture(scope="module")
def arxiv_url() -> Iterator[str]:
    """A loopback stand-in for arXiv answering "no such paper" (a recorded empty answer), so
    submissions of ids not in the catalog never leave the machine."""
    server, url = replay_server(FIXTURES / "arxiv" / "query_empty.xml")
    yield url
    server.shutdown()


def _offline(settings_: Settings, arxiv_url: str) -> Settings:
    return settings_.model_copy(update={"arxiv_api_url": arxiv_url, "http_retries": 0,
                                        "hf_api_url": "http://127.0.0.1:9"})


@pytest.fixture
def walker(settings: Settings, engine: Engine, arxiv_url: str) -> Iterator[Walker]:
    site = _offline(settings, arxiv_url)
    w = Walker(create_app(site), *_seed(engine, site))
    yield w
    w.close()


@pytest.fixture
def pg_walker(pg_settings: Settings, arxiv_url: str) -> Iterator[Walker]:
    site = _offline(pg_settings, arxiv_url)
    eng = connect(site)
    migrate(eng)
    w = Walker(create_app(site), *_seed(eng, site))
    yield w
    w.close()
    eng.dispose()


HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def test_walk_covers_the_routes_that_were_found_broken(walker: Walker) -> None:
    paths = {t.path for t in walker.targets}
    for path in ("/comments/{comment_id}/edit", "/settings/tokens/{token_id}/revoke",
                 "/featured/{featured_id}/remove", "/digest/preview", "/api/subscriptions"):
        assert path in paths


@pytest.mark.parametrize("path", [
    "/comments/{}/edit", "/comments/{}/delete", "/comments/{}/hide",
    "/settings/tokens/{}/revoke", "/featured/{}/remove",
])
@pytest.mark.parametrize("value", [2**31, 2**63, 2**64, -(2**63) - 1])
def test_huge_ids_in_paths_answer_4xx(walker: Walker, path: str, value: int) -> None:
    r = walker.client.post(path.format(value), data={"csrf_token": walker.csrf},
                           follow_redirects=False)
    assert 400 <= r.status_code < 500, (path, value, r.status_code, r.text[:200])


@pytest.mark.parametrize("edition", ["9999-W52", "9999-12-31", "9999-W53", "0001-01-01"])
def test_digest_preview_of_far_editions_answers_4xx(walker: Walker, edition: str) -> None:
    r = walker.client.get("/digest/preview", params={"edition": edition})
    assert r.status_code < 500, r.text[:200]


@settings(max_examples=250, deadline=None, suppress_health_check=HEALTH, derandomize=True)
@given(data=st.data())
def test_every_route_with_extreme_parameters_never_answers_5xx(
    walker: Walker, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(walker.targets), label="route")
    walker.send(target, data)


@pytest.mark.postgres
@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH, derandomize=True)
@given(data=st.data())
def test_every_route_with_extreme_parameters_never_answers_5xx_on_postgres(
    pg_walker: Walker, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(pg_walker.targets), label="route")
    pg_walker.send(target, data)


@pytest.mark.postgres
def test_nul_bytes_in_text_answer_4xx_on_postgres(pg_walker: Walker) -> None:
    for path in ("/search", "/papers/date/2025-06-16", "/api/daily_papers", "/signin"):
        r = pg_walker.client.get(path, params={"q": "a\x00b", "submitter": "a\x00b",
                                               "next": "/\x00"})
        assert r.status_code < 500, (path, r.text[:200])
    r = pg_walker.client.post(f"/papers/{PAPER}/comments",
                              data={"csrf_token": pg_walker.csrf, "body": "nul \x00 here"},
                              follow_redirects=False)
    assert r.status_code < 500, r.text[:200]
