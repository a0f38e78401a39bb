"""The query parser and what the SQLite backend compiles it to: syntax, safety of the FTS5
MATCH text (property-based, on real FTS5)."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.search.keyword import KeywordParams, constraints, plan
from paperfeed.search.query import MAX_MATCH_TERMS, MAX_QUERY_CHARS, Query, keyword_terms, parse
from paperfeed.storage.search import fts5


def fts_match(q: Query, *, operator: str = "OR") -> str | None:
    """The MATCH expression the SQLite backend runs for a parsed query (no word pruning)."""
    return fts5.compile_match(plan(q, None, KeywordParams(operator=operator))[0])


def exclusion_match(q: Query) -> str | None:
    return fts5.exclusion_match(constraints(q))

HOSTILE = [
    '"', '""', '"""', "-", "--", "-\"", "NEAR(", "NEAR(a b, 2)", "*", "a*", "^title", ":",
    "title:", "title:x", "AND", "OR NOT", "a AND OR b", "(", ")", "((a)", "{title}: x",
    "\x00", "a\x00b", "\u200b", "'; DROP TABLE papers; --", "x" * 10_000, "a " * 5000,
    "\ud800" if False else "\ufffd", "-\"unbalanced phrase", "author:", "cat:", "year:abcd",
    "year:..", "😀 emoji", "ß Straße", "+", "a + b", "col:val:more", '"a" -"b', "NOT a",
]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE papers_fts USING fts5(paper_id UNINDEXED, title, authors, "
        "abstract, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "INSERT INTO papers_fts VALUES ('1', 'Attention is all you need', "
        "'Ashish Vaswani; Noam Shazeer', 'The dominant sequence transduction models')"
    )
    return conn


def run(conn: sqlite3.Connection, expr: str | None) -> list[str]:
    if expr is None:
        return []
    return [r[0] for r in conn.execute(
        "SELECT paper_id FROM papers_fts WHERE papers_fts MATCH ?", (expr,)
    )]


def test_parse_splits_words_phrases_exclusions_and_fields() -> None:
    q = parse('graph "neural network" -survey -"large language" author:"Yann LeCun" '
              "cat:cs.LG year:2020..2023 transformers")
    assert q.words == ("graph", "transformers")
    assert q.phrases == ("neural network",)
    assert q.excluded == ("survey", "large language")
    assert q.authors == ("Yann LeCun",)
    assert q.categories == ("cs.LG",)
    assert (q.year_from, q.year_to) == (2020, 2023)


@pytest.mark.parametrize(
    ("text", "years"),
    [("year:2024", (2024, 2024)), ("after:2021", (2021, None)), ("before:2019", (None, 2019)),
     ("year:2023..2020", (2020, 2023)), ("year:..2022", (None, 2022)), ("year:20", (None, None))],
)
def test_parse_year_filters(text: str, years: tuple[int | None, int | None]) -> None:
    q = parse(text)
    assert (q.year_from, q.year_to) == years


@pytest.mark.parametrize("text", ["diffusion -cat:cs.CV", "diffusion -author:Smith",
                                  "diffusion -year:2020", "diffusion -category:cs.LG",
                                  'diffusion -author:"Yann LeCun"', "diffusion -since:2021"])
def test_a_negated_filter_is_ignored_with_a_note_not_turned_into_excluded_words(text: str) -> None:
    """`-cat:cs.CV` excluded every paper holding the word "cat" (and "cs.CV"): filters
    cannot be negated, so it is dropped and the page says so."""
    q = parse(text)
    assert q.words == ("diffusion",) and q.excluded == ()
    assert q.categories == () and q.authors == () and q.year_from is None
    assert any("cannot be excluded" in note for note in q.notes), q.notes


def test_unknown_field_is_plain_words() -> None:
    q = parse("title:attention foo")
    assert q.words == ("title", "attention", "foo")
    assert q.categories == () and q.authors == ()


def test_fts_operators_typed_by_users_are_only_words(fts: sqlite3.Connection) -> None:
    expr = fts_match(parse("NEAR(attention dominant) OR x*"))
    assert expr is not None
    assert "NEAR(" not in expr.replace('"near("', "")
    assert run(fts, expr) == ["1"]  # "attention" matched as a plain word


def test_match_semantics_phrase_author_and_exclusion(fts: sqlite3.Connection) -> None:
    assert run(fts, fts_match(parse('"all you need"'))) == ["1"]
    assert run(fts, fts_match(parse('"need all you"'))) == []
    assert run(fts, fts_match(parse("author:vaswani attention"))) == ["1"]
    assert run(fts, fts_match(parse("author:hinton attention"))) == []
    assert run(fts, fts_match(parse("attention -sequence"))) == []
    assert run(fts, exclusion_match(parse("-dominant"))) == ["1"]


def test_and_operator_requires_every_word(fts: sqlite3.Connection) -> None:
    assert run(fts, fts_match(parse("attention banana"), operator="OR")) == ["1"]
    assert run(fts, fts_match(parse("attention banana"), operator="AND")) == []


def test_stopwords_dropped_unless_nothing_else_is_left() -> None:
    assert keyword_terms(parse("the attention of the model")) == ["attention", "model"]
    assert keyword_terms(parse("the of")) == ["the", "of"]


def test_long_query_is_cut() -> None:
    q = parse("word " * 10_000)
    assert len(q.raw) <= MAX_QUERY_CHARS
    many = parse(" ".join(f"w{i}" for i in range(500)))
    assert len(keyword_terms(many)) == MAX_MATCH_TERMS


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_parse_and_match_without_error(fts: sqlite3.Connection, text: str) -> None:
    q = parse(text)
    run(fts, fts_match(q))
    run(fts, fts_match(q, operator="AND"))
    run(fts, exclusion_match(q))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_parses_and_fts5_accepts_the_match(fts: sqlite3.Connection, text: str) -> None:
    q = parse(text)
    run(fts, fts_match(q))
    run(fts, fts_match(q, operator="AND"))
    run(fts, exclusion_match(q))


SYNTAX = st.sampled_from(['"', "-", "(", ")", "*", "^", ":", "NEAR(", " AND ", " OR ", " NOT ",
                          "author:", "cat:", "year:", "..", "\x00", "{", "}", "+", " "])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(SYNTAX, st.text(max_size=6)), max_size=40).map("".join))
def test_syntax_heavy_text_parses_and_fts5_accepts_the_match(
    fts: sqlite3.Connection, text: str
) -> None:
    q = parse(text)
    run(fts, fts_match(q))
    run(fts, exclusion_match(q))


def test_term_counts_count_repeats_and_drop_request_words_of_long_questions_only() -> None:
    from paperfeed.search.query import keyword_term_counts

    long = parse("Find papers that discuss graph neural networks for molecule property "
                 "prediction, where graph structure and molecule size vary")
    counts = keyword_term_counts(long, drop_requests=True)
    assert counts["graph"] == 2 and counts["molecule"] == 2
    assert "papers" not in counts and "find" not in counts and "discuss" not in counts
    assert "papers" in keyword_term_counts(long)  # off by default
    short = keyword_term_counts(parse("papers with code"), drop_requests=True)
    assert list(short) == ["papers", "code"]  # a short query means what it says
    assert keyword_terms(long) == list(keyword_term_counts(long))
