"""Highlighting marks exactly the words the keyword index matches (checked against SQLite FTS5's
own highlight() and PostgreSQL's ts_headline on real abstracts), stems included, and escapes."""

from __future__ import annotations

import html
import json
import random
import re
import sqlite3
import unicodedata

from sqlalchemy import create_engine, text

from paperfeed.search.highlight import Highlighter, highlighter, query_words
from paperfeed.search.query import STOPWORDS, parse
from paperfeed.storage.stems import fts5_porter, stemmer_for
from tests.conftest import FIXTURES

_WORD = re.compile(r"[^\W_]+")
_MARKED = re.compile(r"<mark>(.*?)</mark>", re.S)


def _abstracts() -> list[str]:
    lines = (FIXTURES / "search" / "arxiv_cs_40.jsonl").read_text("utf-8").splitlines()
    return [" ".join(json.loads(line)["abstract"].split()) for line in lines]


def _query_words(abstract: str, rng: random.Random) -> list[str]:
    words = [w for w in _WORD.findall(abstract)
             if w.lower() not in STOPWORDS and len(w) > 3 and w.isalpha()]
    return rng.sample(sorted(set(words)), min(4, len(set(words))))


def _marked_words(marked_html: str) -> list[str]:
    return [w.lower() for span in _MARKED.findall(marked_html)
            for w in _WORD.findall(html.unescape(span))]


def test_marks_exactly_what_fts5_matches_on_real_abstracts() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, "
               "tokenize = 'porter unicode61 remove_diacritics 2')")
    rng = random.Random(11)
    checked = 0
    for abstract in _abstracts():
        words = _query_words(abstract, rng)
        db.execute("DELETE FROM t")
        db.execute("INSERT INTO t(x) VALUES (?)", (abstract,))
        match = " OR ".join(f'"{w}"' for w in words)
        (truth,) = db.execute(
            "SELECT highlight(t, 0, '<mark>', '</mark>') FROM t WHERE t MATCH ?", (match,)
        ).fetchone()
        ours = highlighter(parse(" ".join(words)), fts5_porter).mark(abstract)
        assert _marked_words(ours) == _marked_words(truth), words
        assert html.unescape(re.sub("</?mark>", "", str(ours))) == abstract
        checked += 1
    assert checked == 40


def _unaccented(words: list[str]) -> list[str]:
    return ["".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
            for w in words]


def test_marks_what_postgresql_matches(pg_index_url: str) -> None:
    engine = create_engine(pg_index_url)
    rng = random.Random(5)
    try:
        with engine.connect() as conn:
            for abstract in _abstracts()[:15]:
                # PostgreSQL's parser splits hyphenated words and keeps URLs whole; compare on
                # plain words only, as people type them.
                plain = re.sub(r"\S*[-/@.:]\S*", " ", abstract)
                plain = " ".join(plain.split())
                words = _query_words(plain, rng)
                # the index's text: words split, case and accents folded (migration 0017)
                truth = conn.execute(
                    text("SELECT ts_headline('paperfeed', paperfeed_fts_text(:t), "
                         "plainto_tsquery('paperfeed', paperfeed_fts_text(:q)), "
                         "'StartSel=<mark>, StopSel=</mark>, HighlightAll=true')"),
                    {"t": plain, "q": " ".join(words)},
                ).scalar_one()
                ours = highlighter(parse(" ".join(words)), stemmer_for(engine)).mark(plain)
                assert _unaccented(_marked_words(ours)) == _marked_words(
                    html.unescape(truth)), words
    finally:
        engine.dispose()


def test_stems_match_other_forms_of_a_word() -> None:
    marks = highlighter(parse("network studies"), fts5_porter)
    out = str(marks.mark("Networks of networked NETWORK; a study that studied, networking."))
    assert _marked_words(out) == ["networks", "networked", "network", "study", "studied",
                                  "networking"]


