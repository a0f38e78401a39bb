"""Hugging Face daily-papers parsing and import, on real recorded responses."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from paperfeed.errors import ParseError
from paperfeed.sources.hf_daily import import_path, parse_day_response
from paperfeed.storage.papers import get_paper
from paperfeed.storage.schema import featured, papers, users
from tests.conftest import FIXTURES, shared_data

HF = FIXTURES / "hf"


def parse(name: str):
    return parse_day_response((HF / name).read_bytes(), name=name, day=date.fromisoformat(name[:10]))


def test_2026_response_maps_paper_fields_and_submitter() -> None:
    day = parse("2026-08-20.json")
    assert not day.errors and len(day.papers) == 15
    paper = day.papers[0]
    assert paper.id == "2608.16590"
    assert paper.title.startswith("Zetta ζ: An Efficient Closed-Loop Embodied Harness")
    assert "\n" not in paper.abstract and paper.abstract.startswith("Embodied agents")
    assert paper.authors[0].name == "Xin Ding" and paper.authors[0].hf_user == "Xin64"
    assert paper.authors[1].hf_user is None
    assert paper.published_at == datetime(2026, 8, 17)
    assert paper.upstream_upvotes == 92 and paper.num_comments == 1
    assert paper.github_repo == "https://github.com/air-embodied-brain/Zetta-Embodiment"
    assert paper.project_page == "https://air-embodied-brain.github.io/zetta/"
    assert paper.github_stars == 152
    assert paper.ai_keywords and "recovery skills" in paper.ai_keywords
    feat = day.featured[0]
    assert feat.day == date(2026, 8, 20) and feat.submitted_at == datetime(2026, 8, 20)
    assert feat.submitter is not None and feat.submitter.name == "Xin64"
    assert feat.submitter.fullname == "Xin Ding" and feat.submitter.hf_id == "6632ef2cb07d501395dc5210"


def test_2024_response_without_submitted_on_daily_uses_the_file_day() -> None:
    day = parse("2024-05-27.json")
    assert not day.errors and len(day.papers) == 13
    assert all(f.day == date(2024, 5, 27) for f in day.featured)
    # the 2024 schema's item publishedAt was the time the paper was put on the list
    assert day.featured[0].submitted_at == datetime(2024, 5, 27, 3, 50, 58, 348000)
    assert all(f.submitted_at and f.submitted_at.date() == f.day for f in day.featured)
    assert day.papers[0].title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert day.papers[0].upstream_upvotes == 32 and day.papers[0].num_comments == 3


def test_python_repr_items_are_read_as_literals() -> None:
    day = parse("2024-12-18.json")
    assert not day.errors
    assert day.repr_items == len(day.papers) > 0
    assert all(p.id and p.title for p in day.papers)


def test_wrapped_response_with_status_and_data_is_unwrapped() -> None:
    day = parse_day_response((HF / "2025-01-10.json").read_bytes(), name="saved.json")
    assert day.day == date(2025, 1, 10)  # from the wrapper, not the file name
    assert len(day.papers) == 9 and day.papers[0].id == "2501.05441"


def test_bad_items_are_rejected_with_file_name_and_item_number() -> None:
    good = json.loads((HF / "2025-06-16.json").read_bytes())[0]
    data = json.dumps([good, {"paper": {"id": "not-an-id", "title": "x"}}, "{'paper': [1,"])
    day = parse_day_response(data.encode(), name="2025-06-16.json")
    assert len(day.papers) == 1
    assert len(day.errors) == 2
    assert day.errors[0].startswith("hf-daily: 2025-06-16.json: item 2:")
    assert "item 3" in day.errors[1]


def test_unreadable_file_raises_parse_error_naming_the_file() -> None:
    with pytest.raises(ParseError, match="broken.json"):
        parse_day_response(b"<html>rate limited</html>", name="broken.json")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        parse_day_response(data, name="fuzz.json", day=date(2025, 1, 1))
    except ParseError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["paper", "id", "title", "summary", "authors", "upvotes", "name", "user",
                         "submittedBy", "publishedAt", "numComments", "data", "date"]),
        children,
        max_size=5,
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises_anything_but_parse_error(value: object) -> None:
    try:
        parse_day_response(json.dumps(value).encode(), name="fuzz.json", day=date(2025, 1, 1))
    except ParseError:
        pass


def test_import_directory_twice_changes_nothing_the_second_time(engine, tmp_path: Path) -> None:
    first = import_path(engine, HF)
    assert first.new == 15 + 13 + 9 + 9 + len(parse("2024-12-18.json").papers)
    assert first.rejected == 0 and first.featured_new == first.new
    second = import_path(engine, HF)
    assert (second.new, second.updated, second.featured_new) == (0, 0, 0)
    assert second.unchanged == first.new
    with engine.connect() as conn:
        row = get_paper(conn, "2608.16590")
        assert row is not None and row["upstream_upvotes"] == 92 and row["source"] == "hf"
        assert row["authors"][0] == {
            "name": "Xin Ding", "hf_user": "Xin64", "hf_fullname": "Xin Ding",
            "hf_avatar_url": "/avatars/7cab9c60f6e18ca02e2d13ce4d09afaf.svg",
            "hf_user_id": "6632ef2cb07d501395dc5210", "hf_is_pro": False,
            "status": "claimed_verified", "status_changed_at": "2026-08-19T08:45:04.346Z",
        }
        days = conn.execute(
            select(featured.c.day, users.c.username)
            .join(users, users.c.id == featured.c.submitter_id)
            .where(featured.c.paper_id == "2608.16590")
        ).all()
        assert days == [(date(2026, 8, 20), "Xin64")]


def test_import_tar_gz_reads_members_and_reports_a_broken_member(engine, tmp_path: Path) -> None:
    archive = tmp_path / "days.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(HF / "2025-06-16.json", arcname="data/2025-06-16.json")
        broken = b"{'this is': not python"
        info = tarfile.TarInfo("data/2025-06-17.json")
        info.size = len(broken)
        tar.addfile(info, io.BytesIO(broken))
    summary = import_path(engine, archive)
    assert summary.new == 9 and summary.rejected == 1
    assert summary.errors == [
        "hf-daily: 2025-06-17.json: neither JSON nor a Python literal; file skipped"
    ]


def test_whole_shared_archive_imports_every_day(engine) -> None:
    archive = next(shared_data("hf-daily-papers").glob("*.tar.gz"))
    summary = import_path(engine, archive)
    assert summary.rejected == 0, summary.errors[:3]
    assert summary.new == 9877  # unique papers, as the data README says
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(papers)).scalar() == 9877
        assert conn.execute(select(func.count(func.distinct(featured.c.day)))).scalar() == 580
        assert conn.execute(select(func.count()).select_from(featured)).scalar() == 9881


def test_live_api_range_fetches_each_day_and_retries_a_429(settings, engine) -> None:
    import httpx
    import respx

    from paperfeed.sources.hf_daily import import_days

    settings = settings.model_copy(update={"http_backoff_seconds": 0})
    answers = {
        "2025-06-16": [httpx.Response(429, headers={"Retry-After": "0"}),
                       httpx.Response(200, content=(HF / "2025-06-16.json").read_bytes())],
        "2025-06-17": [httpx.Response(200, content=b"[]")],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return answers[request.url.params["date"]].pop(0)

    with respx.mock:
        route = respx.get("https://huggingface.co/api/daily_papers").mock(side_effect=answer)
        summary = import_days(engine, settings, date(2025, 6, 16), date(2025, 6, 17))
    assert route.call_count == 3
    assert summary.new == 9 and summary.featured_new == 9
    with engine.connect() as conn:
        days = conn.execute(select(featured.c.day).distinct()).scalars().all()
    assert days == [date(2025, 6, 16)]


def test_oversized_links_and_usernames_are_dropped_not_stored(engine) -> None:
    item = json.loads((HF / "2025-06-16.json").read_bytes())[0]
    item["paper"]["githubRepo"] = "https://github.com/" + "x" * 600
    item["paper"]["title"] = "<script>alert(1)</script> A title"
    item["submittedBy"]["name"] = "u" * 100
    item["paper"]["submittedOnDailyBy"]["user"] = "v" * 100
    day = parse_day_response(json.dumps([item]).encode(), name="2025-06-16.json")
    assert day.featured[0].submitter is None
    assert day.papers[0].title == "<script>alert(1)</script> A title"  # escaping is the page's job
    from paperfeed.models import utcnow
    from paperfeed.storage.db import write
    from paperfeed.storage.papers import upsert_papers

    with write(engine) as conn:
        upsert_papers(conn, day.papers, now=utcnow())
    with engine.connect() as conn:
        row = get_paper(conn, day.papers[0].id)
    assert row is not None and row["github_repo"] is None
    assert row["project_page"] == "https://cvlab-kaist.github.io/MoAI/"
