"""Identical searches of one worker share one computation: within the TTL, and when they
arrive together; a catalog change (content version) is searched anew."""

from __future__ import annotations

import threading
from datetime import date

from paperfeed.search.hybrid import SearchResult
from paperfeed.search.query import parse
from paperfeed.web.searching import RecentSearches
from tests.feed_factories import feature, paper


def test_identical_searches_arriving_together_run_once() -> None:
    recent = RecentSearches(ttl=0)  # nothing kept: only the running search is shared
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute() -> SearchResult:
        calls.append(1)
        started.set()
        release.wait(10)
        return SearchResult(query=parse("x"), hits=[], mode="hybrid", used="none")

    out: list[SearchResult] = []
    first = threading.Thread(target=lambda: out.append(recent.get(("x",), compute)))
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=lambda: out.append(recent.get(("x",), compute)))
              for _ in range(5)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert len(calls) == 1 and len(out) == 6 and all(r is out[0] for r in out)
    recent.get(("x",), compute)  # done and not kept (ttl 0): computed again
    assert len(calls) == 2


def test_a_failed_search_is_not_kept() -> None:
    recent = RecentSearches(ttl=60)

    def boom() -> SearchResult:
        raise RuntimeError("index gone")

    for _ in range(2):
        try:
            recent.get(("q",), boom)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the error must reach the caller")


def test_api_and_page_share_a_search_until_the_catalog_changes(client, engine, monkeypatch):
    feature(engine, [paper("2506.00001", title="Graph networks"),
                     paper("2506.00002", title="Other things")], date(2025, 6, 16))
    client.get("/")
    from paperfeed.web.searching import search_service

    class Req:  # search_service only needs request.app
        app = client.app

    service = search_service(Req())  # type: ignore[arg-type]
    # An hour, not the 5 s default: on a loaded machine the three requests below can span
    # more than 5 s, and the shared answer would expire before the page asks (a flaky test).
    client.app.state.recent_searches = RecentSearches(ttl=3600)
    calls: list[str] = []
    real = service.search
    monkeypatch.setattr(service, "search", lambda q, **k: calls.append(q) or real(q, **k))
    client.get("/api/papers/search", params={"q": "graph networks"})
    client.get("/api/papers/search", params={"q": "graph networks", "limit": 5})
    client.get("/search", params={"q": "graph networks"})
    assert calls == ["graph networks"]
    feature(engine, [paper("2506.00003", title="Graph networks again")], date(2025, 6, 16))
    client.app.state.page_cache.poll = 0.0
    r = client.get("/api/papers/search", params={"q": "graph networks"})
    assert calls == ["graph networks", "graph networks"]
    assert "2506.00003" in r.text


def test_identical_api_searches_share_one_answer_until_a_vote(client, engine, settings,
                                                              monkeypatch):
    from paperfeed.web.api import search as api_search
    from paperfeed.web.api.search import answer_cache
    from tests.web.test_pages_cache import browser, member, vote

    feature(engine, [paper("2506.00001", title="Graph networks", upvotes=2)], date(2025, 6, 16))
    client.get("/")
    client.app.state.search_api_cache = cache = answer_cache(ttl=3600)  # as test above
    client.app.state.page_cache.linked.append(cache)
    built: list[int] = []
    real = api_search.entry_rows  # what the API reads of its results
    monkeypatch.setattr("paperfeed.web.api.search.entry_rows",
                        lambda *a, **k: built.append(1) or real(*a, **k))
    first = client.get("/api/papers/search", params={"q": "graph"})
    again = client.get("/api/papers/search", params={"q": "graph"})
    assert first.content == again.content and len(built) == 1
    assert first.json()[0]["paper"]["upvotes"] == 2
    assert client.get("/api/papers/search", params={"q": "graph", "limit": 3}).status_code == 200
    assert len(built) == 2  # another question, another answer
    ann = browser(client.app, member(engine, settings, "ann"))
    vote(ann, "2506.00001", page="/papers/2506.00001")
    # anonymous requests re-read the content version at most every VERSION_POLL seconds
    client.app.state.page_cache.poll = 0.0
    after = client.get("/api/papers/search", params={"q": "graph"})
    assert after.json()[0]["paper"]["upvotes"] == 3 and len(built) == 3


def test_a_cached_search_answer_keeps_the_limited_header(client, engine, monkeypatch):
    from paperfeed.web.api import search as api_search

    feature(engine, [paper("2506.00001", title="Graph networks")], date(2025, 6, 16))
    real = api_search._answer
    answers: list[int] = []

    def limited(*a, **k):  # type: ignore[no-untyped-def]
        body, _ = real(*a, **k)
        answers.append(1)
        return body, True

    monkeypatch.setattr(api_search, "_answer", limited)
    client.app.state.search_api_cache = api_search.answer_cache(ttl=3600)  # not 5 s: a loaded machine
    for _ in range(2):
        r = client.get("/api/papers/search", params={"q": "graph limited"})
        assert r.headers.get(api_search.LIMITED_HEADER) == "true"
        assert r.json()[0]["paper"]["id"] == "2506.00001"
    assert len(answers) == 1
