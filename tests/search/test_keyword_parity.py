"""PostgreSQL keyword search matches what SQLite's FTS5 matches, word for word: the same papers
for the same words, phrases, exclusions and authors, and the same words marked by the
highlighter, on text PostgreSQL's default parser used to make special tokens of (hyphenated
words, emails, URLs, versions, tags, signed numbers) and on accents, Greek and CJK, which
FTS5's `unicode61 remove_diacritics 2` tokenizer folds and splits its own way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from paperfeed.config import Settings
from paperfeed.models import Author, Paper, utcnow
from paperfeed.search.backend import open_backend
from paperfeed.search.highlight import mark_results
from paperfeed.search.query import parse
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.search import KeywordRequest, SearchFilters
from paperfeed.storage.stems import stemmer_for

pytestmark = pytest.mark.postgres

# (title, abstract, authors): text with every kind of token the two tokenizers used to split
# differently
DOCS = [
    ("GPT-4 Technical Report", "We report GPT-4, a large multimodal model.", ["Ann Lee"]),
    ("GPT 4 and beyond", "A gpt 4 baseline and GPT4 variants.", ["Bo Li"]),
    ("A Q&A dataset", "Question answering (Q&A) over <tag>markup</tag> pages.", ["Cy Wu"]),
    ("C++ code generation", "We generate C++ and C# programs; see c.", ["Di Xu"]),
    ("E-mail spam filtering", "Filtering e-mail with email classifiers: write to "
     "foo@bar.com for the data.", ["Ed Ng"]),
    ("State-of-the-art results", "We reach the state of the art on three tasks.", ["Fa Yu"]),
    ("BERT's attention heads", "We probe BERT\u2019s heads and BERT s layers.", ["Gu Ma"]),
    ("BERT baselines", "BERT alone, no extras.", ["Ha Oh"]),
    ("3D reconstruction", "3D scenes from x86-64 binaries and x86 code on 64 cores.",
     ["Ia Qi"]),
    ("Release notes", "We release v2.1 at https://github.com/org/repo-name and "
     "http://x.org/a_b.html today.", ["Jo Su"]),
    ("Caf\u00e9 au lait", "Na\u00efve Bayes in Z\u00fcrich; \u0395\u03bb\u03bb\u03b7\u03bd"
     "\u03b9\u03ba\u03ac and \u0395\u039b\u039b\u0397\u039d\u0399\u039a\u0386 text.",
     ["Jos\u00e9 M\u00fcller"]),
    ("\u4e2d\u6587\u6a21\u578b evaluation", "\u5927\u89c4\u6a21\u8bed\u8a00\u6a21\u578b for "
     "Chinese.", ["Ka Ro"]),
    ("Is it as good as it seems?", "Us vs them; IS and OS and ms timings.", ["La Sa"]),
    ("Multi-task learning", "multi task transfer, multitask too.", ["Mo Te"]),
    ("1.5B parameters", "1e10 steps, a 2.5x speedup, -4 dB and 4dB.", ["Na Ut"]),
    ("\u00c5ngstr\u00f6m-scale imaging", "Solving the Schr\u00f6dinger equation.",
     ["Ole Vik"]),
    ("Cafe culture", "Naive readers of the cafes.", ["Pi Wo"]),
    ("Computing machinery and intelligence", "Can machines think? An imitation game.",
     ["Alan Turing", "Grace Hopper"]),
]
IDS = [f"2601.{n:05d}" for n in range(1, len(DOCS) + 1)]

QUERIES = [
    "GPT-4", "gpt4", "gpt", "q&a", "<tag>", "tag", "markup", "C++", "c", "c#", "e-mail", "email",
    "mail", "state-of-the-art", "state of the art", "BERT's", "BERT\u2019s", "bert", "3D",
    "x86-64", "x86", "64", "v2.1", "https://github.com/org/repo-name", "github.com",
    "repo-name", "a_b", "cafe", "caf\u00e9", "naive", "zurich", "Z\u00fcrich",
    "\u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac", "\u0395\u039b\u039b\u0397\u039d\u0399"
    "\u039a\u0386", "\u4e2d\u6587\u6a21\u578b", "as", "vs", "is", "us", "os", "ms",
    "multi-task", "multitask", "1.5b", "1e10", "2.5x", "-4", "4db", "angstrom",
    "schrodinger", "Schr\u00f6dinger", "foo@bar.com", "bar.com", "generating", "probes",
]
AUTHORS = ["Jose Muller", "Jos\u00e9 M\u00fcller", "Ann Lee", "lee", "wu"]


def _papers(now: datetime) -> list[Paper]:
    return [Paper(id=pid, title=title, abstract=abstract,
                  authors=[Author(name=a) for a in authors], categories=["cs.CL"],
                  primary_category="cs.CL", published_at=now, source="test")
            for pid, (title, abstract, authors) in zip(IDS, DOCS, strict=True)]


@pytest.fixture(scope="module")
def engines(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[dict[str, tuple[Settings, Engine]]]:
    root: Path = tmp_path_factory.mktemp("parity")
    name = f"parity_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    out: dict[str, tuple[Settings, Engine]] = {}
    now = utcnow()
    for kind, extra in (("sqlite", {}), ("postgresql", {"database_url": url,
                                                         "vector_backend": "files"})):
        settings = Settings(data_dir=root / kind, environment="development",  # type: ignore[arg-type]
                            secret_key="test-secret-key-for-paperfeed-tests", **extra)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = connect(settings)
        migrate(engine)
        with write(engine) as conn:
            upsert_papers(conn, _papers(now), now=now)
        out[kind] = (settings, engine)
    yield out
    for _, engine in out.values():
        engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _matches(pair: tuple[Settings, Engine], request: KeywordRequest) -> list[str]:
    hits = open_backend(*pair).keyword(request, SearchFilters(), limit=100)
    return sorted(h.paper_id for h in hits)


def _requests() -> list[tuple[str, KeywordRequest]]:
    out = []
    for q in QUERIES:
        out.append((f"word {q!r}", KeywordRequest(terms=(q.lower(),))))
        out.append((f"phrase {q!r}", KeywordRequest(phrases=(q,))))
        out.append((f"bert but not {q!r}",
                    KeywordRequest(terms=("bert", "gpt", "we"), excluded=(q,))))
    for a in AUTHORS:
        out.append((f"author {a!r}", KeywordRequest(authors=(a,))))
    out.append(("phrase across a hyphen", KeywordRequest(phrases=("gpt 4 baseline",))))
    out.append(("all of two", KeywordRequest(terms=("e-mail", "filtering"), require_all=True)))
    return out


def test_both_engines_match_the_same_papers(
    engines: dict[str, tuple[Settings, Engine]],
) -> None:
    differ = []
    for label, request in _requests():
        lite, pg = _matches(engines["sqlite"], request), _matches(engines["postgresql"], request)
        if lite != pg:
            differ.append(f"{label}: sqlite {lite} postgresql {pg}")
    assert not differ, "\n".join(differ)


def test_the_words_people_type_find_what_they_name(
    engines: dict[str, tuple[Settings, Engine]],
) -> None:
    """Not only alike: right (on both engines)."""
    for kind in ("sqlite", "postgresql"):
        def found(q: str, kind: str = kind) -> list[str]:
            return _matches(engines[kind], KeywordRequest(terms=(q.lower(),)))

        assert found("GPT-4") == [IDS[0], IDS[1]], kind  # "GPT 4" too, as a phrase
        assert found("state-of-the-art") == [IDS[5]], kind
        assert found("BERT's") == [IDS[6]], kind  # "BERT alone" has no "s" after it
        assert found("e-mail") == [IDS[4]], kind
        assert found("cafe") == [IDS[10], IDS[16]], kind  # accent folded, plural stemmed
        assert found("vs") == [IDS[12]], kind
        assert found("as") == [IDS[12]], kind  # not every paper with an "a"


def test_the_highlighter_marks_the_same_words_on_both_engines(
    engines: dict[str, tuple[Settings, Engine]],
) -> None:
    texts = [(title, abstract) for title, abstract, _ in DOCS]
    differ = []
    for q in QUERIES:
        marked = {kind: mark_results(parse(q), stemmer_for(engine), texts, width=10_000)
                  for kind, (_, engine) in engines.items()}
        if marked["sqlite"] != marked["postgresql"]:
            for lite, pg in zip(marked["sqlite"], marked["postgresql"], strict=True):
                if lite != pg:
                    differ.append(f"{q!r}: sqlite {lite[:2]} postgresql {pg[:2]}")
    assert not differ, "\n".join(differ)


def test_suggestions_find_the_same_papers_on_both_engines(
    engines: dict[str, tuple[Settings, Engine]],
) -> None:
    from paperfeed.storage.suggest import candidates, words_of

    differ = []
    for typed in ["gpt", "GPT-4 tech", "cafe", "caf\u00e9 au", "is it", "as go", "state of the",
                  "multi-ta", "ang", "\u4e2d\u6587", "x86", "e-mail sp"]:
        for field in ("title", "authors"):
            found = {}
            for kind, (_, engine) in engines.items():
                with engine.connect() as conn:
                    found[kind] = sorted(r["id"] for r in candidates(
                        conn, words_of(typed), field=field))
            if found["sqlite"] != found["postgresql"]:
                differ.append(f"{typed!r} ({field}): {found}")
    assert not differ, "\n".join(differ)


def test_a_name_typed_into_its_stemmed_ending_is_suggested_on_both_engines(
    engines: dict[str, tuple[Settings, Engine]],
) -> None:
    """The index stems names ("Turing" is stored "ture"): "Turi", a prefix of the name but not
    of its stem, must still suggest Alan Turing, on SQLite as on PostgreSQL."""
    from paperfeed.storage.suggest import candidates, words_of

    for typed in ["Turi", "turin", "Alan Turi", "Turing", "Hopp", "Grace Hoppe"]:
        for kind, (_, engine) in engines.items():
            with engine.connect() as conn:
                found = [r["id"] for r in candidates(conn, words_of(typed), field="authors")]
            assert found == [IDS[-1]], (typed, kind, found)
        with engines["sqlite"][1].connect() as conn:
            assert candidates(conn, words_of("Turk"), field="authors") == [], typed
