"""The search API's JSON is built from one read of its result rows (issue 11: what a search
request pays outside the engine). Whatever the read, each answer must be byte-for-byte the
JSON the general path builds: whole `papers` rows, `featured_facts` (the latest day that
was not removed, its submitter), `comment_counts` (visible comments only), `daily_entry_json`,
the highlights of `items_for` — on real queries over 40 real papers with every optional
field filled somewhere (claimed authors, organisation, keywords, a featured day removed, a
hidden and a deleted comment), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from paperfeed.config import Settings
from paperfeed.models import Author, Featured, Submitter
from paperfeed.search.hybrid import SearchHit, SearchResult
from paperfeed.search.indexing import index_papers
from paperfeed.search.query import parse
from paperfeed.storage import comments as comment_store
from paperfeed.storage import users
from paperfeed.storage.catalog import comment_counts, featured_facts
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import add_featured, upsert_papers
from paperfeed.storage.schema import featured, papers
from paperfeed.storage.search import papers_by_ids
from paperfeed.web.api.serialize import daily_entry_json
from paperfeed.web.app import create_app
from paperfeed.web.searching import CARD_COLUMNS, items_for
from tests.search.conftest import CODE_ID, FEATURED_ID, HIDDEN_ID, real_papers
from tests.search.test_search_web import HOSTILE

NOW = datetime(2026, 7, 1, 12, 0)
CLAIMED = "2506.23957"  # a featured paper whose submitter claimed an authorship
QUERIES = ["voice cloning benchmark", "video stabilization rendering", "diffusion language model", "graph neural networks",
           "large language models reasoning", "benchmark", "2504.20581",
           '"voice cloning" -diffusion', "author:Smith", "cat:cs.CL retrieval",
           "zooplankton", "qwzxv plorf"]


def _load(engine: Engine) -> None:
    """The 40 real papers, enriched: a claimed author, an organisation, keywords, stars; three
    featured papers (one with a submitter that is also an author, one featured twice with its
    first day removed); comments visible, hidden and deleted."""
    rich = []
    for p in real_papers():
        if p.id == CLAIMED:
            p = replace(p, authors=[Author("Ada Lovelace", hf_user="ada", hf_fullname="Ada L.",
                                           hf_avatar_url="https://example.org/a.png",
                                           hf_user_id="abc123", hf_is_pro=True,
                                           status="claimed_verified",
                                           status_changed_at="2026-06-30T10:00:00.000Z"),
                                    *p.authors],
                        organization={"_id": "org1", "name": "acme", "fullname": "Acme Lab",
                                      "avatar": "https://example.org/o.png"},
                        ai_summary="A summary with \"quotes\" & <tags>.",
                        ai_keywords=["speech", "clöning", "ünïcode"], github_stars=42,
                        project_page="https://example.org/p", upstream_upvotes=7)
        rich.append(p)
    with write(engine) as conn:
        upsert_papers(conn, rich, now=NOW)
        add_featured(conn, [
            Featured(FEATURED_ID, date(2026, 2, 27), submitted_at=datetime(2026, 2, 27, 4, 0),
                     source="rule"),
            Featured(CLAIMED, date(2026, 6, 29), submitted_at=datetime(2026, 6, 29, 4, 0, 0, 5),
                     submitter=Submitter("ada", fullname="Ada L.", hf_id="abc123",
                                         avatar_url="https://example.org/a.png"), source="hf"),
            Featured(CODE_ID, date(2026, 6, 28), submitted_at=datetime(2026, 6, 28, 5, 0),
                     source="member"),
            Featured(CODE_ID, date(2026, 6, 30), submitted_at=datetime(2026, 6, 30, 6, 30, 1),
                     submitter=Submitter("bob", fullname=None), source="hf"),
        ], now=NOW)
        conn.execute(update(featured).where(featured.c.paper_id == CODE_ID,
                                            featured.c.day == date(2026, 6, 28))
                     .values(removed=True))
        conn.execute(update(papers).where(papers.c.id == HIDDEN_ID).values(hidden=True))
        member = users.create_user(conn, email="c@example.org", now=NOW, username="carol")
        ids = [comment_store.add_comment(conn, paper_id=pid, user_id=member.id, body="Nice.",
                                         now=NOW)
               for pid in (CODE_ID, CODE_ID, CODE_ID, CLAIMED)]
        comment_store.set_hidden(conn, ids[1], True)
        comment_store.delete_comment(conn, ids[2])


@pytest.fixture(scope="module", params=["sqlite",
                                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Engine]]:
    """The app over the enriched catalog, on either database (one per module: the model
    embeds the 40 papers once)."""
    base = tmp_path_factory.mktemp("entries")
    settings = Settings(data_dir=base / "data", environment="development",
                        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                        base_url="http://testserver", api_cache_seconds=0)
    pg = None
    if request.param == "postgresql":
        from tests.conftest import pg_database

        pg = pg_database(request.getfixturevalue("pg_server_url"))
        settings = settings.model_copy(update={"database_url": pg.__enter__()})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    _load(engine)
    index_papers(engine, settings)
    try:
        with TestClient(create_app(settings)) as client:
            yield client, engine
    finally:
        engine.dispose()
        if pg is not None:
            pg.__exit__(None, None, None)


def expected(engine: Engine, q: str, ids: list[str]) -> list[dict[str, Any]]:
    """The answer as the general path builds it for these results, in this order."""
    result = SearchResult(query=parse(q), hits=[SearchHit(paper_id=i, score=0.0) for i in ids],
                          mode="hybrid", used="hybrid")
    with engine.connect() as conn:
        items = items_for(conn, result, source=True, comments=False)
        rows = papers_by_ids(conn, ids)
        facts, counts = featured_facts(conn, ids), comment_counts(conn, ids)
    body = []
    for item in items:
        entry = daily_entry_json(rows[item.paper_id], facts.get(item.paper_id),
                                 local_comments=counts.get(item.paper_id, 0))
        if item.highlighted_title:
            entry["highlightedTitle"] = str(item.title)
        if item.highlighted_abstract:
            entry["highlightedSummary"] = str(item.abstract)
        body.append(entry)
    return body


@pytest.mark.parametrize("params", [{"q": q} for q in QUERIES] + [
    {"q": "benchmark", "limit": "3"}, {"q": "diffusion", "featured": "1"},
    {"q": "speech", "code": "1"}, {"q": "model", "from": "2026-01-01", "cat": "cs.CL"},
    {"q": "ünïcode clöning"}, {"q": "learning", "limit": "120"},
])
def test_search_api_answer_is_the_general_paths_json_byte_for_byte(
    web: tuple[TestClient, Engine], params: dict[str, str]
) -> None:
    client, engine = web
    r = client.get("/api/papers/search", params=params)
    assert r.status_code == 200
    ids = [e["paper"]["id"] for e in r.json()]
    assert HIDDEN_ID not in ids
    assert r.content == orjson.dumps(expected(engine, params["q"], ids))


def test_search_api_entries_fill_every_field_where_the_data_has_it(
    web: tuple[TestClient, Engine]
) -> None:
    """The enriched papers come back with their featured facts, first visible day, local
    comment count and authors' claims (so a read that dropped a join or a column fails)."""
    client, _ = web
    by_id = {e["paper"]["id"]: e for q in ("voice cloning benchmark", "video stabilization")
             for e in client.get("/api/papers/search", params={"q": q}).json()}
    code, claimed = by_id[CODE_ID], by_id[CLAIMED]
    assert code["paper"]["submittedOnDailyAt"] == "2026-06-30T06:30:01.000Z"  # 06-28 removed
    assert code["submittedBy"]["user"] == "bob" and code["numComments"] == 1
    assert "thumbnail" in code and code["paper"]["githubRepo"]
    assert claimed["isAuthorParticipating"] is True and claimed["numComments"] == 1
    assert claimed["paper"]["authors"][0]["user"]["isPro"] is True
    assert claimed["organization"]["fullname"] == "Acme Lab"
    assert claimed["paper"]["ai_keywords"] == ["speech", "clöning", "ünïcode"]
    assert claimed["paper"]["githubStars"] == 42 and claimed["paper"]["upvotes"] == 7


