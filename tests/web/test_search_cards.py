"""Search result cards rendered once per paper and shared between searches (web/card_cache.py)
and the per-paper controls rendered once per state (web/slots.py): each search still shows
its own highlights, ranks and return path, each visitor their own vote state and a CSRF token
that works, and a vote shows at once for its voter and for others in the same worker."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date, datetime
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app
from paperfeed.web.csrf import FIELD
from tests.feed_factories import feature, paper
from tests.web.test_pages_cache import browser, button, member, token

D = date(2025, 6, 16)
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _catalog(engine: Engine) -> None:
    feature(engine, [
        paper("2506.00001", title=f"Graph networks for alpha {HOSTILE}",
              abstract=f"We study graph networks. {HOSTILE} Alpha beta gamma.", upvotes=3),
        paper("2506.00002", title="Graph networks for beta",
              abstract="Beta graph networks, and more beta.", upvotes=1),
    ], D)


def _marks(html: str) -> list[str]:
    return re.findall(r"<mark>([^<]*)</mark>", html)


def _next_of(html: str, pid: str) -> str:
    m = re.search(rf'id="upvote-{re.escape(pid)}">.*?name="next" value="([^"]*)"', html, re.S)
    assert m, f"no upvote form for {pid}"
    return htmllib.unescape(m.group(1))


def _cards_shared_between_searches(settings: Settings, engine: Engine) -> None:
    _catalog(engine)
    app = create_app(settings)
    anon = TestClient(app)
    ann = browser(app, member(engine, settings, "ann"))
    ben = browser(app, member(engine, settings, "ben"))
    alpha, beta = "/search?q=graph+alpha", '/search?q=graph+beta&cat=&x="<'
    page_a = anon.get(alpha).text
    page_b = anon.get(beta).text
    for page, word in ((page_a, "alpha"), (page_b, "beta")):
        # both papers on both pages, each search's own words marked (the card is shared)
        assert 'data-paper="2506.00001"' in page and 'data-paper="2506.00002"' in page
        marked = {m.lower() for m in _marks(page)}
        assert word in marked and ({"alpha", "beta"} - {word}).isdisjoint(marked), marked
        # hostile title and abstract escaped on the cached card
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page
        assert "\ue002" not in page and "\ue004" not in page and "\ue000" not in page
    assert len(app.state.card_cache) == 2  # one render per paper, shared by both searches
    # ranks: element ids follow the page's order, unique on the page
    ids = re.findall(r'id="title-(\d+)"', page_a)
    assert ids == ["1", "2"]
    # each page's forms return to that page, escaped
    assert _next_of(page_a, "2506.00002") == alpha
    assert _next_of(page_b, "2506.00002") == _next_of(page_b, "2506.00001")
    assert _next_of(page_b, "2506.00001") == '/search?q=graph+beta&cat=&x=%22%3C'
    # so does the header's "Sign in" (its links are kept per path and member, the return
    # path filled in per page), for either page and whichever came first
    for url, page in ((alpha, page_a), (beta, page_b), (alpha, anon.get(alpha).text)):
        nav = page.split('<nav class="account-nav"', 1)[1].split("</nav>", 1)[0]
        signin = re.findall(r'<a href="/signin\?next=([^"]*)">Sign in</a>', nav)
        assert [unquote(htmllib.unescape(n)) for n in signin] == [_next_of(page, "2506.00001")]
        assert _next_of(page, "2506.00001") == (url if url == alpha else
                                                '/search?q=graph+beta&cat=&x=%22%3C')

    # ann votes from the (cached) search page, with the token it gave her
    page = ann.get(alpha).text
    assert button(page, "2506.00001") == (False, 3)
    r = ann.post("/papers/2506.00001/upvote",
                 data={FIELD: token(page), "vote": "1", "next": _next_of(page, "2506.00001")},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].split("#")[0] == alpha
    for _ in range(2):  # the second round is served from the caches
        for url in (alpha, beta):
            assert button(ann.get(url).text, "2506.00001") == (True, 4)
            assert button(ben.get(url).text, "2506.00001") == (False, 4)
            assert button(anon.get(url).text, "2506.00001") == (False, 4)
            assert button(ann.get(url).text, "2506.00002") == (False, 1)
    # and she can take it back with the token of a page served from the cache
    page = ann.get(beta).text
    assert set(re.findall(rf'name="{FIELD}" value="([^"]+)"', page)) == {token(page)}
    r = ann.post("/papers/2506.00001/upvote", data={FIELD: token(page), "vote": "0"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert button(ann.get(beta).text, "2506.00001") == (False, 3)
    assert button(ben.get(alpha).text, "2506.00001") == (False, 3)


def test_search_cards_are_shared_with_each_visitors_state(settings, engine) -> None:
    _cards_shared_between_searches(settings, engine)


@pytest.mark.postgres
def test_search_cards_are_shared_on_postgresql(pg_settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    try:
        _cards_shared_between_searches(pg_settings, engine)
    finally:
        engine.dispose()


def test_similar_papers_use_the_same_cards(client, engine) -> None:
    _catalog(engine)
    html = client.get("/papers/2506.00002").text
    # without embeddings there are no similar papers; the page still renders its own paper
    assert "Graph networks for beta" in html and "\ue004" not in html


def test_members_share_the_search_page_render_with_their_own_save_search(client, engine,
                                                                         settings) -> None:
    _catalog(engine)
    ann = browser(client.app, member(engine, settings, "ann"))
    first = client.get("/search?q=graph").text
    assert client.app.state.page_cache.entries() == []  # a query asked once is not recorded
    anon_page = client.get("/search?q=graph").text
    assert "Sign in</a> to save this search" in anon_page
    assert anon_page.replace(token(anon_page), "") == first.replace(token(first), "")
    entries = client.app.state.page_cache.entries()
    assert len(entries) == 1 and entries[0].members_ok  # nothing asked who was visiting
    page = ann.get("/search?q=graph").text
    assert 'action="/alerts"' in page and "to save this search" not in page
    assert 'name="query" value="graph"' in page
    assert set(re.findall(rf'name="{FIELD}" value="([^"]+)"', page)) == {token(page)}
    assert "\ue000" not in page and 'action="/alerts"' not in client.get("/search?q=graph").text


def test_a_crawl_of_distinct_searches_keeps_the_list_pages_cached(client, engine) -> None:
    _catalog(engine)
    home = client.get("/")
    assert home.status_code == 200
    cache = client.app.state.page_cache
    recorded = len(cache.entries())
    assert recorded >= 1
    for n in range(40):
        assert client.get("/search", params={"q": f"graph {n}"}).status_code == 200
    assert len(cache.entries()) == recorded  # one-off searches took no room
    client.get("/search", params={"q": "graph 7"})  # asked again: now it is shared
    assert len(cache.entries()) == recorded + 1


def _varied(engine: Engine) -> None:
    """Papers whose cards take every branch of `_paper_card.html`."""
    feature(engine, [
        paper("2506.00011", title=f"Graph $x^2$ networks {HOSTILE}",
              abstract=f"Graph networks. {HOSTILE} $\\alpha < \\beta$ graph.", upvotes=1,
              authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra",
                       "Barbara Liskov"],
              organization={"name": "acme", "fullname": "Acme <Labs>"}, comments=4),
        paper("2506.00012", title="Graph networks, no authors", abstract="Graph.", authors=[],
              upvotes=0),
        paper("2506.00013", title="Graph networks & more", abstract="Graph " * 200,
              authors=["Émile Zola"], upvotes=7),
        paper("2506.00014", title="Graph networks, hostile people", abstract="Graph.",
              authors=[HOSTILE, "O'Brien & \"Sons\"", "Ünal  Çelik"], upvotes=2,
              published=datetime(2019, 1, 2, 3, 4),
              organization={"name": "a&b \"x\"", "fullname": HOSTILE}, comments=1),
    ], D)


def test_cards_rendered_together_are_the_template_rendered_card_by_card(settings,
                                                                         engine) -> None:
    """card_cache renders a page's new cards in one template call and cuts them apart, from
    rows holding only the card's columns: each card is exactly `_paper_card.html` rendered
    alone for the full row (holes and all)."""
    import dataclasses
    from types import SimpleNamespace

    from paperfeed.models import utcnow
    from paperfeed.search.hybrid import SearchService
    from paperfeed.web import card_cache
    from paperfeed.web.holes import HoledHtml
    from paperfeed.web.searching import CARD_COLUMNS, items_for

    _varied(engine)
    _catalog(engine)
    app = create_app(settings)
    request = SimpleNamespace(app=app)
    result = SearchService(engine, settings).search("graph networks", mode="keyword", limit=10)
    assert len(result.hits) == 6
    now = utcnow()
    with engine.connect() as conn:
        light = items_for(conn, result, columns=CARD_COLUMNS)
        full = items_for(conn, result)
    together = card_cache._render(request, light, now)  # type: ignore[arg-type]
    hole = card_cache._hole
    for item, card in zip(full, together, strict=True):
        alone = app.state.templates.env.get_template("_paper_card.html").render(
            request=request, now=now, loop_index=hole("index"),
            item=dataclasses.replace(item, title=hole("title"), abstract=hole("abstract")),
            upvote_button=lambda *_a: hole("upvote"), save_button=lambda *_a: hole("save"),
            save_form=lambda *_a: hole("save_form"))
        assert (card_cache.as_holed(card).pieces
                == HoledHtml(alone, card_cache.OPEN, card_cache.CLOSE).pieces)
    page = "".join(card_cache.as_holed(c).fill(
        {"title": "T", "abstract": "A", "index": "1", "upvote": "", "save": "", "save_form": ""})
        for c in together)
    assert "+2</span>" in page and "Acme &lt;Labs&gt;" in page and "4 comments" in page
    assert "O&#39;Brien &amp; &#34;Sons&#34;" in page and "Jan 2, 2019" in page
    assert "<script>" not in page and page.count("&lt;script&gt;") == 2  # author and org
    assert 'href="/organizations/a%26b%20%22x%22"' in page
    assert "\ue006" not in page


def _saved(html: str, pid: str) -> bool:
    m = re.search(rf'data-paper="{re.escape(pid)}".*?class="(save-link saved|link-button '
                  r'save-button|save-link)"', html, re.S)
    assert m, f"no save control for {pid}"
    return m.group(1) == "save-link saved"


def _members_fill_one_cached_page(settings: Settings, engine: Engine) -> None:
    """Members are served one recorded page with the controls of a member who voted for and
    saved nothing, re-rendering only their own (web/pages/cache.py, Entry.member_base): each
    member sees exactly their votes and saves, whoever came first."""
    _catalog(engine)
    app = create_app(settings)
    ann = browser(app, member(engine, settings, "ann"))
    ben = browser(app, member(engine, settings, "ben"))
    anon = TestClient(app)
    url = "/search?q=graph+networks"
    page = ann.get(url).text
    r = ann.post("/papers/2506.00002/save", data={FIELD: token(page), "next": url},
                 follow_redirects=False)
    assert r.status_code == 303
    page = ann.get(url).text
    r = ann.post("/papers/2506.00001/upvote", data={FIELD: token(page), "vote": "1",
                                                   "next": url}, follow_redirects=False)
    assert r.status_code == 303
    for order in ((ben, ann, anon), (ann, ben, anon)):
        seen = {c: c.get(url).text for c in order}
        assert button(seen[ann], "2506.00001") == (True, 4)
        assert _saved(seen[ann], "2506.00002") and not _saved(seen[ann], "2506.00001")
        assert button(seen[ben], "2506.00001") == (False, 4)
        assert not _saved(seen[ben], "2506.00002")
        assert 'class="link-button save-button"' in seen[ben]  # a member's Save button
        assert button(seen[anon], "2506.00001") == (False, 4)
        assert 'href="/signin?next=' in seen[anon] and "save-button" not in seen[anon]
        for c in (ann, ben):  # own account links and a token that is theirs
            assert set(re.findall(rf'name="{FIELD}" value="([^"]+)"', seen[c])) == {
                token(seen[c])}
        assert token(seen[ann]) != token(seen[ben])
        assert 'class="me">ann<' in seen[ann] and 'class="me">ben<' in seen[ben]
    entries = app.state.page_cache.entries()
    assert any(e.member_base is not None for e in entries)  # the shared member render


def test_members_fill_one_cached_page_with_their_own_votes_and_saves(settings, engine) -> None:
    _members_fill_one_cached_page(settings, engine)


@pytest.mark.postgres
def test_members_fill_one_cached_page_on_postgresql(pg_settings) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    try:
        _members_fill_one_cached_page(pg_settings, engine)
    finally:
        engine.dispose()


def _controls_in_one_pass_are_the_globals(settings: Settings, engine: Engine,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`slots.card_controls` (a search page's 150 controls in one pass) gives exactly what
    `upvote_button`, `save_button` and `save_form` give card by card: anonymous and for a
    member with a vote and a save, counts of 0, 1 and more, an old-style id with a slash, a
    hostile return path."""
    from paperfeed.web import slots

    _catalog(engine)
    feature(engine, [paper("hep-th/9901001", title="Graph networks, old style id",
                           abstract="Graph networks.", upvotes=0)], D)
    # no page cache: both renders below are direct, not one recorded and one filled
    app = create_app(settings.model_copy(update={"page_cache_seconds": 0}))
    ann = browser(app, member(engine, settings, "ann"))
    anon = browser(app)
    anon.cookies.set("pf_csrf", "visitor0001xxxxxxxxxxxxxxxxxxxxx")
    url = '/search?q=graph+networks&x="<script>'
    page = ann.get(url).text
    for pid, path in (("2506.00002", "save"), ("hep-th/9901001", "upvote")):
        data = {FIELD: token(page), "next": url} | ({"vote": "1"} if path == "upvote" else {})
        assert ann.post(f"/papers/{pid}/{path}", data=data,
                        follow_redirects=False).status_code == 303
    calls: list[int] = []
    batched = slots.card_controls

    def one_by_one(request: object, papers: list[tuple[str, int]]) -> None:
        calls.append(len(papers))
        return None  # as while a page is recorded: the template globals, card by card

    cached_app = create_app(settings)  # with the page cache: votes kept per content version
    for visitor in (anon, ann):
        monkeypatch.setattr(slots, "card_controls", batched)
        fast = visitor.get(url).text
        again = browser(cached_app)
        again.cookies = visitor.cookies
        first, recorded = again.get(url).text, again.get(url).text  # asked twice: recorded
        monkeypatch.setattr(slots, "card_controls", one_by_one)
        slow = visitor.get(url).text
        assert calls and calls[-1] == 3
        assert fast == slow == first == recorded
    assert button(fast, "hep-th/9901001") == (True, 1) and _saved(fast, "2506.00002")
    assert 'id="upvote-hep-th/9901001"' in fast and 'id="save-hep-th-9901001"' in fast
    assert "<script>" not in fast and "\ue002" not in fast and "\ue003" not in fast


