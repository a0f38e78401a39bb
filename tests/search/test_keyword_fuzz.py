"""Any text typed into the search box runs the whole keyword side (parse, word choice, word
pairs, filters, exclusions, the engine's compiled query) without an error on every engine:
FTS5 MATCH on SQLite, a tsquery over the weighted tsvector on PostgreSQL, where a stray
operator or an empty lexeme is a syntax error (property-based, on the 40 real papers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.hybrid import SearchService
from paperfeed.storage.db import connect, migrate
from tests.conftest import pg_database
from tests.search.conftest import load_catalog

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SYNTAX = st.sampled_from([
    '"', "'", "-", "+", "(", ")", "*", "^", ":", "&", "|", "!", "<->", "<1>", "\\", "NEAR(",
    " AND ", " OR ", " NOT ", "author:", "cat:", "year:", "year:2020-", "..", "{", "}", "[",
    "]", "~", "@", "#", "$", "%", "_", ",", ";", "\x00", "\x01", "\u0301", "\u200b", "\ufeff",
    " ", "  ", "a", "the", "of", "voice", "cloning", "diffusion", "model", "2504.20581",
    "ß", "İ", "日本", "😀", "é", "x-y", "x_y", "3d", "o'brien", "l'eau",
])
TEXTS = st.one_of(
    st.lists(st.one_of(SYNTAX, st.text(max_size=5)), max_size=30).map("".join),
    st.text(max_size=80),
)
PREVIOUSLY_BROKEN = ['"', "-", "'", "!", "&", "|", ":*", "a:*", "'a'", "<->", "a <-> b",
                     "-voice -cloning", "voice -", '"voice" -"cloning"', "o'brien's model",
                     "\\", "author:\\", "cat:'", '"\'"', "x & | y", "!!", "'&'"]


@pytest.fixture(scope="module", params=ENGINES)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[SearchService]:
    root: Path = tmp_path_factory.mktemp("kwfuzz")
    database: AbstractContextManager[str | None] = (
        pg_database(request.getfixturevalue("pg_server_url"))
        if request.param == "postgres" else nullcontext(None))
    with database as url:
        site = Settings(data_dir=root / "data", environment="development", database_url=url)
        site.data_dir.mkdir(parents=True)
        engine: Engine = connect(site)
        migrate(engine)
        load_catalog(engine, utcnow())
        yield SearchService(engine)  # keywords only: no model needed
        engine.dispose()


def _search_every_way(service: SearchService, text: str) -> None:
    for limit in (1, 20):
        service.search(text, mode="keyword", limit=limit)
    service.search(text + " voice", mode="keyword")  # beside a word that matches


@pytest.mark.parametrize("text", PREVIOUSLY_BROKEN)
def test_operator_characters_are_only_words_on_every_engine(
    service: SearchService, text: str
) -> None:
    _search_every_way(service, text)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXTS)
def test_any_text_runs_the_keyword_side_on_every_engine(service: SearchService, text: str) -> None:
    _search_every_way(service, text)
