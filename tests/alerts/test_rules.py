"""Saved-search rules and the words matcher, pure: compiled queries tested against papers
tokenized by the keyword index's own tokenizer."""

from __future__ import annotations

from datetime import datetime

import pytest

from paperfeed.alerts.match import Candidate, match_words, postings
from paperfeed.alerts.rules import ANY, Rule, compile_rule, paper_terms, words_match

T0 = datetime(2025, 6, 1)


def one(title: str, abstract: str = "", authors: tuple[str, ...] = ("Ada Lovelace",),
        cats: tuple[str, ...] = ("cs.LG",), year: int = 2025, pid: str = "2506.00001"):  # noqa: ANN201
    return paper_terms([(pid, title, abstract, list(authors), list(cats), datetime(year, 6, 1))])[0]


@pytest.mark.parametrize(
    ("query", "paper", "expected"),
    [
        ("diffusion models", one("A diffusion model for video"), True),  # stemmed, any order
        ("diffusion models", one("Models of language"), False),  # every word needed
        ("Diffusion", one("DIFFUSION everywhere"), True),
        ("the diffusion of it", one("Diffusion"), True),  # stopwords are not required
        ('"video diffusion"', one("Video diffusion at scale"), True),
        ('"video diffusion"', one("Diffusion for video"), False),  # phrase order
        ('"gaussian process" regression', one("Regression", "with a Gaussian process prior"), True),
        ("author:lovelace", one("Anything"), True),
        ("author:lovelace", one("Lovelace's engine", authors=("Alan Turing",)), False),
        ('author:"Alan Turing"', one("X", authors=("Ada Lovelace", "Alan Turing")), True),
        ('author:"Lovelace Alan"', one("X", authors=("Ada Lovelace", "Alan Turing")), False),
        ("transformers -vision", one("Transformers for text"), True),
        ("transformers -vision", one("Vision transformers"), False),
        ("cat:cs.CL", one("Anything", cats=("cs.CL", "cs.LG")), True),
        ("cat:cs.CL", one("Anything", cats=("cs.CV",)), False),
        ("cat:cs", one("Anything", cats=("cs.CV",)), True),  # an archive covers its categories
        ("cat:math", one("Anything", cats=("cs.CV",)), False),
        ("graphs year:2024", one("Graphs", year=2025), False),
        ("graphs year:2020..2025", one("Graphs", year=2025), True),
        ("café", one("Cafe culture"), True),  # accents removed, as the index does
        ("GPT-4", one("Evaluating GPT-4 on maths"), True),
        ("GPT-4", one("GPT on 4 tasks"), False),  # a split word is a phrase
        ("NEAR(a b) OR * ^", one("near a b"), True),  # FTS operators are only words
    ],
)
def test_query_matches_paper(query: str, paper, expected: bool) -> None:  # noqa: ANN001
    assert words_match(compile_rule(query), paper) is expected


def test_empty_and_unsearchable_queries_match_nothing() -> None:
    for query in ("", "   ", "the of and", '""', "-x"):
        rule = compile_rule(query)
        assert not words_match(rule, one("the of and x")), query


def test_rule_round_trips_through_json_and_picks_anchors() -> None:
    rule = compile_rule('"video diffusion" transformers author:Lovelace cat:cs.CV -gan year:2025')
    assert Rule.from_json(rule.to_json()) == rule
    assert rule.anchors() == ["transform"]  # the longest required token (porter stem)
    assert rule.anchors(lambda t: -{"video": 5, "diffus": 9}.get(t, 100)) == ["video"]
    assert compile_rule("cat:cs.CL cat:cs.AI").anchors() == ["cat:cs.ai", "cat:cs.cl"]
    assert compile_rule("year:2025").anchors() == [ANY]


def test_words_matcher_finds_exactly_the_matching_pairs_via_anchors() -> None:
    papers = paper_terms([
        ("p1", "Video diffusion", "We generate video.", ["A B"], ["cs.CV"], T0),
        ("p2", "Graph neural networks", "Message passing.", ["C D"], ["cs.LG"], T0),
        ("p3", "Diffusion on graphs", "Heat kernels.", ["E F"], ["math.PR"], T0),
    ])
    queries = {1: "diffusion", 2: "graph", 3: "cat:cs.CV", 4: "diffusion -video", 5: "quantum",
               6: "year:2025"}
    searches = [Candidate(i, compile_rule(q), T0) for i, q in queries.items()]
    found = {(f.search_id, f.paper_id) for f in match_words(searches, papers, [T0] * 3)}
    assert found == {(1, "p1"), (1, "p3"), (2, "p2"), (2, "p3"), (3, "p1"), (4, "p3"),
                     (6, "p1"), (6, "p2"), (6, "p3")}
    # A search saved after a paper was stored does not get it.
    late = [Candidate(1, compile_rule("diffusion"), datetime(2025, 7, 1))]
    assert match_words(late, papers, [T0] * 3) == []
    assert "cat:cs.cv" in postings(papers) and "cat:cs" in postings(papers)
