from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts.submissions import DuplicateSubmission, submit_paper
from paperfeed.autofeature import apply_rules, matches
from paperfeed.config import FeatureRule, Settings
from paperfeed.errors import BadRequest
from paperfeed.models import utcnow
from paperfeed.storage import moderation
from tests.members_support import Inbox, add_member, add_paper, csrf, sign_in, token_for

PID = "2506.01234"


def test_api_submit_features_the_paper_today_with_the_member_as_submitter(
    client: TestClient, engine: Engine
) -> None:
    add_paper(engine, PID, published_at=utcnow() - timedelta(days=2), title="A fresh paper")
    token = token_for(engine, add_member(engine, "ada@example.org", username="ada"))
    r = client.post("/api/papers/submit", json={"id": f"https://arxiv.org/abs/{PID}v2"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    today = utcnow().date().isoformat()
    assert r.json() == {"id": PID, "date": today, "title": "A fresh paper",
                        "url": f"/papers/{PID}"}
    listed = client.get("/api/daily_papers", params={"submitter": "ada"}).json()
    assert [item["paper"]["id"] for item in listed] == [PID]
    assert listed[0]["submittedBy"]["name"] == "ada"
    assert PID in client.get(f"/papers/date/{today}").text


def test_same_paper_twice_on_one_day_is_refused_with_a_link_to_the_entry(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    add_paper(engine, PID, published_at=utcnow() - timedelta(days=1))
    other = token_for(engine, add_member(engine, "bob@example.org"))
    assert client.post("/api/papers/submit", json={"id": PID},
                       headers={"Authorization": f"Bearer {other}"}).status_code == 201
    sign_in(client, inbox, "ada@example.org")
    r = client.post("/submit", data={"paper": PID, "csrf_token": csrf(client, "/submit")})
    assert r.status_code == 409
    assert "already on the list of" in r.text
    assert f'href="/papers/{PID}"' in r.text
    again = client.post("/api/papers/submit", json={"id": PID},
                        headers={"Authorization": f"Bearer {other}"})
    assert again.status_code == 409 and f"/papers/{PID}" in again.json()["error"]


def test_old_papers_are_refused_unless_a_moderator_submits(
    settings: Settings, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now - timedelta(days=30))
    member = add_member(engine, "ada@example.org")
    with pytest.raises(BadRequest, match="more than 14 days ago"):
        submit_paper(engine, settings, member, PID, ip="127.0.0.1", now=now)
    mod = add_member(engine, "mod@example.org", role="moderator")
    done = submit_paper(engine, settings, mod, PID, ip="127.0.0.1", now=now)
    assert done.day.isoformat() == "2025-06-16"
    with pytest.raises(DuplicateSubmission):
        submit_paper(engine, settings, mod, PID, ip="127.0.0.1", now=now)


def test_the_age_limit_is_a_setting(settings: Settings, engine: Engine, now: datetime) -> None:
    settings.submission_max_age_days = 60
    add_paper(engine, PID, published_at=now - timedelta(days=30))
    member = add_member(engine, "ada@example.org")
    assert submit_paper(engine, settings, member, PID, ip="127.0.0.1", now=now).paper_id == PID


def test_today_follows_the_site_timezone(settings: Settings, engine: Engine) -> None:
    settings.timezone = "Asia/Tokyo"
    now = datetime(2025, 6, 16, 20, 0)  # 05:00 on the 17th in Tokyo
    add_paper(engine, PID, published_at=now - timedelta(days=1))
    member = add_member(engine, "ada@example.org")
    done = submit_paper(engine, settings, member, PID, ip="127.0.0.1", now=now)
    assert done.day.isoformat() == "2025-06-17"


def test_submit_page_needs_sign_in_and_rejects_garbage(
    client: TestClient, inbox: Inbox, engine: Engine
) -> None:
    assert client.get("/submit").status_code == 401
    sign_in(client, inbox, "ada@example.org")
    r = client.post("/submit", data={"paper": "not an id", "csrf_token": csrf(client, "/submit")})
    assert r.status_code == 400 and "not an arxiv id" in r.text.lower()
    assert client.post("/submit", data={"paper": PID}).status_code == 403  # no CSRF token


def test_submissions_are_rate_limited(settings: Settings, engine: Engine, now: datetime) -> None:
    from paperfeed.errors import RateLimited

    settings.submission_limit_per_day = 2
    member = add_member(engine, "ada@example.org")
    for i in range(2):
        add_paper(engine, f"2506.0000{i}", published_at=now)
        submit_paper(engine, settings, member, f"2506.0000{i}", ip="127.0.0.1", now=now)
    add_paper(engine, "2506.00009", published_at=now)
    with pytest.raises(RateLimited):
        submit_paper(engine, settings, member, "2506.00009", ip="127.0.0.1", now=now)


@pytest.mark.parametrize(
    ("rule", "paper", "expected"),
    [
        (FeatureRule(category="cs.CL", min_upvotes=2), {"categories": ["cs.CL"], "member_upvotes": 2}, True),
        (FeatureRule(category="cs.CL", min_upvotes=3), {"categories": ["cs.CL"], "member_upvotes": 2}, False),
        (FeatureRule(category="cs.CL", min_upvotes=3), {"categories": ["cs.CL"], "member_upvotes": 1, "upstream_upvotes": 2}, True),
        (FeatureRule(category="cs.CV", min_upvotes=0), {"categories": ["cs.CL"]}, False),
        (FeatureRule(min_upvotes=0, max_age_days=7), {"categories": ["cs.CL"], "age": 8}, False),
        (FeatureRule(min_upvotes=0), {"categories": [], "primary_category": "cs.CL", "age": 0}, True),
    ],
)
def test_feature_rule_matching(rule: FeatureRule, paper: dict, expected: bool, now: datetime) -> None:
    row = {**paper, "published_at": now - timedelta(days=paper.pop("age", 1))}
    assert matches(rule, row, now) is expected


def test_rule_features_a_paper_once_it_reaches_its_upvotes(
    settings: Settings, engine: Engine, client: TestClient
) -> None:
    settings.auto_feature_rules = [FeatureRule(category="cs.CL", min_upvotes=2)]
    now = utcnow()
    add_paper(engine, PID, published_at=now - timedelta(days=1), categories=["cs.CL"])
    add_paper(engine, "2506.05555", published_at=now - timedelta(days=1), categories=["cs.CV"])
    assert apply_rules(engine, settings, now=now) == []
    tokens = [token_for(engine, add_member(engine, f"m{i}@example.org")) for i in range(2)]
    for t in tokens:
        for pid in (PID, "2506.05555"):
            client.post(f"/api/papers/{pid}/upvote", headers={"Authorization": f"Bearer {t}"})
    day = now.date().isoformat()
    page = client.get(f"/papers/date/{day}").text
    assert PID in page and "2506.05555" not in page
    assert apply_rules(engine, settings, now=now) == []  # featured once, not again


def test_hidden_paper_cannot_be_submitted(settings: Settings, engine: Engine, now: datetime) -> None:
    from paperfeed.errors import NotFound
    from paperfeed.storage.db import write

    add_paper(engine, PID, published_at=now)
    with write(engine) as conn:
        moderation.set_paper_hidden(conn, PID, True, actor_id=None, reason="spam", now=now)
    with pytest.raises(NotFound, match="hidden by the moderators"):
        submit_paper(engine, settings, add_member(engine, "a@example.org"), PID, ip="x", now=now)


def test_submit_by_id_fetches_metadata_from_a_recorded_arxiv_response(
    settings: Settings, engine: Engine, client: TestClient
) -> None:
    from paperfeed.storage.papers import get_paper
    from tests.conftest import FIXTURES
    from tests.members_support import replay_server

    server, url = replay_server(FIXTURES / "arxiv" / "query_doc.xml")  # 2206.06921, from 2022
    try:
        settings.arxiv_api_url = url
        token = token_for(engine, add_member(engine, "ada@example.org", username="ada"))
        auth = {"Authorization": f"Bearer {token}"}
        too_old = client.post("/api/papers/submit", json={"id": "2206.06921"}, headers=auth)
        assert too_old.status_code == 400
        assert "2022-06-14" in too_old.json()["error"]
        settings.submission_max_age_days = 100_000
        r = client.post("/api/papers/submit", json={"id": "arXiv:2206.06921"}, headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["title"] == "Attainable forms of Assouad spectra"
        assert "id_list=2206.06921" in server.RequestHandlerClass.requests[-1]
        with engine.connect() as conn:
            paper = get_paper(conn, "2206.06921")
        assert paper is not None and paper["primary_category"] == "math.CA"
        listed = client.get("/api/daily_papers", params={"submitter": "ada"}).json()
        assert [i["paper"]["id"] for i in listed] == ["2206.06921"]
    finally:
        server.shutdown()


def test_submit_of_an_id_arxiv_does_not_know_is_404(
    settings: Settings, engine: Engine, client: TestClient
) -> None:
    from tests.conftest import FIXTURES
    from tests.members_support import replay_server

    server, url = replay_server(FIXTURES / "arxiv" / "query_empty.xml")
    try:
        settings.arxiv_api_url = url
        token = token_for(engine, add_member(engine, "ada@example.org"))
        r = client.post("/api/papers/submit", json={"id": "2506.99999"},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404 and "arXiv has no paper 2506.99999" in r.json()["error"]
    finally:
        server.shutdown()


@pytest.mark.parametrize("ref", ["0000.00000", "2613.00001", "2600.12345", "0612.0001"])
def test_submit_of_an_id_no_arxiv_paper_can_have_is_400_without_asking_arxiv(
    settings: Settings, engine: Engine, client: TestClient, ref: str
) -> None:
    """Month 00 or 13, or a new-style id before April 2007, names no paper: a 400 at once, not
    a lookup (offline: a 502 "arXiv could not be reached", a 5xx for a typo)."""
    settings.arxiv_api_url = "http://127.0.0.1:9/api/query"  # nobody listens: must not be asked
    settings.http_retries = 0
    token = token_for(engine, add_member(engine, "ada@example.org"))
    r = client.post("/api/papers/submit", json={"id": ref},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "not an arXiv id" in r.json()["error"], r.text
