"""Query-term highlighting of titles and abstracts (pure): escaped HTML with <mark> around words
that share a stem with a query word, plus a snippet window for long abstracts.

Done in Python rather than with FTS5 `highlight()` so semantic-only hits (which need not contain
any query word) go through the same code, and so the output is escaped by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

from paperfeed.search.query import STOPWORDS, Query

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s", "ly")
MAX_STEMS = 40


def stem(word: str) -> str:
    """A light suffix-stripping stem (enough to match 'network' with 'networks')."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def query_stems(query: Query) -> set[str]:
    words: list[str] = [*query.words]
    for phrase in query.phrases:
        words.extend(_WORD.findall(phrase))
    out = {stem(w) for w in words if w.lower() not in STOPWORDS and len(w) > 1}
    return set(sorted(out)[:MAX_STEMS])


def _spans(text: str, stems: set[str]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if stem(m.group()) in stems]


def mark(text: str, stems: Iterable[str]) -> Markup:
    """`text` escaped, with <mark> around each word whose stem is in `stems`."""
    stem_set = set(stems)
    out: list[str] = []
    pos = 0
    for start, end in _spans(text, stem_set):
        out.append(str(escape(text[pos:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def snippet(text: str, stems: Iterable[str], *, width: int = 320) -> tuple[Markup, bool]:
    """A window of about `width` characters around the densest matches, marked; and whether
    anything matched. Short texts come back whole."""
    text = " ".join(text.split())
    stem_set = set(stems)
    spans = _spans(text, stem_set)
    if len(text) <= width:
        return mark(text, stem_set), bool(spans)
    if not spans:
        cut = text[:width].rsplit(" ", 1)[0]
        return Markup(str(escape(cut)) + "…"), False
    best_start, best_count = 0, -1
    for s, _ in spans:
        count = sum(1 for a, _ in spans if s <= a < s + width)
        if count > best_count:
            best_start, best_count = s, count
    start = max(0, best_start - width // 4)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best_start else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    body = mark(text[start:end], stem_set)
    return Markup(("…" if start else "") + str(body) + ("…" if end < len(text) else "")), True
