"""The shared page cache (web/pages/cache.py): one render per page and content version, every
visitor's own upvote state, account links and CSRF token filled in; never one member's state
in another's page; writes show at once for members (in every worker) and after the version
poll for anonymous visitors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from paperfeed.accounts.signin import SESSION_COOKIE, start_session
from paperfeed.config import Settings
from paperfeed.models import Member, utcnow
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.schema import papers
from paperfeed.web.app import create_app
from paperfeed.web.csrf import COOKIE, FIELD, _sign
from tests.feed_factories import feature, paper

D = date(2025, 6, 16)
DAY = "/papers/date/2025-06-16"
NOW = datetime(2025, 6, 16, 12, 0)


def token(html: str) -> str:
    m = re.search(rf'name="{FIELD}" value="([0-9a-f]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def button(html: str, pid: str) -> tuple[bool, int]:
    """(voted, count) of a paper's upvote button on a page."""
    m = re.search(
        rf'class="upvote-form( voted)?" id="upvote-{re.escape(pid)}">.*?'
        r'aria-pressed="(true|false)".*?<span class="upvote-count">(\d+)</span>', html, re.S)
    assert m, f"no upvote button for {pid}"
    assert bool(m.group(1)) == (m.group(2) == "true")
    return bool(m.group(1)), int(m.group(3))


def member(engine: Engine, settings: Settings, name: str, role: str = "member") -> str:
    """A member with a live session; returns the session cookie value."""
    with write(engine) as conn:
        m: Member = users.create_user(conn, email=f"{name}@example.org", now=NOW,
                                      username=name, role=role)
    return start_session(engine, settings, m, now=utcnow())


def browser(app: object, session: str | None = None) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    if session:
        c.cookies.set(SESSION_COOKIE, session)
    return c


