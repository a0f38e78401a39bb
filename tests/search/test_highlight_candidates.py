"""The highlighter looks up only candidate words (those starting with a query stem's prefix,
found by `str.find`), not every word: that must never miss a word the index matches, on either
engine's stemmer, in ASCII or accented text, and the texts' quick checks must agree with the
slow definitions they replace."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from paperfeed import texmath
from paperfeed.search.highlight import (
    _WORD,
    Highlighter,
    _fold,
    _single_spaced,
    _single_spaced_all,
    _slack,
    query_words,
)
from paperfeed.search.query import parse
from paperfeed.storage.stems import Stemmer, fts5_porter, stemmer_for
from tests.conftest import FIXTURES

# Words whose stems are not prefixes of them, and the usual suspects.
TRICKY = [
    "dying", "lying", "tying", "skies", "skis", "hoping", "happy", "happiness", "audibility",
    "agreeability", "probability", "sensibility", "relational", "operator", "valency",
    "conformably", "analogy", "assembly", "doxxing", "networks", "network", "networking",
    "adding", "added", "studies", "studied", "ponies", "cs", "as", "bs", "1s", "3d", "cnns",
    "gpt4", "x86", "l2", "naïve", "café", "schrödinger", "ångström", "über", "façade",
    "αβγ", "μονάδα", "σύστημα", "colonς", "énergie", "zoë", "resume", "résumé", "idly",
    "gently", "ugly", "early", "only", "singly", "news", "atlas", "cosmos", "bias",
]


def _vocabulary() -> list[str]:
    words: set[str] = set(TRICKY)
    for name in ("search/arxiv_cs_40.jsonl", "snapshot/arxiv_cs_sample.jsonl"):
        for line in (FIXTURES / name).read_text("utf-8").splitlines():
            doc = json.loads(line)
            words.update(_WORD.findall(f"{doc['title']} {doc['abstract']}"))
    return sorted({_fold(w) for w in words})


def _assert_words_start_with_their_stems(stem: Stemmer) -> None:
    words = _vocabulary()
    stems = stem(words)
    assert len(words) > 3000
    missed = [(w, s) for w, s in zip(words, stems, strict=True)
              if s and not w.startswith(s[: len(s) - _slack(s)])]
    assert missed == []


def test_fts5_porter_only_rewrites_a_stems_last_letters() -> None:
    _assert_words_start_with_their_stems(fts5_porter)


@pytest.fixture
def pg_stemmer(pg_index_url: str) -> Iterator[Stemmer]:
    """PostgreSQL's index stemmer (Porter over `paperfeed_fts_text`, migration 0017), its
    engine disposed after the test."""
    engine = create_engine(pg_index_url)
    try:
        yield stemmer_for(engine)
    finally:
        engine.dispose()


def test_postgresql_porter_only_rewrites_a_stems_last_letters(pg_stemmer: Stemmer) -> None:
    _assert_words_start_with_their_stems(pg_stemmer)


ACCENTED = str.maketrans({"e": "é", "o": "ö", "a": "å", "u": "ü", "c": "ç", "i": "ï"})


def _texts() -> list[str]:
    texts = []
    for line in (FIXTURES / "search" / "arxiv_cs_40.jsonl").read_text("utf-8").splitlines():
        abstract = " ".join(json.loads(line)["abstract"].split())
        texts.append(abstract)
        words = abstract.split()
        # some words accented, Greek and Turkish capitals, a combining accent, final sigma
        texts.append(" ".join(w.translate(ACCENTED) if k % 3 == 0 else w
                              for k, w in enumerate(words)))
        texts.append("İstanbul ΣΥΣΤΗΜΑΣ μοντέλα " + abstract.replace("e", "e\u0301", 5)
                     + " colonς naïve Ångström-scale 3D-networks")
    return texts




def _check_no_word_missed(stem: Stemmer) -> None:
    texts = _texts()
    queries = ["network models learning", "schrodinger angstrom naive", "energie cafe",
               "istanbul systems", "σύστημα μοντέλα", "colonσ", "3d networks scale",
               "analogy assembly probability", "dying happy skies",
               "agents (e.g., tools) X-ray", "O(n log n) sorting", "A-MHA*: A* search"]
    queries += [" ".join(t.split()[k: k + 6]) for k, t in enumerate(texts[:60:3])]
    checked = 0
    for q in queries:
        words = query_words(parse(q))
        h = Highlighter(words, stem)
        slow = Highlighter(words, stem, scan_every_word=True)  # every word looked up
        assert slow.stems == h.stems
        truth = [slow.spans(text) for text in texts]
        for text, spans in zip(texts, truth, strict=True):
            assert h.spans(text) == spans, (q, text[:80])
            checked += len(spans)
        assert h.spans_many(texts) == truth, q  # a page at once: ASCII texts scanned joined
    assert checked > 1000


def test_candidates_never_miss_a_word_fts5() -> None:
    _check_no_word_missed(fts5_porter)


def test_candidates_never_miss_a_word_postgresql(pg_stemmer: Stemmer) -> None:
    _check_no_word_missed(pg_stemmer)


SPACES = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000"


@given(st.text(alphabet=st.sampled_from(list(SPACES) + list("ab$\\é\ue010\x00")), max_size=12))
def test_quick_checks_agree_with_their_definitions(text: str) -> None:
    single = " ".join(text.split()) == text
    # True means single-spaced; a non-printable text may be re-split for nothing (no harm)
    assert _single_spaced(text) == single if text.isprintable() else single or not \
        _single_spaced(text)
    assert texmath.is_plain(text) == (re.search(r"[\\${}~\ue010\ue011]", text) is None)


@given(st.lists(st.text(alphabet=st.sampled_from(list(SPACES) + list("ab-é∗")), max_size=8),
                max_size=5))
def test_a_pages_texts_come_out_single_spaced(texts: list[str]) -> None:
    assert _single_spaced_all(texts) == [" ".join(t.split()) for t in texts]


def test_query_words_with_punctuation_mark_the_word_on_both_engines(pg_stemmer: Stemmer) -> None:
    """"(DLMs)" in a query (a pasted first sentence) is the word DLMs to both indexes: on
    PostgreSQL its stem was "(dlm", whose prefix met "(DLMs)" in a text and broke the page."""
    text = "Diffusion language models (DLMs) and 3D-networks: small-scale DLM's results."
    query = parse("models (DLMs) 3D-networks")
    # porter stems "dlms" to "dlm" on both engines (PostgreSQL's index is Porter too, 0017)
    for stem, words in ((fts5_porter, ["models", "DLMs", "3D", "DLM"]),
                        (pg_stemmer, ["models", "DLMs", "3D", "DLM"])):
        h = Highlighter(query_words(query), stem)
        assert [text[a:b] for a, b in h.spans(text)] == words, stem


def _closing_dollar_per_character(text: str, start: int) -> int | None:
    """texmath._closing_dollar as it was, a character at a time (the reference)."""
    n = len(text)
    if start + 1 >= n or text[start + 1].isspace() or text[start + 1] == "$":
        return None
    j = start + 1
    while j < n and j - start <= texmath.MAX_MATH:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "$":
            if text[j - 1].isspace() or (j + 1 < n and text[j + 1].isdigit()):
                return None
            return j
        j += 1
    return None


@given(st.text(alphabet=st.sampled_from(list("$\\ a1{}^_\n")), max_size=30),
       st.integers(min_value=0, max_value=30), st.sampled_from([3, 7, 400]))
def test_closing_dollars_are_found_as_before(text: str, start: int, most: int) -> None:
    import paperfeed.texmath as tm

    old = tm.MAX_MATH
    tm.MAX_MATH = most  # short limits reach the bound inside these short texts
    try:
        for i in [k for k, c in enumerate(text) if c == "$"] + [min(start, len(text))]:
            assert tm._closing_dollar(text, i) == _closing_dollar_per_character(text, i)
    finally:
        tm.MAX_MATH = old
