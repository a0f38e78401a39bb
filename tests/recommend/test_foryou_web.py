"""The "For you" pages, API, private feed and digest section on the demo corpus (real app)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.accounts import profile, signin
from paperfeed.accounts.voting import set_vote
from paperfeed.digests.compose import Digest
from paperfeed.digests.editions import Edition
from paperfeed.digests.send import for_you
from paperfeed.models import utcnow
from paperfeed.recommend.service import open_recommender
from paperfeed.storage import recommend as store
from paperfeed.web.app import create_app
from tests.recommend.conftest import NOW, Demo

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(demo: Demo) -> Iterator[TestClient]:
    with TestClient(create_app(demo.settings)) as c:
        yield c


def _sign_in(client: TestClient, demo: Demo):  # type: ignore[no-untyped-def]
    member = demo.member()
    client.cookies.set(signin.SESSION_COOKIE,
                       signin.start_session(demo.engine, demo.settings, member, now=utcnow()))
    return member


def _csrf(client: TestClient, path: str) -> str:
    m = CSRF_RE.search(client.get(path).text)
    assert m, path
    return m.group(1)


def _day_ids(demo: Demo) -> list[str]:
    with demo.engine.connect() as conn:
        return store.featured_ids(conn, date(2026, 8, 17), date(2026, 8, 21))


def test_signed_out_visitor_is_asked_to_sign_in(client: TestClient) -> None:
    page = client.get("/for-you")
    assert page.status_code == 200
    assert 'href="/signin?next=/for-you"' in page.text


def test_list_pages_have_a_for_you_tab(client: TestClient) -> None:
    assert '<a href="/for-you">For you</a>' in client.get("/papers/week/2026-W34").text


def test_new_member_gets_the_cold_start_flow_not_an_error(client: TestClient, demo: Demo) -> None:
    _sign_in(client, demo)
    r = client.get("/for-you", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you/start"
    page = client.get("/for-you/start")
    assert page.status_code == 200
    assert "Start your list" in page.text
    assert 'action="/for-you/seeds"' in page.text and 'action="/for-you/import"' in page.text
    assert "carry no arXiv categories" in page.text  # Hugging Face imports have none
    found = client.get("/for-you/start?q=diffusion").text
    assert found.count('name="paper" value="') >= 5
    assert "Rate ten papers" in page.text
    round_page = client.get("/for-you/round")
    assert round_page.text.count('value="up"') == 10


def test_ranked_day_explains_itself_and_not_interested_sinks_on_next_load(
    client: TestClient, demo: Demo,
) -> None:
    member = _sign_in(client, demo)
    liked = demo.titled("diffusion", 40)[8:14]
    for pid in liked:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)
    page = client.get("/for-you?period=week").text
    order = re.findall(r'<li id="paper-([^"]+)"', page)
    assert len(order) >= 10
    reason = re.search(r'Because you upvoted <a href="/papers/([^"]+)">', page)
    assert reason and reason.group(1) in liked
    target = order[0]
    r = client.post("/for-you/feedback", data={
        "paper": target, "kind": "less", "next": "/for-you?period=week",
        "csrf_token": _csrf(client, "/for-you?period=week")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you?period=week"
    again = client.get("/for-you?period=week").text
    after = re.findall(r'<li id="paper-([^"]+)"', again)
    assert after[-1] == target
    assert "You marked this “not interested”." in again


def test_votes_whose_refit_has_not_run_yet_still_give_a_list_not_the_start_page(
    client: TestClient, demo: Demo,
) -> None:
    """The refit after a vote runs after the response (seconds for a worker's first one) and
    may fail; a newcomer who upvoted and opened "For you" at once was sent to "Start your
    list" as if they had done nothing. The page fits the model itself when it finds votes
    but no model."""
    member = _sign_in(client, demo)
    for pid in demo.titled("diffusion", 40)[8:12]:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW,
                 later=lambda *a, **k: None)  # the scheduled refit has not run
    r = client.get("/for-you?period=week", follow_redirects=False)
    assert r.status_code == 200, r.headers.get("location")
    assert len(re.findall(r'<li id="paper-([^"]+)"', r.text)) >= 10
    fresh = demo.member()  # a member who did nothing still starts the list
    client.cookies.set(signin.SESSION_COOKIE,
                       signin.start_session(demo.engine, demo.settings, fresh, now=utcnow()))
    cold = client.get("/for-you", follow_redirects=False)
    assert cold.status_code == 303 and cold.headers["location"] == "/for-you/start"


def test_more_like_this_lifts_similar_papers(client: TestClient, demo: Demo) -> None:
    member = _sign_in(client, demo)
    for pid in demo.titled("agent", 20)[:3]:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)
    before = re.findall(r'<li id="paper-([^"]+)"', client.get("/for-you?period=week").text)
    pick = before[-5]
    client.post("/for-you/feedback", data={
        "paper": pick, "kind": "more", "next": "/for-you?period=week",
        "csrf_token": _csrf(client, "/for-you?period=week")})
    after = re.findall(r'<li id="paper-([^"]+)"', client.get("/for-you?period=week").text)
    assert after.index(pick) < before.index(pick)


def test_api_me_for_you_answers_with_reasons_and_cold_flag(client: TestClient, demo: Demo) -> None:
    member = demo.member()
    token = profile.create_api_token(demo.engine, member, name="t", now=utcnow())
    headers = {"Authorization": f"Bearer {token}"}
    cold = client.get("/api/me/for-you", headers=headers).json()
    assert cold["cold"] is True and cold["papers"] == []
    assert client.get("/api/me/for-you").status_code == 401
    liked = demo.titled("diffusion", 40)[8:12]
    for pid in liked:
        assert client.post(f"/api/papers/{pid}/upvote", headers=headers).status_code == 200
    body = client.get("/api/me/for-you?period=all&limit=10", headers=headers).json()
    assert body["cold"] is False and len(body["papers"]) == 10
    assert all(p["reason"]["paperId"] in liked for p in body["papers"])
    assert not {p["paper"]["id"] for p in body["papers"]} & set(liked)
    first = body["papers"][0]["paper"]["id"]
    r = client.post("/api/me/for-you/feedback", headers=headers,
                    json={"paper": first, "kind": "less"})
    assert r.status_code == 200
    again = client.get("/api/me/for-you?period=all&limit=10", headers=headers).json()
    assert first not in {p["paper"]["id"] for p in again["papers"]}


def test_active_learning_round_teaches_the_model(client: TestClient, demo: Demo) -> None:
    member = _sign_in(client, demo)
    page = client.get("/for-you/round").text
    ids = re.findall(r'name="label:([^"]+)" value="up"', page)
    assert len(ids) == 10
    data = {"csrf_token": CSRF_RE.search(page).group(1)}  # type: ignore[union-attr]
    data.update({f"label:{pid}": "up" for pid in ids[:3]})
    data.update({f"label:{pid}": "down" for pid in ids[3:6]})
    r = client.post("/for-you/round", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you"
    with demo.engine.connect() as conn:
        got = store.get_profile(conn, member.id)
        fb = store.feedback_of(conn, member.id, ids)
    assert got is not None and got.positives == 3 and got.negatives == 3
    assert [fb.get(p) for p in ids[:6]] == ["up"] * 3 + ["down"] * 3
    assert client.get("/for-you", follow_redirects=False).status_code == 200
    assert not set(re.findall(r'name="label:([^"]+)"', client.get("/for-you/round").text)) & set(
        ids[:6])


def test_bibtex_import_matches_catalog_papers(client: TestClient, demo: Demo) -> None:
    member = _sign_in(client, demo)
    mine = demo.titled("", 3)
    bib = "\n".join(
        f"@misc{{k{i},\n  title={{{{{demo.title(p)}}}}},\n  author={{Doe, Jane}},\n"
        f"  year={{2026}},\n  eprint={{{p}}},\n  archivePrefix={{arXiv}},\n}}"
        for i, p in enumerate(mine))
    bib += "\n@article{other, title={A paper that is not here}, journal={Nature}}"
    r = client.post("/for-you/import", data={"text": bib, "csrf_token": _csrf(
        client, "/for-you/start")}, follow_redirects=False)
    assert r.status_code == 303
    assert "imported=3&unmatched=1" in r.headers["location"]
    with demo.engine.connect() as conn:
        assert {s["id"] for s in store.member_seeds(conn, member.id)} == set(mine)


def test_private_feed_and_digest_section_use_the_member_model(
    client: TestClient, demo: Demo,
) -> None:
    member = _sign_in(client, demo)
    liked = demo.titled("diffusion", 40)[8:14]
    for pid in liked:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)
    r = client.post("/settings/feeds", data={"kind": "for-you", "csrf_token": _csrf(
        client, "/settings")}, follow_redirects=False)
    assert r.status_code == 303
    url = re.search(r'href="(http://testserver/feeds/private/[^"]+\.atom)"',
                    client.get("/settings").text)
    assert url
    client.cookies.clear()
    parsed = feedparser.parse(client.get(url.group(1)).content)
    assert parsed.feed.title.startswith("For ")
    assert len(parsed.entries) >= 10
    assert "Because you upvoted" in parsed.entries[0].summary
    week = Edition(frequency="weekly", label="2026-W34", start=date(2026, 8, 17),
                   end=date(2026, 8, 23))
    digest = Digest(edition=week, papers=(), site_name="paperfeed", base_url="http://x",
                    subject="s", edition_url="http://x/w")
    picks = for_you(demo.engine, demo.settings, member.id, digest)
    assert len(picks) == 5
    rec = open_recommender(demo.settings, demo.engine)
    ranked = [r.paper_id for r in rec.rank(member.id, _day_ids(demo)).items]
    assert [p.id for p in picks] == ranked[:5]
    assert for_you(demo.engine, demo.settings, None, digest) == ()


def test_hugging_face_only_catalog_offers_topics_that_start_a_list(
    client: TestClient, demo: Demo,
) -> None:
    member = _sign_in(client, demo)
    page = client.get("/for-you/start").text
    assert "carry no arXiv categories" in page
    topics = re.findall(r'name="topic" value="([^"]+)"', page)
    assert len(topics) >= 10 and "large language models" in topics
    assert 'name="category"' not in page
    r = client.post("/for-you/categories", data={
        "topic": ["diffusion models", "not a topic <script>"],
        "csrf_token": _csrf(client, "/for-you/start")}, follow_redirects=False)
    assert r.status_code == 303
    with demo.engine.connect() as conn:
        got = store.get_profile(conn, member.id)
    assert got is not None and got.topics == ["diffusion models"] and got.weights is not None
    assert 'value="diffusion models" checked' in client.get("/for-you/start").text
    listing = client.get("/for-you?period=week", follow_redirects=False)
    assert listing.status_code == 200  # a list already, not the cold start
    order = re.findall(r'<li id="paper-([^"]+)"', listing.text)
    top = " ".join(demo.title(p).lower() for p in order[:5])
    assert "diffusion" in top or "denois" in top, top