def vote(c: TestClient, pid: str, page: str = DAY) -> None:
    html = c.get(page).text
    r = c.post(f"/papers/{pid}/upvote", data={FIELD: token(html), "vote": "1", "next": page},
               follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def slow_poll(client: TestClient) -> Iterator[None]:
    """Anonymous requests trust the version they read last for an hour (as if they came within
    the poll interval): what they see then comes from the cache."""
    cache = page_cache_of(client)
    cache.poll = 3600.0
    yield


def page_cache_of(c: TestClient):  # type: ignore[no-untyped-def]
    c.get("/")  # creates the app's cache
    return c.app.state.page_cache  # type: ignore[attr-defined]


def test_cached_list_keeps_each_visitors_csrf_token_valid(client, engine, settings, slow_poll):
    feature(engine, [paper("2506.00001", title="First title")], D)
    first = client.get(DAY)
    feature(engine, [paper("2506.00002", title="Added later")], D)
    with TestClient(client.app) as other:
        second = other.get(DAY)
    # Within the poll interval the second anonymous visitor sees the cached list ...
    assert "Added later" not in second.text and "First title" in second.text
    # ... with a token made for its own cookie, not the first visitor's, in every form.
    assert token(first.text) != token(second.text)
    assert set(re.findall(rf'name="{FIELD}" value="([^"]+)"', second.text)) == {
        _sign(settings.secret(), second.cookies[COOKIE], "")}


def test_writes_show_at_once_for_members_and_after_the_poll_for_anonymous(
    client, engine, settings, slow_poll
):
    feature(engine, [paper("2506.00001", title="First title")], D)
    client.get(DAY)
    feature(engine, [paper("2506.00002", title="Added later")], D)
    assert "Added later" not in client.get(DAY).text  # anonymous, within the poll
    signed_in = browser(client.app, member(engine, settings, "bob"))
    assert "Added later" in signed_in.get(DAY).text  # members read the version each time
    page_cache_of(client).poll = 0.0
    assert "Added later" in client.get(DAY).text


def test_requests_with_unknown_cookies_bypass_the_cache(client, engine):
    feature(engine, [paper("2506.00001", upvotes=3)], D)
    client.get(DAY)
    with write(engine) as conn:  # a write that does not raise the content version
        conn.execute(update(papers).values(upstream_upvotes=9))
    assert button(client.get(DAY).text, "2506.00001") == (False, 3)
    client.cookies.set("theme", "dark")
    assert button(client.get(DAY).text, "2506.00001") == (False, 9)


def test_cache_can_be_disabled(settings, engine):
    settings.page_cache_seconds = 0
    with TestClient(create_app(settings)) as c:
        feature(engine, [paper("2506.00001", title="First title")], D)
        c.get("/")
        with write(engine) as conn:
            conn.execute(update(papers).values(title="Changed quietly"))
        assert "Changed quietly" in c.get("/").text


def test_signed_in_pages_never_show_another_members_state(client, engine, settings):
    feature(engine, [paper("2506.00001", upvotes=3), paper("2506.00002", upvotes=1)], D)
    ann = browser(client.app, member(engine, settings, "ann"))
    ben = browser(client.app, member(engine, settings, "ben", role="moderator"))
    vote(ann, "2506.00001")
    for _ in range(2):  # the second round is served from the shared record
        for who, c in (("ann", ann), ("ben", ben), (None, client)):
            for url in (DAY, "/", "/papers/2506.00002", "/search?q=title"):
                html = c.get(url).text
                names = re.findall(r'class="me">([^<]+)<', html)
                assert names == ([who] if who else []), (url, who, names)
                assert ("Sign in</a>" in html) == (who is None)
                assert ('href="/admin"' in html) == (who == "ben")
                if url == DAY:
                    assert button(html, "2506.00001") == (who == "ann", 4)
                    assert button(html, "2506.00002") == (False, 1)
                assert html.count('class="upvote-form voted"') == (
                    1 if who == "ann" and url in (DAY, "/") else 0)
                assert "\ue000" not in html and "\ue001" not in html


def two_workers(settings: Settings) -> tuple[object, object]:
    """Two apps on one database, each with its own caches: two web workers."""
    return create_app(settings), create_app(settings)


def _vote_shows_in_every_worker(settings: Settings, engine: Engine) -> None:
    feature(engine, [paper("2506.00001", upvotes=3), paper("2506.00002", upvotes=2)], D)
    one, two = two_workers(settings)
    ann_session, ben_session = member(engine, settings, "ann"), member(engine, settings, "ben")
    ann1, ann2 = browser(one, ann_session), browser(two, ann_session)
    ben2, anon2 = browser(two, ben_session), browser(two)
    page_cache_of(anon2).poll = 0.0
    for c in (ann1, ann2, ben2, anon2):  # every worker has the page cached
        assert button(c.get(DAY).text, "2506.00001") == (False, 3)
    vote(ann1, "2506.00001")
    assert button(ann2.get(DAY).text, "2506.00001") == (True, 4)  # the voter, other worker
    assert button(ben2.get(DAY).text, "2506.00001") == (False, 4)
    assert button(anon2.get(DAY).text, "2506.00001") == (False, 4)
    assert button(ann2.get("/papers/2506.00001").text, "2506.00001") == (True, 4)


def test_a_vote_shows_at_once_for_its_voter_and_others_in_every_worker(settings, engine):
    _vote_shows_in_every_worker(settings, engine)


@pytest.mark.postgres
def test_a_vote_shows_in_every_worker_on_postgresql(pg_settings):
    engine = connect(pg_settings)
    migrate(engine)
    try:
        _vote_shows_in_every_worker(pg_settings, engine)
    finally:
        engine.dispose()


def test_pages_that_ask_who_is_visiting_are_not_shared_with_members(client, engine, settings):
    feature(engine, [paper("2506.00001", title="Hidden gem")], D)
    with write(engine) as conn:
        conn.execute(update(papers).values(hidden=True))
    mod = browser(client.app, member(engine, settings, "mod", role="moderator"))
    ann = browser(client.app, member(engine, settings, "ann"))
    for _ in range(2):
        assert mod.get("/papers/2506.00001").status_code == 200
        assert client.get("/papers/2506.00001").status_code == 404
        assert ann.get("/papers/2506.00001").status_code == 404


def test_paper_page_comment_forms_carry_each_members_own_token(client, engine, settings):
    feature(engine, [paper("2506.00001")], D)
    ann = browser(client.app, member(engine, settings, "ann"))
    ben = browser(client.app, member(engine, settings, "ben"))
    for i, c in enumerate((ann, ben, ann)):  # other words each time: the same twice is one
        html = c.get("/papers/2506.00001").text
        r = c.post("/papers/2506.00001/comments",
                   data={FIELD: token(html), "body": f"Nice {i}", "next": "/papers/2506.00001"},
                   follow_redirects=False)
        assert r.status_code == 303
    html = ben.get("/papers/2506.00001").text
    assert html.count("Nice") == 3


def test_members_and_visitors_share_one_render_per_version(client, engine, settings, monkeypatch):
    from paperfeed.storage import feeds

    calls: list[object] = []
    real = feeds.page_featured
    monkeypatch.setattr(feeds, "page_featured", lambda *a, **k: calls.append(1) or real(*a, **k))
    feature(engine, [paper("2506.00001", upvotes=3)], D)
    ann = browser(client.app, member(engine, settings, "ann"))
    ben = browser(client.app, member(engine, settings, "ben"))
    for c in (ann, ben, client, ann, ben, client):
        assert c.get(DAY).status_code == 200
    assert len(calls) == 1
    vote(ann, "2506.00001")  # a new version: rendered once more, then shared again
    for c in (ann, ben, ann):
        c.get(DAY)
    assert len(calls) == 2


def test_members_share_one_render_of_a_paper_page_with_their_own_parts(
    client, engine, settings, monkeypatch
):
    """A paper page is rendered once per version for members too; what is a member's own (the
    comment form and their comments' buttons, their collections, the moderation panel) is
    filled in per request (issue 11: signed-in paper pages rendered per member)."""
    from paperfeed.web.pages import paper as paper_page

    calls: list[object] = []
    real = paper_page.similar_items
    monkeypatch.setattr(paper_page, "similar_items",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    feature(engine, [paper("2506.00001")], D)
    ann = browser(client.app, member(engine, settings, "ann"))
    ben = browser(client.app, member(engine, settings, "ben", role="moderator"))
    url = "/papers/2506.00001"
    html = ann.get(url).text
    r = ann.post(f"{url}/comments", data={FIELD: token(html), "body": "Ann was here", "next": url},
                 follow_redirects=False)
    assert r.status_code == 303
    renders = len(calls)
    for _ in range(2):
        a, b, anon = ann.get(url).text, ben.get(url).text, client.get(url).text
        assert "Ann was here" in a and "Ann was here" in b and "Ann was here" in anon
        # each one's own controls: ann edits her comment, ben moderates, visitors sign in
        assert 'action="/comments/' in a and "/edit" in a and "Moderation" not in a
        assert "Moderation" in b and "Hide paper from feeds" in b and "/edit" not in b
        assert "Sign in</a> to comment" in anon and 'class="comment-form' not in anon
        assert 'id="save-form"' in a and 'id="save-form"' in b and 'id="save-form"' not in anon
        for page, c in ((a, ann), (b, ben)):  # forms carry the member's own token
            assert set(re.findall(rf'name="{FIELD}" value="([0-9a-f]+)"', page)) == {
                _token_of(c)}
        assert "\ue000" not in a + b + anon
    assert len(calls) == renders + 1  # one render after the comment's new version, shared


def _token_of(c: TestClient) -> str:
    return token(c.get("/submit").text)


def test_page_cache_holds_at_most_its_budget_of_memory() -> None:
    """Every distinct search is an entry of ~300 kB: the cache is bounded by the memory it
    holds, not only by its number of entries (a crawler's distinct queries cannot fill a
    worker), counted in bytes: a page with one character beyond Latin-1 takes 2 or 4 bytes a
    character, and the slots are objects too."""
    import sys

    from paperfeed.web.pages.cache import SLOT_BYTES, Entry, PageCache, Slot, entry_bytes

    ascii_page = Entry(pieces=[b"x" * 1_000], paper_ids={}, members_ok=True)
    size = entry_bytes(ascii_page)
    # the text once in UTF-8: the pages assembled for anonymous visitors and members share it
    assert sys.getsizeof(b"x" * 1_000) < size < 1_300
    wide = Entry(pieces=["\u2192".encode() * 1_000, Slot("upvote", ("p", 1))], paper_ids={},
                 members_ok=True)
    assert entry_bytes(wide) >= 3 * 1_000 + SLOT_BYTES  # three bytes a character in UTF-8
    cache = PageCache(ttl=60, max_entries=100, max_bytes=5 * size)
    for k in range(20):
        cache.put((f"/search?q={k}", "", 1), ascii_page)
        cache.put((f"/search?q={k}", "", 1), ascii_page)  # the same key again: counted once
        assert cache.bytes <= 5 * size
    assert cache.bytes == 5 * size
    assert cache.get(("/search?q=19", "", 1)) is ascii_page
    assert cache.get(("/search?q=0", "", 1)) is None
    cache.put(("/huge", "", 1), Entry(pieces=[b"x" * 6 * size], paper_ids={}, members_ok=True))
    assert cache.get(("/huge", "", 1)) is None and cache.bytes == 5 * size  # too big: not kept
    cache.clear()
    assert cache.bytes == 0


def test_api_response_cache_holds_at_most_its_budget_of_bytes() -> None:
    from paperfeed.web.api.json import ResponseCache

    cache = ResponseCache(ttl=60, max_entries=100, max_bytes=1_000)
    for k in range(10):
        cache.get_or_build(("day", k), lambda: "x" * 298)  # 300 bytes of JSON
    assert [cache.get(("day", k)) is not None for k in range(10)] == [False] * 7 + [True] * 3


def test_member_parts_are_passed_every_variable_they_use(settings) -> None:
    """A `member_part` renders its template apart from the page, seeing only what the page
    passes it (and globals): a variable the page has but does not pass renders as nothing
    (the paper page's Hugging Face comment note was lost that way once)."""
    from jinja2 import meta

    from paperfeed.web.templating import TEMPLATES_DIR, make_templates

    env = make_templates(settings).env
    page = (TEMPLATES_DIR / "paper.html").read_text()
    calls = re.findall(r'member_part\(request, "([^"]+)"([^)]*)\)', page)
    assert len(calls) == 3
    for name, kwargs in calls:
        passed = set(re.findall(r"(\w+)=", kwargs)) | {"request"}
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        used = meta.find_undeclared_variables(env.parse(source))
        own = set(re.findall(r"{%-?\s*set (\w+)", source))  # set inside an {% if %}
        assert used - passed - own - set(env.globals) == set(), name


def test_page_cache_counts_what_its_entries_really_hold(client, engine, settings) -> None:
    """The budget is real memory: an entry's count covers its pieces, its slots and the pages
    assembled from them for anonymous visitors and for members, once all are built, without
    counting them twice (each worker holds its own cache: bench/serve_memory.py)."""
    import sys

    from paperfeed.web.pages.cache import Slot, entry_bytes

    feature(engine, [paper(f"2506.{k:05d}", upvotes=k) for k in range(1, 31)], D)
    ann = browser(client.app, member(engine, settings, "ann"))
    for url in (DAY, "/", "/search?q=title"):
        client.get(url), ann.get(url), client.get(url)  # the anonymous copy, the member base
    entries = client.app.state.page_cache.entries()
    assert len(entries) == 3 and all(e.anonymous and e.member_base for e in entries)
    for e in entries:
        assert e.anonymous is not None and e.member_base is not None
        held: dict[int, object] = {}  # every object the entry holds, each counted once
        for obj in [e.pieces, *e.pieces, e.anonymous.parts, *e.anonymous.parts,
                    e.member_base.page.parts, *e.member_base.page.parts]:
            held[id(obj)] = obj
        for p in e.pieces:
            if isinstance(p, Slot):
                held[id(p.args)] = p.args
        real = sum(sys.getsizeof(obj) for obj in held.values())
        assert real <= entry_bytes(e) <= 1.5 * real, (real, entry_bytes(e))
        # both pages share the entry's longer text pieces (bytes objects), not copies
        texts = {id(p) for p in e.pieces if isinstance(p, bytes) and len(p) > 1_000}
        assert texts and texts <= {id(p) for p in e.member_base.page.parts}
        assert texts <= {id(p) for p in e.anonymous.parts}
    assert client.app.state.page_cache.bytes == sum(entry_bytes(e) for e in entries)
