"""`/api/papers/{id}` and `/api/papers`: HF shape, 404s, old-style ids, cursor pagination."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.models import Author, Featured, Paper, Submitter
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, upsert_papers
from paperfeed.web.api.schemas import PaperBody, PaperInfoBody

NOW = datetime(2025, 6, 16, 12, 0, 0)


def _paper(pid: str, published: datetime | None, **kw: object) -> Paper:
    return Paper(
        id=pid,
        title=f"Title of {pid}",
        abstract=f"Abstract of {pid}",
        authors=[Author("Ada Lovelace", hf_user="ada"), Author("Alan Turing")],
        published_at=published,
        source="test",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def catalog(engine: Engine) -> list[Paper]:
    base = datetime(2025, 6, 1, 10, 0, 0)
    records = [_paper(f"2506.{i:05d}", base + timedelta(hours=i // 2)) for i in range(1, 8)]
    records.append(_paper("hep-th/9901001", datetime(1999, 1, 4)))
    records.append(_paper("2506.99999", None))
    records[0].github_repo = "https://github.com/example/repo"
    records[0].upstream_upvotes = 7
    records[0].num_comments = 2
    records[0].ai_keywords = ["graphs", "trees"]
    with write(engine) as conn:
        upsert_papers(conn, records, now=NOW)
        add_featured(
            conn,
            [
                Featured(
                    "2506.00001",
                    date(2025, 6, 2),
                    submitted_at=datetime(2025, 6, 2, 4, 13, 42, 201000),
                    submitter=Submitter("bracio", fullname="Bracio", avatar_url="/a.svg"),
                    source="hf",
                )
            ],
            now=NOW,
        )
    return records


def test_paper_info_has_the_hugging_face_shape(client: TestClient, catalog: list[Paper]) -> None:
    r = client.get("/api/papers/2506.00001")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    PaperInfoBody.model_validate(body)
    assert body["id"] == "2506.00001"
    assert body["title"] == "Title of 2506.00001" and body["summary"] == "Abstract of 2506.00001"
    assert body["publishedAt"] == "2025-06-01T10:00:00.000Z"
    assert body["submittedOnDailyAt"] == "2025-06-02T04:13:42.201Z"
    assert body["submittedOnDailyBy"]["user"] == "bracio"
    assert body["submittedOnDailyBy"]["fullname"] == "Bracio"
    assert body["upvotes"] == 7
    assert body["numComments"] == 0  # this site's comments; the 2 imported are HF's (docs/api.md)
    assert body["githubRepo"] == "https://github.com/example/repo"
    assert body["ai_keywords"] == ["graphs", "trees"]
    assert [a["name"] for a in body["authors"]] == ["Ada Lovelace", "Alan Turing"]
    assert body["authors"][0]["user"]["user"] == "ada" and "user" not in body["authors"][1]
    assert "projectPage" not in body  # unknown optional fields are omitted, as on HF


def test_paper_info_of_a_paper_featured_twice_names_the_latest_submitter(
    client: TestClient, catalog: list[Paper], engine: Engine
) -> None:
    """Hugging Face re-features papers (2604.07429: taesiri on 2026-04-10, yyyang on
    2026-04-16 in the recorded archive) and its paper info then names the later submission."""
    with write(engine) as conn:
        add_featured(conn, [Featured(
            "2506.00001", date(2025, 6, 9), submitted_at=datetime(2025, 6, 9, 1, 2, 3),
            submitter=Submitter("later", fullname="Later Submitter"), source="hf",
        )], now=NOW)
    body = client.get("/api/papers/2506.00001").json()
    assert body["submittedOnDailyBy"]["user"] == "later"
    assert body["submittedOnDailyAt"] == "2025-06-09T01:02:03.000Z"
    listed = client.get("/api/papers", params={"limit": 100}).json()
    (entry,) = [p for p in listed if p["id"] == "2506.00001"]
    assert entry["submittedOnDailyBy"]["user"] == "later"


def test_paper_info_of_unfeatured_paper_omits_daily_fields(
    client: TestClient, catalog: list[Paper]
) -> None:
    body = client.get("/api/papers/2506.00002").json()
    assert "submittedOnDailyAt" not in body and "submittedOnDailyBy" not in body


@pytest.mark.parametrize("ref", ["2506.00003v2", "arXiv:2506.00003", "2506.00003"])
def test_paper_info_accepts_versions_and_prefixes(
    client: TestClient, catalog: list[Paper], ref: str
) -> None:
    assert client.get(f"/api/papers/{ref}").json()["id"] == "2506.00003"


def test_paper_info_accepts_old_style_id_with_slash(
    client: TestClient, catalog: list[Paper]
) -> None:
    r = client.get("/api/papers/hep-th/9901001")
    assert r.status_code == 200 and r.json()["id"] == "hep-th/9901001"


@pytest.mark.parametrize("ref", ["2401.99999", "not-an-id", "hep-th/0000001", "<script>"])
def test_paper_info_unknown_id_is_json_404(
    client: TestClient, catalog: list[Paper], ref: str
) -> None:
    r = client.get(f"/api/papers/{ref}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "error" in r.json()


def test_papers_list_walks_every_paper_newest_first_by_cursor(
    client: TestClient, catalog: list[Paper]
) -> None:
    seen: list[str] = []
    url: str | None = "/api/papers?limit=3"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        for item in r.json():
            PaperBody.model_validate(item)
        seen += [item["id"] for item in r.json()]
        link = r.headers.get("link")
        url = link.split(";")[0].strip("<>") if link else None
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == len(catalog)
    # newest first; same timestamps by id descending; undated last
    assert seen[:3] == ["2506.00007", "2506.00006", "2506.00005"]
    assert seen[-2:] == ["hep-th/9901001", "2506.99999"]


def test_papers_list_default_limit_returns_all_small_catalog_without_link(
    client: TestClient, catalog: list[Paper]
) -> None:
    r = client.get("/api/papers")
    assert len(r.json()) == len(catalog) and "link" not in r.headers


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "cursor=%%%", "cursor=WzEsMl0"]
)
def test_papers_list_bad_parameters_are_400_json(
    client: TestClient, catalog: list[Paper], query: str
) -> None:
    r = client.get(f"/api/papers?{query}")
    assert r.status_code == 400 and "error" in r.json()


def test_openapi_documents_the_paper_shapes(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/papers/{paper_id}" in spec["paths"]
    props = spec["components"]["schemas"]["PaperBody"]["properties"]
    assert {"id", "authors", "publishedAt", "summary", "upvotes"} <= set(props)
    assert client.get("/api/docs").status_code == 200


def test_hidden_paper_disappears_from_every_api_answer(
    client: TestClient, engine: Engine, catalog: list[Paper]
) -> None:
    from paperfeed.storage.moderation import set_paper_hidden

    with write(engine) as conn:
        set_paper_hidden(conn, "2506.00001", True, actor_id=None, reason="spam", now=NOW)
    assert client.get("/api/papers/2506.00001").status_code == 404
    assert "2506.00001" not in [x["id"] for x in client.get("/api/papers?limit=100").json()]
    day = client.get("/api/daily_papers", params={"date": "2025-06-02"})
    assert day.status_code == 200 and day.json() == []
