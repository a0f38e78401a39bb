"""Compatibility proof: the real `huggingface_hub.HfApi` client, pointed at a live paperfeed
server on loopback, lists daily papers (date, week, month, sort) and reads paper info, and what
it parses matches the real Hugging Face data we imported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from paperfeed.sources.hf_daily import import_path
from tests.conftest import FIXTURES

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError  # noqa: E402

HF = FIXTURES / "hf"
DAYS = ("2024-05-27", "2025-06-16", "2026-08-20")


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def raw(engine: Engine) -> dict[str, dict[str, Any]]:
    """Import the three real days; return the raw HF items by paper id."""
    items: dict[str, dict[str, Any]] = {}
    for day in DAYS:
        assert import_path(engine, HF / f"{day}.json").rejected == 0
        for item in json.loads((HF / f"{day}.json").read_text(encoding="utf-8")):
            items[item["paper"]["id"]] = item
    return items


@pytest.fixture
def api(live_server: str, monkeypatch: pytest.MonkeyPatch) -> HfApi:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return HfApi(endpoint=live_server, token=False)


def test_hfapi_list_daily_papers_by_date_matches_the_data(
    api: HfApi, raw: dict[str, dict[str, Any]]
) -> None:
    papers = list(api.list_daily_papers(date="2025-06-16"))
    expected = {pid for pid, x in raw.items() if x["paper"].get("submittedOnDailyAt", "").startswith("2025-06-16")}
    assert {p.id for p in papers} == expected
    for info in papers:
        src = raw[info.id]
        assert _words(info.title) == _words(src["title"])
        assert _words(info.summary) == _words(src["paper"]["summary"])
        assert info.published_at == _ts(src["paper"]["publishedAt"])
        assert (info.upvotes or 0) == src["paper"]["upvotes"]  # HfApi turns 0 into None
        assert info.comments == 0  # this site's comments (none); HF's count is shown apart
        assert [a.name for a in info.authors] == [a["name"] for a in src["paper"]["authors"]]
        claimed = [a.user.username for a in info.authors if a.user]
        assert claimed == [a["user"]["user"] for a in src["paper"]["authors"] if "user" in a]
        assert info.submitted_by is not None
        assert info.submitted_by.fullname == src["submittedBy"]["fullname"]
        assert info.submitted_by.avatar_url == src["submittedBy"]["avatarUrl"]
        assert info.isAuthorParticipating == (src["submittedBy"]["name"] in claimed)


def test_hfapi_list_daily_papers_by_week_and_month(
    api: HfApi, raw: dict[str, dict[str, Any]]
) -> None:
    week = {p.id for p in api.list_daily_papers(week="2026-W34")}
    month = {p.id for p in api.list_daily_papers(month="2026-08")}
    expected = {pid for pid, x in raw.items() if x["paper"].get("submittedOnDailyAt", "").startswith("2026-08-20")}
    assert week == month == expected
    assert len(expected) == 15
    may = {p.id for p in api.list_daily_papers(month="2024-05", limit=100)}
    assert may == {pid for pid, x in raw.items() if "submittedOnDailyAt" not in x["paper"]}
    assert list(api.list_daily_papers(week="2025-W01")) == []


def test_hfapi_list_daily_papers_sorts_and_pages(
    api: HfApi, raw: dict[str, dict[str, Any]]
) -> None:
    trending = list(api.list_daily_papers(date="2026-08-20", sort="trending"))
    by_votes = sorted(trending, key=lambda p: -(p.upvotes or 0))
    # same submission day: trending order is upvote order (ties in any order)
    assert [p.upvotes or 0 for p in trending] == [p.upvotes or 0 for p in by_votes]
    newest = list(api.list_daily_papers(date="2026-08-20", sort="publishedAt"))
    stamps = [p.published_at for p in newest]
    assert stamps == sorted(stamps, reverse=True)
    page0 = [p.id for p in api.list_daily_papers(date="2026-08-20", sort="trending", limit=5)]
    page1 = [p.id for p in api.list_daily_papers(date="2026-08-20", sort="trending", limit=5, p=1)]
    assert page0 + page1 == [p.id for p in trending][:10]
    assert list(api.list_daily_papers(date="2026-08-20", p=9)) == []


def test_hfapi_paper_info_matches_the_data(api: HfApi, raw: dict[str, dict[str, Any]]) -> None:
    src = raw["2608.17253"]  # has organization, GitHub repo, project page and stars
    info = api.paper_info("2608.17253")
    assert info.id == "2608.17253"
    assert _words(info.title) == _words(src["paper"]["title"])
    assert _words(info.summary) == _words(src["paper"]["summary"])
    assert info.published_at == _ts(src["paper"]["publishedAt"])
    assert info.submitted_at == _ts(src["paper"]["submittedOnDailyAt"])
    assert info.upvotes == src["paper"]["upvotes"]
    assert info.github_repo == src["paper"]["githubRepo"]
    assert info.project_page == src["paper"]["projectPage"]
    assert info.github_stars == src["paper"]["githubStars"]
    assert info.ai_summary == src["paper"]["ai_summary"]
    assert info.ai_keywords == src["paper"]["ai_keywords"]
    assert info.submitted_by is not None and info.submitted_by.username == src["submittedBy"]["name"]
    assert info.organization is not None
    assert info.organization.name == src["organization"]["name"]
    assert info.comments == 0  # this site's comments (none); HF's count is shown apart
    assert [a.name for a in info.authors] == [a["name"] for a in src["paper"]["authors"]]


def test_hfapi_paper_info_unknown_id_raises_404(api: HfApi, raw: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(HfHubHTTPError) as err:
        api.paper_info("2401.99999")
    assert err.value.response.status_code == 404


def test_hfapi_bad_parameter_raises_400(api: HfApi, raw: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(HfHubHTTPError) as err:
        list(api.list_daily_papers(date="2025-02-30"))
    assert err.value.response.status_code == 400


def test_hub_paginator_follows_our_link_header_through_all_papers(
    live_server: str, raw: dict[str, dict[str, Any]]
) -> None:
    from huggingface_hub.utils._pagination import paginate

    items = list(paginate(f"{live_server}/api/papers", params={"limit": 7}, headers={}))
    assert sorted(x["id"] for x in items) == sorted(raw)
    stamps = [x["publishedAt"] for x in items]
    assert stamps == sorted(stamps, reverse=True)