def test_postgresql_stems_come_from_its_own_dictionary(pg_index_url: str) -> None:
    engine = create_engine(pg_index_url)
    try:
        stem = stemmer_for(engine)
        assert stem is stemmer_for(engine)  # one object per database: caches key on it
        words = ["Networks", "adding", "the", "as", "Zürich", "GPT-4", "generously"]
        assert stem(words) == ["network", "ad", "the", "as", "zurich", "gpt", "gener"]
        assert stem(words) == fts5_porter(words)  # the same stems as SQLite's index
        out = str(highlighter(parse("adding networks"), stem).mark("Adding a network; adds"))
        assert _marked_words(out) == ["adding", "network"]
    finally:
        engine.dispose()


def test_accented_words_match_unaccented_queries() -> None:
    marks = highlighter(parse("schrodinger equation"), fts5_porter)
    out = str(marks.mark("The Schrödinger equations of café physics"))
    assert "<mark>Schrödinger</mark> <mark>equations</mark>" in out


def test_text_is_escaped_and_marks_survive() -> None:
    marks = highlighter(parse('attention "<b>" & co'), fts5_porter)
    out = str(marks.mark('<script>alert("x")</script> Attention & <b>attentive</b> heads'))
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out and "&#34;x&#34;" in out
    assert "<mark>Attention</mark>" in out and "&lt;<mark>b</mark>&gt;" not in out
    snippet, found = marks.snippet("<i>attention</i> " + "filler text " * 60)
    assert found and "<i>" not in str(snippet) and "<mark>attention</mark>" in str(snippet)


def test_hostile_query_words_are_literal_text() -> None:
    for q in ['a.*b', "(((", "[x]", "\\d+", "mark>", '"unclosed', "-neg AND OR NOT", "é̃"]:
        marks = highlighter(parse(q), fts5_porter)
        out = str(marks.mark("plain text with d+ and [x] inside (((" ))
        assert "<mark>" not in out or "x" in out  # nothing breaks; literal words only


def test_snippet_centres_on_the_densest_matches() -> None:
    head = "unrelated words " * 40
    tail = " more unrelated words" * 40
    body = head + "graph neural graph networks on graphs" + tail
    snippet, found = highlighter(parse("graph"), fts5_porter).snippet(body, width=120)
    assert found
    assert str(snippet).startswith("…") and str(snippet).endswith("…")
    assert str(snippet).count("<mark>") == 3
    short, found_short = highlighter(parse("zebra"), fts5_porter).snippet("short text")
    assert str(short) == "short text" and not found_short


def test_stopwords_and_empty_queries_mark_nothing() -> None:
    assert query_words(parse("the of and a")) == []
    marks = highlighter(parse("the of"), fts5_porter)
    assert not marks
    assert str(marks.mark("the cat of the year")) == "the cat of the year"
    assert not Highlighter([], fts5_porter)


def test_stem_cache_stays_within_its_bound() -> None:
    """Each web worker keeps its own word -> stem memo: it drops its least recently used words
    rather than grow past its bound, and answers the same stems after."""
    from paperfeed.search.highlight import _stem_cache, stems_of

    calls: list[int] = []

    def stem(words: list[str]) -> list[str]:
        calls.append(len(words))
        return [w.rstrip("s") for w in words]

    cache = _stem_cache(stem, max_entries=100)
    for k in range(10):
        words = [f"word{k}x{i}s" for i in range(30)]
        assert stems_of(stem, words) == {w: w[:-1] for w in words}
        assert len(cache) <= 100
    assert stems_of(stem, ["word9x0s"]) == {"word9x0s": "word9x0"}  # still known
    assert calls[-1] == 30 and len(calls) == 10


def test_missing_title_or_abstract_marks_as_empty_text() -> None:
    """A paper without a title or abstract (None in the row) shows nothing there, not the text
    "None", on the page and in the API, and its other text is still marked."""
    from paperfeed.search.highlight import mark_results

    for source in (False, True):
        out = mark_results(parse("none networks"), fts5_porter,
                           [(None, "Neural networks."), ("Networks", None), (None, None),
                            ("", "")], source=source)
        assert [(str(t), str(a), found) for t, a, found in out] == [
            ("", "Neural <mark>networks</mark>.", True),
            ("<mark>Networks</mark>", "", False),
            ("", "", False),
            ("", "", False),
        ]
