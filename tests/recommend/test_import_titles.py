"""For you's import of a member's own papers matches titles alike on both engines.

SQLite's lower() folds ASCII letters only, PostgreSQL's every letter: on SQLite a title with a
Greek capital ("Prism-Δ: ...", "Σ-Mem: ...", real demo papers) never matched the title the
member pasted, on PostgreSQL it did.
"""

from __future__ import annotations

from paperfeed.storage.recommend import find_titles
from tests.recommend.conftest import Demo

PRISM = "Prism-Δ: Differential Subspace Steering for Prompt Highlighting in Large Language Models"
SIGMA = "Σ-Mem: An Online Reliability Memory for LLM-based Multi-Agent Systems"


def test_titles_with_non_ascii_capitals_match_on_both_engines(demo: Demo) -> None:
    with demo.engine.connect() as conn:
        found = find_titles(conn, [PRISM, "  " + SIGMA.upper() + " ", "Σ-Mem: not a paper here"])
    assert sorted(found.values()) == ["2603.10705", "2607.27958"]
    assert found[PRISM.lower()] == "2603.10705"  # keyed by the lower-cased title


def test_titles_match_whatever_the_ascii_case(demo: Demo) -> None:
    with demo.engine.connect() as conn:
        found = find_titles(conn, [PRISM.upper(), "prism-Δ: differential subspace steering for "
                                   "prompt highlighting in large language models", ""])
    assert list(found.values()) == ["2603.10705"]
