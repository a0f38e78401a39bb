"""Search surfaces in-process: the /search page, /api/papers/search, the CLI, the fallback."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.web.app import create_app
from tests.search.conftest import CODE_ID, FEATURED_ID, HIDDEN_ID

HOSTILE = ['"', "-", "--", "NEAR(", "NEAR(a b)", "*", "a*", "^", ":", "title:", "AND OR NOT",
           "x" * 10_000, "a\x00b", "\x00", "<script>alert(1)</script>", "author:", "cat:",
           "year:abcd", "-\"", "{title}:x", "'; DROP TABLE papers; --"]


def result_ids(html: str) -> list[str]:
    return re.findall(r'<h3 class="paper-title"[^>]*><a href="/papers/([^"]+)"', html)


@pytest.fixture
def web(settings: Settings, catalog: Engine) -> TestClient:
    with TestClient(create_app(settings)) as client:
        yield client  # type: ignore[misc]


def test_search_page_lists_results_and_keeps_the_query(web: TestClient) -> None:
    r = web.get("/search", params={"q": "voice cloning benchmark"})
    assert r.status_code == 200
    assert 'value="voice cloning benchmark"' in r.text
    assert result_ids(r.text)[0] == CODE_ID
    assert "<mark>Voice</mark> <mark>Cloning</mark> <mark>Benchmark</mark>" in r.text


def test_search_page_empty_and_no_result_states(web: TestClient) -> None:
    empty = web.get("/search")
    assert empty.status_code == 200 and "Tips:" in empty.text and "paper-card" not in empty.text
    none = web.get("/search", params={"q": "qwzxv plorf"})
    assert none.status_code == 200 and "No papers match" in none.text


def test_search_page_filters_are_get_parameters(web: TestClient) -> None:
    r = web.get("/search", params={"q": "diffusion", "featured": "1"})
    assert r.text.count('class="paper-card"') == 1 and f"/papers/{FEATURED_ID}" in r.text
    assert 'name="featured" value="1" checked' in r.text
    r = web.get("/search", params={"q": "benchmark", "code": "1"})
    assert r.text.count('class="paper-card"') == 1 and f"/papers/{CODE_ID}" in r.text
    r = web.get("/search", params={"q": "benchmark", "from": "2026-06-01", "to": "2026-06-30"})
    assert "/papers/2606." in r.text and "/papers/2504." not in r.text
    assert web.get("/search", params={"q": "x", "from": "June"}).status_code == 400


def test_pasting_a_whole_abstract_finds_the_paper(web: TestClient) -> None:
    from tests.search.conftest import real_papers

    paper = next(p for p in real_papers() if p.id == "2506.23957")
    r = web.get("/search", params={"q": paper.abstract})
    assert r.status_code == 200
    assert result_ids(r.text)[0] == "2506.23957"


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_never_fail_page_or_api(web: TestClient, q: str) -> None:
    page = web.get("/search", params={"q": q})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    api = web.get("/api/papers/search", params={"q": q[:250]})
    assert api.status_code == 200 and isinstance(api.json(), list)


def test_api_search_has_hugging_face_shape(web: TestClient) -> None:
    r = web.get("/api/papers/search", params={"q": "voice cloning", "limit": 3})
    assert r.status_code == 200
    items = r.json()
    assert 1 <= len(items) <= 3
    top = items[0]
    info = web.get(f"/api/papers/{CODE_ID}").json()
    only_on_info = {"numComments", "linkedModels", "numTotalModels", "linkedDatasets",
                    "numTotalDatasets", "linkedSpaces", "numTotalSpaces"}
    assert top["paper"] == {k: v for k, v in info.items() if k not in only_on_info}
    assert top["highlightedTitle"] == (
        "ClonEval: An Open <mark>Voice</mark> <mark>Cloning</mark> Benchmark"
    )
    assert "<mark>" in top["highlightedSummary"]
    # the daily-entry shape huggingface_hub's list_papers reads its fields from
    assert top["title"] == info["title"] and top["numComments"] == info["numComments"]
    assert set(top) <= {"paper", "highlightedTitle", "highlightedSummary", "title", "summary",
                        "publishedAt", "numComments", "isAuthorParticipating", "submittedBy",
                        "thumbnail", "organization"}
    ids = [i["paper"]["id"] for i in web.get("/api/papers/search", params={"q": "zooplankton"}).json()]
    assert HIDDEN_ID not in ids


@pytest.mark.parametrize(
    ("params", "status"),
    [({"q": "x" * 250}, 200), ({"q": "x" * 251}, 400), ({"q": "a", "limit": 0}, 400),
     ({"q": "a", "limit": 121}, 400), ({"q": "a", "limit": 120}, 200), ({"q": ""}, 200)],
)
def test_api_search_limits(web: TestClient, params: dict[str, object], status: int) -> None:
    r = web.get("/api/papers/search", params=params)
    assert r.status_code == status, r.text
    if status == 400:
        assert "error" in r.json()


def test_missing_model_falls_back_to_keywords_with_a_log_line(
    tmp_path: Path, settings: Settings, catalog: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    broken = settings.model_copy(update={"embedding_model": str(tmp_path / "no-such-model")})
    with caplog.at_level(logging.WARNING, logger="paperfeed.search.hybrid"):
        with TestClient(create_app(broken)) as client:
            r1 = client.get("/api/papers/search", params={"q": "voice cloning"})
            r2 = client.get("/api/papers/search", params={"q": "diffusion"})
    assert r1.status_code == r2.status_code == 200
    assert r1.json()[0]["paper"]["id"] == CODE_ID
    warnings = [r for r in caplog.records if "semantic search unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per query


def test_cli_search_prints_results(settings: Settings, catalog: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    text = runner.invoke(cli_app, ["search", "voice cloning", "--limit", "3", "--mode", "keyword"])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].split()[1] == CODE_ID
    as_json = runner.invoke(cli_app, ["search", "NEAR( \"", "--json"])
    assert as_json.exit_code == 0
    out = runner.invoke(cli_app, ["search", "voice cloning", "--json", "--limit", "2"])
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows[0]["id"] == CODE_ID and rows[0]["rank"] == 1