@pytest.mark.parametrize("q", HOSTILE)
def test_search_api_hostile_queries_answer_the_general_paths_json(
    web: tuple[TestClient, Engine], q: str
) -> None:
    client, engine = web
    r = client.get("/api/papers/search", params={"q": q[:250]})
    assert r.status_code == 200
    assert r.content == orjson.dumps(expected(engine, q[:250], [e["paper"]["id"]
                                                               for e in r.json()]))


def test_card_rows_read_as_tuples_equal_sqlalchemys_rows(web: tuple[TestClient, Engine]) -> None:
    """`papers_by_ids(..., columns=)` (the search page's cards, "Similar papers") reads plain
    tuples and decodes JSON, timestamps and booleans itself on SQLite: every column of every
    visible paper must equal what SQLAlchemy's typed read returns."""
    from paperfeed.storage.search.rows import paper_rows

    _, engine = web
    names = [c.name for c in papers.columns]
    ids = [p.id for p in real_papers()]
    with engine.connect() as conn:
        typed = {pid: dict(row) for pid, row in papers_by_ids(conn, ids).items()}
        plain = paper_rows(conn, ids, names)
        cards = papers_by_ids(conn, ids, columns=CARD_COLUMNS)
    assert HIDDEN_ID not in plain and len(plain) == len(typed) == len(ids) - 1
    assert plain == typed
    assert all(type(plain[p][k]) is type(typed[p][k]) for p in plain for k in names)
    assert cards == {p: {k: typed[p][k] for k in CARD_COLUMNS} for p in typed}
    with pytest.raises(KeyError):
        paper_rows(conn, ids, ["id", "title; DROP TABLE papers"])


def test_comment_counts_are_the_visible_comments(web: tuple[TestClient, Engine]) -> None:
    """Three comments on one paper, one hidden and one deleted: one counts (the reference
    the tests above compare the API against)."""
    _, engine = web
    with engine.connect() as conn:
        counts = comment_counts(conn, [p.id for p in real_papers()])
    assert counts == {CODE_ID: 1, CLAIMED: 1}
