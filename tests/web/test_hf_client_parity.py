"""Hugging Face parity through huggingface_hub's own client, on SQLite and on PostgreSQL.

Every paper method of `HfApi` (`list_daily_papers` with and without date/week/month,
submitter, sort, p, limit; `list_papers` with and without a query; `paper_info`;
`read_paper`) runs against a live uvicorn serving three real recorded days. The client's
`PaperInfo` parsed from *our* answer is compared with the `PaperInfo` it parses from the
*recorded huggingface.co answer* for the same paper: every attribute huggingface.co fills is
filled here too, with the same value where it is data we store (title, summary, dates, votes,
comments, authors and their accounts, submitter, organization, links, AI fields).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.sources.hf_daily import import_path
from paperfeed.sources.text import clean_text
from paperfeed.storage.db import connect, migrate
from tests.conftest import FIXTURES, pg_database
from tests.web.conftest import serve

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError  # noqa: E402
from huggingface_hub.hf_api import PaperInfo  # noqa: E402

DAYS = ("2024-05-27", "2025-06-16", "2026-08-20")
# Undeclared keys the client keeps as extra attributes that this service does not keep:
# `mediaUrl` (2024 schema, retired), `mediaUrls` (videos and images the submitter uploaded
# to huggingface.co), `githubRepoAddedBy` and `ai_summary_model` (their editorial metadata).
# Every declared PaperInfo attribute is checked, plus the extras we serve.
NOT_KEPT = {"mediaUrl", "mediaUrls", "githubRepoAddedBy", "ai_summary_model"}
# Attributes whose *value* differs by design (both sides fill them):
#  - submitted_at of a listing item: the client reads huggingface.co's top-level publishedAt
#    (a shifted arXiv time there); ours carries the paper's publication time. The daily date
#    itself is paper.submittedOnDailyAt, checked separately.
#  - discussion_id: huggingface.co's thread id; ours is the paper id (our comment thread).
#  - comments (numComments): the comments of that thread, ours (docs/api.md); the count
#    imported from huggingface.co is shown apart on the pages, as theirs.
VALUE_DIFFERS = {"submitted_at", "discussion_id", "comments"}


def _recorded() -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for day in DAYS:
        for item in json.loads((FIXTURES / "hf" / f"{day}.json").read_text(encoding="utf-8")):
            items[item["paper"]["id"]] = item
    return items


RECORDED = _recorded()


def _settings(root: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=root,
        environment="development",
        database_url=database_url,
        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
        base_url="http://testserver",
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HfApi]:
    """huggingface_hub's client pointed at a live server holding the three real days."""
    root = tmp_path_factory.mktemp(f"hub-{request.param}")
    with _database(request) as url:
        settings = _settings(root, url)
        engine = connect(settings)
        migrate(engine)
        for day in DAYS:
            assert import_path(engine, FIXTURES / "hf" / f"{day}.json").rejected == 0
        with serve(settings) as base:
            yield HfApi(endpoint=base, token=False)
        engine.dispose()


def _database(request: pytest.FixtureRequest) -> Any:
    if request.param == "sqlite":
        from contextlib import nullcontext

        return nullcontext(None)
    return pg_database(request.getfixturevalue("pg_server_url"))


