"""Search says "nothing" when nothing matches: no padded lists for nonsense, an arXiv id or URL
shows that paper alone, and the page says how many results there are (real model, 40 papers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.embed import Embedder
from paperfeed.search.hybrid import SearchService
from paperfeed.search.indexing import index_papers
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app
from tests.search.conftest import CODE_ID, HIDDEN_ID, MemoEmbedder, load_catalog

NONSENSE = ["xqzvbl frumious wugglesnort", "qwzxv plorf", "zzzzqqq", "asdfghjkl qwertyuiop",
            "blorptang vizzlequark snurfmonk"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    root: Path = tmp_path_factory.mktemp("honesty")
    settings = Settings(data_dir=root / "data", environment="development",
                        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                        base_url="http://testserver", page_size=10)
    settings.data_dir.mkdir(parents=True)
    engine = connect(settings)
    migrate(engine)
    load_catalog(engine, utcnow())
    index_papers(engine, settings, embedder=MemoEmbedder(Embedder.load(settings)))
    yield settings, engine
    engine.dispose()


@pytest.fixture(scope="module")
def web(indexed: tuple[Settings, Engine]) -> Iterator[TestClient]:
    with TestClient(create_app(indexed[0])) as client:
        yield client


def cards(html: str) -> list[str]:
    return re.findall(r'<h3 class="paper-title"[^>]*><a href="/papers/([^"]+)"', html)


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("text", NONSENSE)
def test_nonsense_finds_nothing_in_every_mode(
    indexed: tuple[Settings, Engine], text: str, mode: str
) -> None:
    result = SearchService(indexed[1], indexed[0]).search(text, mode=mode, limit=50)
    assert result.hits == [] and result.total == 0


def test_nonsense_page_says_so_and_api_returns_an_empty_list(web: TestClient) -> None:
    page = web.get("/search", params={"q": "xqzvbl frumious wugglesnort"})
    assert page.status_code == 200
    assert cards(page.text) == [] and "No papers match" in page.text
    assert "Next page" not in page.text
    assert web.get("/api/papers/search", params={"q": "xqzvbl frumious wugglesnort"}).json() == []


def test_a_real_question_still_finds_papers_by_meaning(indexed: tuple[Settings, Engine]) -> None:
    service = SearchService(indexed[1], indexed[0])
    text = "how good are systems that imitate someone's vocal identity"
    assert CODE_ID not in [h.paper_id for h in service.search(text, mode="keyword").hits]
    semantic = service.search(text, mode="semantic", limit=50)
    assert semantic.hits[0].paper_id == CODE_ID
    assert 1 <= len(semantic.hits) < 40  # only what is close in meaning, not the catalog


@pytest.mark.parametrize(
    "text", [CODE_ID, f"arXiv:{CODE_ID}v2", f"https://arxiv.org/abs/{CODE_ID}",
             f"https://arxiv.org/pdf/{CODE_ID}v1", f"  {CODE_ID}  "]
)
def test_an_arxiv_id_or_url_shows_that_paper_alone(
    indexed: tuple[Settings, Engine], web: TestClient, text: str
) -> None:
    result = SearchService(indexed[1], indexed[0]).search(text, limit=50)
    assert [h.paper_id for h in result.hits] == [CODE_ID] and result.hits[0].pinned
    assert result.total == 1
    page = web.get("/search", params={"q": text})
    assert cards(page.text) == [CODE_ID] and "1 result" in page.text
    api = web.get("/api/papers/search", params={"q": text}).json()
    assert [i["paper"]["id"] for i in api] == [CODE_ID]


@pytest.mark.parametrize("text", ["2401.99999", f"arXiv:{HIDDEN_ID}"])
def test_an_unknown_or_hidden_id_finds_nothing_and_says_why(
    indexed: tuple[Settings, Engine], web: TestClient, text: str
) -> None:
    result = SearchService(indexed[1], indexed[0]).search(text, limit=50)
    assert result.hits == []
    assert any("not in this catalog" in n for n in result.notes)
    page = web.get("/search", params={"q": text})
    assert cards(page.text) == [] and "not in this catalog" in page.text


def test_page_shows_how_many_results_and_pages_through_them(web: TestClient) -> None:
    page = web.get("/search", params={"q": "language models"})
    found = re.search(r'class="search-count"[^>]*>\s*([\d,]+) results?', page.text)
    assert found, page.text[:3000]
    total = int(found.group(1).replace(",", ""))
    first = cards(page.text)
    assert len(first) == 10 and total > 10
    second = cards(web.get("/search", params={"q": "language models", "p": 1}).text)
    assert second and not set(first) & set(second)
    last = (total - 1) // 10
    tail = web.get("/search", params={"q": "language models", "p": last}).text
    assert len(cards(tail)) == total - last * 10 and "Next page" not in tail
