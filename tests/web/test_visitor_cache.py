"""Members and their votes and saves kept per worker and content version (web/sessions.py):
a signed-in page hit reads only the content version, yet a session ended, a ban, a role or
password change shows at once in every worker, and no member ever sees another's state.
Two apps on one database are two web workers; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from paperfeed.web import sessions
from paperfeed.web.app import create_app
from paperfeed.web.csrf import FIELD
from tests.feed_factories import feature, paper
from tests.web.test_pages_cache import DAY, D, browser, button, member, token, vote

P1, P2 = "2506.00001", "2506.00002"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[Settings, Engine]]:
    """Settings and an engine with a day of two papers, on either database."""
    chosen = request.getfixturevalue("pg_settings") if request.param == "postgresql" else settings
    chosen.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(chosen)
    migrate(engine)
    feature(engine, [paper(P1, upvotes=3), paper(P2, upvotes=1)], D)
    try:
        yield chosen, engine
    finally:
        engine.dispose()


def signed_in_as(html: str) -> bool:
    return "Sign in</a>" not in html


@contextmanager
def statements(app: object) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []
    engine = app.state.engine  # type: ignore[attr-defined]

    def record(*args: object) -> None:
        if str(args[2]).split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_members_repeat_page_hit_reads_only_the_content_version(site):
    settings, engine = site
    app = create_app(settings)
    ann = browser(app, member(engine, settings, "ann"))
    vote(ann, P1)
    for url in (DAY, "/"):
        ann.get(url)  # rendered, and the member, votes and saves kept
        with statements(app) as seen:
            html = ann.get(url).text
        assert button(html, P1) == (True, 4) and signed_in_as(html)
        assert len(seen) == 1 and "site_versions" in seen[0], seen


def test_a_signed_out_session_is_refused_at_once_in_every_worker(site):
    settings, engine = site
    one, two = create_app(settings), create_app(settings)
    session = member(engine, settings, "ann")
    ann1, copy2 = browser(one, session), browser(two, session)  # a copy of the cookie
    for c in (ann1, copy2):
        assert signed_in_as(c.get(DAY).text)  # both workers keep the member
    r = ann1.post("/signout", data={FIELD: token(ann1.get(DAY).text)}, follow_redirects=False)
    assert r.status_code == 303
    html = copy2.get(DAY).text
    assert not signed_in_as(html)
    r = copy2.post(f"/papers/{P1}/upvote", data={FIELD: token(html), "vote": "1",
                                                  "next": DAY}, follow_redirects=False)
    assert r.status_code in (401, 403) or "/signin" in r.headers.get("location", "")


def test_bans_role_and_password_changes_show_at_once_in_every_worker(site):
    settings, engine = site
    one, two = create_app(settings), create_app(settings)
    mod_session, ann_session = (member(engine, settings, "mod", role="moderator"),
                                member(engine, settings, "ann"))
    mod2, ann2 = browser(two, mod_session), browser(two, ann_session)
    assert 'href="/admin"' in mod2.get(DAY).text and signed_in_as(ann2.get(DAY).text)
    with write(engine) as conn:
        mod = users.get_by_email(conn, "mod@example.org")
        ann = users.get_by_email(conn, "ann@example.org")
        assert mod is not None and ann is not None
        users.set_role(conn, mod.id, "member")
    html = mod2.get(DAY).text
    assert signed_in_as(html) and 'href="/admin"' not in html
    assert signed_in_as(ann2.get(DAY).text)
    with write(engine) as conn:
        users.set_banned(conn, ann.id, True)
    assert not signed_in_as(ann2.get(DAY).text)
    browser(one, mod_session).get(DAY)
    with write(engine) as conn:
        users.set_password_hash(conn, mod.id, "x")
    with statements(two) as seen:  # the next page hit looks the member up again
        mod2.get(DAY)
    assert any("sessions" in s for s in seen), seen


def test_a_session_past_its_expiry_is_refused_though_kept(site):
    settings, engine = site
    app = create_app(settings)
    ann = browser(app, member(engine, settings, "ann"))
    assert signed_in_as(ann.get(DAY).text)
    app.state.clock = lambda: utcnow() + timedelta(days=400)
    assert not signed_in_as(ann.get(DAY).text)


def test_votes_and_saves_are_each_members_own_in_every_worker(site):
    settings, engine = site
    one, two = create_app(settings), create_app(settings)
    ann_s, ben_s = member(engine, settings, "ann"), member(engine, settings, "ben")
    ann1, ann2, ben2 = browser(one, ann_s), browser(two, ann_s), browser(two, ben_s)
    for c in (ann1, ann2, ben2):
        assert button(c.get(DAY).text, P1) == (False, 3)
    vote(ann1, P2)
    html = ann1.get(DAY).text
    r = ann1.post(f"/papers/{P1}/save", data={FIELD: token(html), "next": DAY},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    ann_page, ben_page = ann2.get(DAY).text, ben2.get(DAY).text
    assert button(ann_page, P2) == (True, 2) and button(ben_page, P2) == (False, 2)
    assert _saved(ann_page, P1) and not _saved(ben_page, P1)
    assert not _saved(ann_page, P2)


def _saved(html: str, pid: str) -> bool:
    """Whether the page shows the paper as saved by the visitor (a "Saved" link to it)."""
    return f'class="save-link saved" href="/papers/{pid}#save"' in html


def test_members_with_many_votes_are_asked_per_page(site, monkeypatch):
    settings, engine = site
    monkeypatch.setattr(sessions, "MARKS_LIMIT", 1)
    app = create_app(settings)
    ann = browser(app, member(engine, settings, "ann"))
    vote(ann, P1)
    vote(ann, P2)
    for _ in range(2):
        html = ann.get(DAY).text
        assert button(html, P1) == (True, 4) and button(html, P2) == (True, 2)


def test_pages_and_the_api_answer_after_the_api_routes_are_skipped_for_pages(client):
    assert client.get("/").status_code == 200
    assert client.get("/api/daily_papers").status_code == 200
    assert client.get("/api/nowhere").headers["content-type"].startswith("application/json")
    assert client.get("/apinowhere").status_code == 404
    doc = client.get("/api/openapi.json").json()
    assert "/api/daily_papers" in doc["paths"] and "/api/papers/search" in doc["paths"]
    with TestClient(client.app) as again:
        assert again.get("/api/daily_papers").status_code == 200


def test_anonymous_hits_are_served_without_the_thread_pool(site, monkeypatch):
    """A list page an anonymous visitor can have without a database read is answered on the
    event loop (cache.shared_page); members, first renders and version reads still run on the
    thread pool, and every visitor gets their own CSRF token either way."""
    from paperfeed.web.pages import cache

    settings, engine = site
    hops: list[object] = []
    real = cache.run_in_threadpool

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(cache, "run_in_threadpool", counted)
    app = create_app(settings)
    anon, ann = browser(app), browser(app, member(engine, settings, "ann"))
    vote(ann, P1)
    for url in (DAY, "/", "/papers/week/2025-W25", "/papers/month/2025-06"):
        hops.clear()
        first = anon.get(url)
        assert first.status_code == 200 and len(hops) == 1  # rendered on the thread pool
        # The last version read is trusted for `poll` seconds (1 s); on a loaded machine two
        # requests can be further apart than that, and the re-read is a hop of its own.
        app.state.page_cache.poll = 3600.0
        again = browser(app).get(url)
        assert len(hops) == 1 and again.status_code == 200  # served on the loop
        assert token(again.text) != token(first.text)
        assert again.text.replace(token(again.text), "") == first.text.replace(
            token(first.text), "")
        assert button(ann.get(url).text, P1) == (True, 4) and len(hops) == 2  # members: pool
    app.state.page_cache.poll = 0.0  # the version must be read again: the thread pool
    hops.clear()
    assert anon.get(DAY).status_code == 200 and len(hops) == 1