def _norm(value: Any) -> Any:
    """Comparable form of a client attribute: objects as their dicts, text as the importer
    stores it (whitespace folded, TeX markup such as `\\textsc{}` unwrapped)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _norm(v) for k, v in vars(value).items()}
    return value


def _filled(value: Any) -> bool:
    return value is not None and value != [] and value != ""


# What the client parses explicitly from a user object (the rest is forward-compatibility:
# huggingface.co's follower counts and such are not kept here).
USER_FIELDS = ("username", "fullname", "avatar_url", "is_pro", "user_type")


def _user(value: Any) -> dict[str, Any]:
    return {f: getattr(value, f, None) for f in USER_FIELDS if _filled(getattr(value, f, None))}


def _same_user(mine: Any, theirs: Any, what: str, *, skip: tuple[str, ...] = ()) -> None:
    assert mine is not None, what
    for field, value in _user(theirs).items():
        if field in skip:
            assert getattr(mine, field, None) is not None, f"{what}: user .{field} empty"
            continue
        assert getattr(mine, field, None) == value, f"{what}: user .{field}"


def assert_parity(ours: PaperInfo, theirs: PaperInfo, *, what: str) -> None:
    """Every attribute the client filled from huggingface.co's answer it fills from ours, with
    the same value unless it differs by design."""
    assert ours.id == theirs.id
    what = f"{what} {theirs.id}"
    for name, value in vars(theirs).items():
        if not _filled(value) or name in NOT_KEPT or name == "paper":
            continue
        mine = getattr(ours, name, None)
        assert _filled(mine), f"{what}: .{name} is empty from us, {value!r} from HF"
        if name in VALUE_DIFFERS or name in ("authors", "submitted_by"):
            continue
        assert _norm(mine) == _norm(value), f"{what}: .{name} differs"
    if theirs.authors:
        assert ours.authors is not None and len(ours.authors) == len(theirs.authors), what
        for mine, hf in zip(ours.authors, theirs.authors, strict=True):
            assert (mine.name, mine.status, mine.status_last_changed_at, mine.hidden) == (
                hf.name, hf.status, hf.status_last_changed_at, hf.hidden
            ), f"{what}: author {hf.name}"
            if hf.user:
                _same_user(mine.user, hf.user, f"{what}: author {hf.name}")
    if theirs.submitted_by:
        # (a submitter's paid-plan flag is not kept: users here are not Hugging Face's)
        _same_user(ours.submitted_by, theirs.submitted_by, f"{what}: submitted_by", skip=("is_pro",))


def hf_listing_info(pid: str) -> PaperInfo:
    """What the client parses from huggingface.co's own listing item for the paper. (One 2024
    item's top-level title disagrees with its own paper.title, which is what we store.)"""
    item = json.loads(json.dumps(RECORDED[pid]))
    item["title"] = item["paper"]["title"]
    return PaperInfo(**item)


def hf_paper_info(pid: str) -> PaperInfo:
    """What it parses from huggingface.co's `/api/papers/{id}`: the same paper object (plus
    the entry's comment count, which paper_info also reports)."""
    body = json.loads(json.dumps(RECORDED[pid]["paper"]))
    body["numComments"] = RECORDED[pid]["numComments"]
    return PaperInfo(**body)


def _day(info: PaperInfo) -> str:
    return (getattr(info, "paper", None) or {}).get("submittedOnDailyAt", "")[:10]


