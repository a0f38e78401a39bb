"""Search results are marked exactly as before the highlighting was made faster: titles,
snippets (page HTML and the API's TeX source) of 100 real arXiv papers and some hostile and
mathematical texts, for real queries (titles, first sentences, keyword triples, phrases,
accents, markup), compared with the output recorded from the previous implementation
(tests/fixtures/search/highlight_golden.json.gz; `python -m tests.search.test_highlight_golden`
records it again, only when a change of output is intended)."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import sys
from typing import Any

from paperfeed.search.highlight import mark_results
from paperfeed.search.query import parse
from paperfeed.storage.stems import fts5_porter
from tests.conftest import FIXTURES

GOLDEN = FIXTURES / "search" / "highlight_golden.json.gz"
HOSTILE = [
    ('<script>alert("x")</script> & the <b>bold</b> network',
     "Networks & <img src=x onerror=alert(1)> 'quoted' \"double\" words about networks "
     "and learning; a <mark>fake mark</mark> and </p></article> closers " * 3),
    ("Schrödinger bridges for Ångström-scale generation",
     "We study Schrödinger bridges and naïve café models at Ångström scale; the Schrodinger "
     "equation and its résumé. " * 4),
    ("GenM$^3$: Zebrafish Motion Generation with $\\mathcal{O}(n\\log n)$ sorting",
     "We describe the setting in plain words. " * 6 + "The objective $\\sum_{i=1}^{n} "
     "\\alpha_i \\mathcal{L}(x_i, y_i) + \\lambda \\|\\theta\\|_2^2$ is minimised for "
     "zebrafish tracking, with sorting costs $\\mathcal{O}(n\\log n)$ per frame, "
     "\\emph{robust} and \\textbf{fast} networks. " + "More plain words follow here. " * 8),
    ("Attention is all you need, again", "Short abstract about attention & transformers."),
    ("", ""),
]


def _papers() -> list[tuple[str, str]]:
    out = []
    for name in ("search/arxiv_cs_40.jsonl", "snapshot/arxiv_cs_sample.jsonl"):
        for line in (FIXTURES / name).read_text("utf-8").splitlines():
            doc = json.loads(line)
            out.append((doc["title"], doc["abstract"]))
    return out + HOSTILE


def _queries(papers: list[tuple[str, str]]) -> list[str]:
    """What people type (as bench/pages.py): titles, first sentences, keyword triples; and the
    query syntax's edge cases."""
    rng = random.Random(7)
    out = []
    for i, (title, abstract) in enumerate(rng.sample(papers[:100], 30)):
        if i % 3 == 0:
            out.append(" ".join(title.split()))
        elif i % 3 == 1:
            out.append(re.split(r"(?<=\.)\s", " ".join(abstract.split()), maxsplit=1)[0][:200])
        else:
            words = re.findall(r"[A-Za-z]{4,}", title)
            out.append(" ".join(rng.sample(words, min(3, len(words)))))
    return out + [
        "neural networks", "language models", '"large language models" -vision',
        "Schrödinger bridge", "schrodinger", "zebrafish sorting", "network <script>",
        "learning learned learns", "a of the", "x", "attention transformers cat:cs.CL",
        "robust fast", "O(n log n)", "graph neural network benchmark datasets evaluation",
    ]


def _digest(out: list[Any]) -> str:
    return hashlib.blake2b(json.dumps(out, ensure_ascii=False).encode(),
                           digest_size=8).hexdigest()


def outputs() -> dict[str, Any]:
    """{"plain": the outputs of each paper for a query matching nothing, "queries": {query:
    {paper index: outputs}} for the papers it marks}; outputs = [title, snippet, whether the
    snippet matched, the API's snippet (TeX source, 240 characters)], kept whole for the
    hostile texts and as a digest for the others (the recording stays small)."""
    papers = _papers()
    whole = range(len(papers) - len(HOSTILE), len(papers))

    def kept(n: int, out: list[Any]) -> Any:
        return out if n in whole else _digest(out)

    plain = [[str(t), str(a), f, str(s)] for (t, a, f), (_, s, _) in zip(
        mark_results(parse("zzzqqq"), fts5_porter, papers),
        mark_results(parse("zzzqqq"), fts5_porter, papers, width=240, source=True),
        strict=True)]
    queries: dict[str, dict[str, list[Any]]] = {}
    for q in _queries(papers):
        query = parse(q)
        page = mark_results(query, fts5_porter, papers)
        api = mark_results(query, fts5_porter, papers, width=240, source=True)
        marked = {}
        for n, ((t, a, f), (_, s, _)) in enumerate(zip(page, api, strict=True)):
            got = [str(t), str(a), f, str(s)]
            if got != plain[n]:
                marked[str(n)] = kept(n, got)
        queries[q] = marked
    return {"plain": [kept(n, out) for n, out in enumerate(plain)], "queries": queries}


def test_results_are_marked_as_before_on_real_queries() -> None:
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    now = outputs()
    assert now["plain"] == golden["plain"]
    assert list(now["queries"]) == list(golden["queries"])
    for q, marked in golden["queries"].items():
        assert now["queries"][q] == marked, q
    # the recording is not vacuous: most queries mark something, escaping is in it
    assert sum(1 for m in golden["queries"].values() if m) >= 35
    assert "&lt;script&gt;" in golden["plain"][-len(HOSTILE)][0]


if __name__ == "__main__":
    GOLDEN.write_bytes(gzip.compress(json.dumps(outputs(), ensure_ascii=False).encode(),
                                     mtime=0))
    sys.stdout.write(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)\n")
