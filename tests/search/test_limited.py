"""The posting cap on the keyword side (`search_posting_cap`), on SQLite and PostgreSQL: very
common words are left out, or only the most recently added of their matches are ranked, never an unbounded
scan; and the result says so (`limited`, a note on the page, a header on the API) while the
rare word's paper is still found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.hybrid import LIMITED_CUT, LIMITED_WORDS, SearchService
from paperfeed.storage.db import connect, migrate
from paperfeed.storage.search import SearchFilters
from paperfeed.web.api.search import LIMITED_HEADER
from paperfeed.web.app import create_app
from tests.conftest import pg_database
from tests.search.conftest import CODE_ID, HIDDEN_ID, load_catalog

COMMON = ("language", "models")  # in many of the 40 papers
RARE = "cloning"  # in ClonEval's title (and few others)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    """The 40 real papers on one engine (loaded once per module and engine)."""
    root = tmp_path_factory.mktemp(f"limited-{request.param}")
    if request.param == "sqlite":
        yield from _store(root, None)
    else:
        url = request.getfixturevalue("pg_server_url")
        with pg_database(url) as db_url:
            yield from _store(root, db_url)


def _store(root: Path, url: str | None) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(data_dir=root, environment="development", database_url=url,
                        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                        base_url="http://testserver")
    engine = connect(settings)
    migrate(engine)
    load_catalog(engine, utcnow())
    yield settings, engine
    engine.dispose()


def capped(settings: Settings, cap: int) -> Settings:
    return settings.model_copy(update={"search_posting_cap": cap})


def docs(engine: Engine, settings: Settings, *words: str) -> dict[str, int]:
    return SearchService(engine, settings).backend.term_stats(list(words)).docs


def test_keyword_mode_leaves_out_common_words_and_says_so(
    store: tuple[Settings, Engine],
) -> None:
    settings, engine = store
    df = docs(engine, settings, RARE, *COMMON)
    assert df[RARE] < min(df[w] for w in COMMON)  # the corpus is what the test assumes
    text = f"{COMMON[0]} {RARE} {COMMON[1]}"
    full = SearchService(engine, settings).search(text, mode="keyword", limit=50)
    assert not full.limited and LIMITED_WORDS not in full.notes
    cap = df[RARE]  # room for the rare word only
    result = SearchService(engine, capped(settings, cap)).search(text, mode="keyword", limit=50)
    assert result.limited and LIMITED_WORDS in result.notes
    ids = [h.paper_id for h in result.hits]
    assert ids[0] == CODE_ID  # the rare word's paper is still found, first
    assert len(ids) <= cap and len(ids) < len(full.hits)
    assert HIDDEN_ID not in ids


def test_keyword_mode_cuts_the_scan_when_even_the_rarest_word_is_common(
    store: tuple[Settings, Engine],
) -> None:
    settings, engine = store
    n = docs(engine, settings, COMMON[0])[COMMON[0]]
    everything = SearchService(engine, settings).search(COMMON[0], mode="keyword", limit=50)
    assert not everything.limited and len(everything.hits) >= 5
    result = SearchService(engine, capped(settings, 3)).search(COMMON[0], mode="keyword",
                                                               limit=50)
    assert n > 3 and result.limited and LIMITED_CUT in result.notes
    found = [h.paper_id for h in result.hits]
    assert 1 <= len(found) <= 3  # the best of the newest three matches, never more
    assert set(found) <= {h.paper_id for h in everything.hits}
    # a cap the matches fit in ranks every one of them: the same answer, not limited
    roomy = SearchService(engine, capped(settings, n + 1)).search(COMMON[0], mode="keyword",
                                                                  limit=50)
    assert not roomy.limited and roomy.hits == everything.hits


def test_quoted_phrase_and_filters_under_a_tiny_cap(store: tuple[Settings, Engine]) -> None:
    settings, engine = store
    service = SearchService(engine, capped(settings, 2))
    phrase = service.search('"voice cloning"', mode="keyword")
    assert [h.paper_id for h in phrase.hits] == [CODE_ID] and not phrase.limited
    with_code = service.search(f"{COMMON[0]} {RARE}", mode="keyword",
                               filters=SearchFilters(has_code=True))
    assert [h.paper_id for h in with_code.hits] == [CODE_ID]
    for hostile in ['"', "-the", "NEAR(", "x" * 5000, "a\x00b", "author:", "the of and a"]:
        service.search(hostile, mode="keyword")  # never raises


def test_page_notes_and_api_header_say_results_are_limited(
    store: tuple[Settings, Engine],
) -> None:
    settings, engine = store
    df = docs(engine, settings, RARE)
    app = create_app(capped(settings, df[RARE]).model_copy(
        update={"embedding_model": str(settings.data_dir / "no-model")}))  # keywords alone
    with TestClient(app) as client:
        page = client.get("/search", params={"q": f"language {RARE} models"})
        assert page.status_code == 200
        assert "Results limited: very common words were left out" in page.text
        api = client.get("/api/papers/search", params={"q": f"language {RARE} models"})
        assert api.status_code == 200 and api.headers[LIMITED_HEADER] == "true"
        body = api.json()
        assert isinstance(body, list) and body[0]["paper"]["id"] == CODE_ID
        plain = client.get("/api/papers/search", params={"q": RARE})
        assert LIMITED_HEADER not in plain.headers
        assert "Results limited" not in client.get("/search", params={"q": RARE}).text


def test_plan_sets_a_scan_limit_only_when_word_counts_do_not_bound_the_matches() -> None:
    from paperfeed.search.keyword import plan
    from paperfeed.search.query import parse
    from paperfeed.storage.search import TermStats

    stats = TermStats(papers=1_000_000, docs={"zebrafish": 40, "retina": 900,
                                              "learning": 400_000, "model": 500_000})
    fits, dropped = plan(parse("zebrafish retina"), stats, posting_cap=1_000, alone=True)
    assert fits.terms == ("zebrafish", "retina") and fits.scan_limit is None and not dropped
    some, dropped = plan(parse("learning zebrafish"), stats, posting_cap=1_000, alone=True)
    assert some.terms == ("zebrafish",) and some.scan_limit is None and dropped
    common, dropped = plan(parse("learning model"), stats, posting_cap=1_000, alone=True)
    assert common.terms and common.scan_limit == 1_000 and not dropped  # the backend says
    quoted, _ = plan(parse('"retina" zebrafish'), stats, posting_cap=1_000, alone=True)
    assert quoted.scan_limit == 1_000  # a phrase's matches are not known from word counts
    beside, dropped = plan(parse("learning model"), stats, posting_cap=1_000)
    assert beside.terms == () and beside.scan_limit is None and dropped  # hybrid: meaning alone


def test_the_scan_limit_ranks_the_same_papers_on_every_engine(
    store: tuple[Settings, Engine],
) -> None:
    """"Only the newest matches were ranked" means the most recently added matching papers on
    SQLite and PostgreSQL alike (FTS5 walks its rows in the order papers were inserted;
    PostgreSQL follows `papers.added_seq`), with the filters applied to those: not the highest
    ids, nor the newest publication dates. Added here in an order that is neither."""
    from datetime import date, datetime

    from paperfeed.storage.db import write
    from paperfeed.storage.papers import upsert_papers
    from tests.feed_factories import paper

    settings, engine = store
    order = [3, 1, 5, 0, 4, 2]  # insertion order; ids and publication dates disagree with it
    added = [paper(f"2601.9990{n}", title=f"Zeugmatic quillwort study {n}",
                   abstract="Zeugmatic quillwort.", published=datetime(2026, 1, 10 - n))
             for n in order]
    with write(engine) as conn:
        upsert_papers(conn, added[:3], now=utcnow())
    with write(engine) as conn:
        upsert_papers(conn, added[3:], now=utcnow())
    newest_three = {"2601.99900", "2601.99904", "2601.99902"}  # the last three added
    service = SearchService(engine, capped(settings, 3))
    result = service.search("zeugmatic quillwort", mode="keyword", limit=50)
    assert result.limited and {h.paper_id for h in result.hits} == newest_three
    # filters apply to the scanned papers (published on or after Jan 7: 2601.99900 and .99902)
    since = SearchFilters(date_from=date(2026, 1, 7))
    filtered = service.search("zeugmatic quillwort", mode="keyword", limit=50, filters=since)
    assert filtered.limited and {h.paper_id for h in filtered.hits} == {"2601.99900",
                                                                      "2601.99902"}
    # none of the scanned papers passes: nothing ranked, and still said to be limited
    before = SearchFilters(date_to=date(2026, 1, 5))
    empty = service.search("zeugmatic quillwort", mode="keyword", limit=50, filters=before)
    assert empty.limited and empty.hits == []