def _raw_daily(hub: HfApi, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{hub.endpoint}/api/daily_papers", params=params, timeout=30)
    r.raise_for_status()
    return list(r.json())


def test_list_daily_papers_by_date_fills_every_attribute_as_huggingface(hub: HfApi) -> None:
    for day in DAYS:
        papers = list(hub.list_daily_papers(date=day))
        expected = {pid for pid, x in RECORDED.items() if _featured_day(x) == day}
        assert {p.id for p in papers} == expected and papers
        for info in papers:
            assert_parity(info, hf_listing_info(info.id), what=f"list_daily_papers({day})")


def _featured_day(item: dict[str, Any]) -> str:
    return (item["paper"].get("submittedOnDailyAt") or item["publishedAt"])[:10]


def test_list_daily_papers_without_date_pages_back_through_every_day(hub: HfApi) -> None:
    everything = list(hub.list_daily_papers(limit=100))
    assert {p.id for p in everything} == set(RECORDED)  # all three days, not only the latest
    days = [_featured_day(_raw) for _raw in _raw_daily(hub, limit=100)]
    assert days == sorted(days, reverse=True) and len(set(days)) == 3
    pages: list[str] = []
    for p in range(10):
        page = [x.id for x in hub.list_daily_papers(limit=8, p=p)]
        assert len(page) <= 8
        if not page:
            break
        pages += page
    assert pages == [x.id for x in everything]  # p pages back with no gap and no repeat
    assert list(hub.list_daily_papers(limit=5)) and len(list(hub.list_daily_papers(limit=5))) == 5
    for info in everything:
        assert_parity(info, hf_listing_info(info.id), what="list_daily_papers()")


def test_list_daily_papers_without_date_sorts_within_each_day(hub: HfApi) -> None:
    trending = _raw_daily(hub, limit=100, sort="trending")
    days = [_featured_day(x) for x in trending]
    assert days == sorted(days, reverse=True)
    for day in set(days):
        votes = [x["paper"]["upvotes"] for x in trending if _featured_day(x) == day]
        assert votes == sorted(votes, reverse=True)  # one submission day: upvote order


def test_list_daily_papers_by_week_month_submitter(hub: HfApi) -> None:
    aug = {p.id for p in hub.list_daily_papers(month="2026-08", limit=100)}
    assert aug == {p.id for p in hub.list_daily_papers(week="2026-W34", limit=100)}
    assert aug == {pid for pid, x in RECORDED.items() if _featured_day(x) == "2026-08-20"}
    for info in hub.list_daily_papers(month="2025-06", sort="trending"):
        assert_parity(info, hf_listing_info(info.id), what="list_daily_papers(month)")
    submitter = RECORDED["2608.16590"]["submittedBy"]["name"]
    mine = list(hub.list_daily_papers(submitter=submitter))
    assert mine and all(p.submitted_by and p.submitted_by.username == submitter for p in mine)
    assert {p.id for p in mine} == {
        pid for pid, x in RECORDED.items() if (x.get("submittedBy") or {}).get("name") == submitter
    }
    assert list(hub.list_daily_papers(submitter="nobody-at-all")) == []


def test_list_papers_with_a_query_fills_every_attribute_as_huggingface(hub: HfApi) -> None:
    for pid in ("2608.17253", "2506.11924", "2405.15738"):
        title = RECORDED[pid]["paper"]["title"]
        found = list(hub.list_papers(query=title, limit=5))
        assert found and found[0].id == pid
        assert_parity(found[0], hf_listing_info(pid), what="list_papers(query)")
        assert found[0].title and found[0].comments == 0  # no comments in our thread yet


def test_list_papers_without_a_query_lists_the_newest_papers(hub: HfApi) -> None:
    papers = list(hub.list_papers())
    assert len(papers) == len(RECORDED)
    stamps = [p.published_at for p in papers]
    assert all(stamps) and stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    assert [p.id for p in hub.list_papers(limit=3)] == [p.id for p in papers[:3]]
    for info in papers:
        assert_parity(info, hf_listing_info(info.id), what="list_papers()")


def test_paper_info_fills_every_attribute_as_huggingface(hub: HfApi) -> None:
    for pid in RECORDED:
        info = hub.paper_info(pid)
        assert_parity(info, hf_paper_info(pid), what="paper_info")
        src = RECORDED[pid]["paper"]
        if "submittedOnDailyAt" in src:  # paper_info's submitted_at is the daily date
            assert info.submitted_at == datetime.fromisoformat(src["submittedOnDailyAt"])
        assert info.linked_models == [] and info.num_total_models == 0
        assert info.linked_datasets == [] and info.linked_spaces == []
    with pytest.raises(HfHubHTTPError) as err:
        hub.paper_info("2401.99999")
    assert err.value.response.status_code == 404


def test_read_paper_serves_markdown_with_title_authors_links_abstract(hub: HfApi) -> None:
    src = RECORDED["2608.17253"]["paper"]
    text = hub.read_paper("2608.17253")
    assert text.startswith("# " + clean_text(src["title"]) + "\n")
    assert all(a["name"] in text for a in src["authors"])
    assert "https://arxiv.org/abs/2608.17253" in text and src["githubRepo"] in text
    assert src["projectPage"] in text
    assert "## Abstract" in text and clean_text(src["summary"])[:200] in text
    assert "**Daily papers:** 2026-08-20" in text
    r = httpx.get(f"{hub.endpoint}/papers/2608.17253.md", timeout=30)
    assert r.headers["content-type"].startswith("text/markdown")
    with pytest.raises(HfHubHTTPError) as err:
        hub.read_paper("2401.99999")
    assert err.value.response.status_code == 404