def test_card_controls_in_one_pass_are_the_globals(settings, engine, monkeypatch) -> None:
    _controls_in_one_pass_are_the_globals(settings, engine, monkeypatch)


@pytest.mark.postgres
def test_card_controls_in_one_pass_on_postgresql(pg_settings, monkeypatch) -> None:
    engine = connect(pg_settings)
    migrate(engine)
    try:
        _controls_in_one_pass_are_the_globals(pg_settings, engine, monkeypatch)
    finally:
        engine.dispose()


def test_plain_ids_fill_controls_as_escaping_would() -> None:
    """card_controls skips escaping and urlencoding ids made of `_PLAIN_ID` characters: for
    those the two leave the id unchanged (and '#' of the save link becomes %23)."""
    import string

    from paperfeed.web.slots import _PLAIN_ID, _paper_values

    ids = ["2506.00001", "cs/0101001", "math.AG/0601001", "a_b-c.d", string.ascii_letters,
           string.digits + "._-/"]
    for pid in ids:
        assert _PLAIN_ID.issuperset(pid)
        assert _paper_values(pid, '/search?q="x"&y', upvotes="1") == {
            "paper_id": pid, "form_id": pid.replace("/", "-"), "upvotes": "1",
            "next": "/search?q=&#34;x&#34;&amp;y", "save_next": f"/papers/{pid}%23save"}
    assert not _PLAIN_ID.issuperset("a b") and not _PLAIN_ID.issuperset("x<y")
