"""HTTP-level hardening: body size caps before parsing, security headers, the API's Link header
from the configured base URL, forwarded headers trusted only from configured proxies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from paperfeed.config import Settings
from paperfeed.storage.schema import rate_limits
from paperfeed.web.app import create_app
from tests.members_support import add_paper, csrf


def _rate_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(rate_limits.c.key)).scalars())


def test_oversized_json_body_is_refused_before_it_is_read(client: TestClient, engine: Engine) -> None:
    body = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'@example.org"}'
    r = client.post("/api/subscriptions", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"].startswith("request body too large")
    assert _rate_keys(engine) == []  # the route never ran


def test_oversized_chunked_body_is_cut_off_while_streaming(client: TestClient, engine: Engine) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "'
        for _ in range(64):
            yield b"a" * 65536
        yield b'"}'

    r = client.post("/api/subscriptions", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert _rate_keys(engine) == []


def test_oversized_form_is_refused_with_an_html_page(client: TestClient) -> None:
    token = csrf(client)
    r = client.post("/signin", data={"csrf_token": token, "email": "a" * 300_000})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")


def test_oversized_form_gets_the_sites_error_page_and_api_json_names_the_request(
    client: TestClient,
) -> None:
    """The 413 is answered before any route runs; it was a bare page without the site's
    header, and its JSON had no request id, unlike every other error."""
    r = client.post("/signin", data={"csrf_token": csrf(client), "email": "a" * 300_000})
    assert r.status_code == 413
    assert 'class="error-page"' in r.text and "<nav" in r.text  # the site's own page
    assert "Request too large" in r.text
    assert "Request body too large: at most 8 KiB here" in r.text
    api = client.post("/api/subscriptions", content=b"x" * 20_000,
                      headers={"content-type": "application/json"})
    assert api.status_code == 413
    assert api.json()["request_id"] == api.headers["x-request-id"]


def test_normal_bodies_still_pass(client: TestClient) -> None:
    r = client.post("/api/subscriptions", json={"email": "reader@example.org"})
    assert r.status_code == 202


def test_nul_in_the_path_is_a_400_and_dropped_from_the_query(client: TestClient) -> None:
    assert client.get("/papers/2506.0%001").status_code == 400
    assert client.get("/search", params={"q": "a\x00b"}).status_code == 200
    assert client.get("/api/daily_papers?submitter=%00").status_code == 200


@pytest.mark.parametrize("path", ["/", "/signin", "/api/daily_papers", "/api/docs", "/static/site.css"])
def test_every_answer_carries_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp or "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[-1].split(";")[0]


def test_html_pages_have_no_inline_scripts(client: TestClient) -> None:
    for path in ("/", "/signin", "/subscribe", "/api/docs"):
        html = client.get(path).text
        for chunk in html.split("<script")[1:]:
            assert chunk.split(">", 1)[0].strip().startswith("src="), (path, chunk[:80])


def test_papers_link_header_uses_the_configured_base_url(
    tmp_path, engine: Engine, settings: Settings
) -> None:
    for i in range(3):
        add_paper(engine, f"2506.0000{i}", published_at=datetime(2025, 6, 1 + i))
    site = settings.model_copy(update={"base_url": "https://papers.example.org/"})
    with TestClient(create_app(site)) as c:
        r = c.get("/api/papers?limit=1", headers={"host": "evil.example"})
    link = r.headers["link"]
    assert link.startswith("<https://papers.example.org/api/papers?"), link
    assert "evil.example" not in link


def _trusting(settings: Settings, *proxies: str) -> Settings:
    return settings.model_copy(update={"trusted_proxies": list(proxies)})


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    settings: Settings, engine: Engine
) -> None:
    # TestClient's peer is "testclient", not a trusted proxy: the header must not count.
    with TestClient(create_app(settings)) as c:
        for i in range(3):
            c.post("/api/subscriptions", json={"email": f"r{i}@example.org"},
                   headers={"x-forwarded-for": f"10.0.0.{i}"})
    keys = [k for k in _rate_keys(engine) if k.startswith("subscribe:ip:")]
    assert keys == ["subscribe:ip:testclient"]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    settings: Settings, engine: Engine
) -> None:
    app = create_app(_trusting(settings, "127.0.0.1", "10.1.0.0/16"))
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        # client, then a spoofed hop the client added, then our second proxy
        c.post("/api/subscriptions", json={"email": "a@example.org"},
               headers={"x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.1.2.3"})
        c.post("/api/subscriptions", json={"email": "b@example.org"},
               headers={"x-forwarded-for": "x" * 3000})
    keys = sorted(k for k in _rate_keys(engine) if k.startswith("subscribe:ip:"))
    assert "subscribe:ip:203.0.113.7" in keys
    assert all(len(k) <= 255 for k in _rate_keys(engine))
    assert not any("xxx" in k for k in keys)


def test_rate_limit_keys_are_bounded(engine: Engine) -> None:
    from paperfeed.storage import ratelimit

    ratelimit.hit(engine, "signin:ip:" + "9" * 3000, limit=5, window_seconds=60,
                  now=datetime(2025, 1, 1), what="x")
    (key,) = _rate_keys(engine)
    assert len(key) <= 255 and key.startswith("signin:ip:")
