"""Query-term highlighting of titles and abstracts: escaped HTML with <mark> around the words the
keyword index would match for the query (same stemmer), plus a snippet window for long abstracts.

Done in Python rather than with FTS5 `highlight()` so semantic-only hits (which need not contain
any query word) go through the same code, so PostgreSQL and SQLite behave alike, and so the
output is escaped by construction.

Why it is shaped like this (it was half of the search page's CPU): a `Highlighter` is built once
per query (and kept for recent queries) with the prefixes its stems can start words with; each
text is scanned once (str.find of those prefixes over the lower-cased text, in C) for
*candidate* words, and only candidates are looked up. Stems come from the index's own stemmer
(`stem`, from storage/stems.py: FTS5's porter tokenizer on SQLite, the `english_stem`
dictionary on PostgreSQL) through a process-wide word cache, so "networks" is marked for
"network" exactly when the index matched it. Pages highlight only the results they show.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from markupsafe import Markup, escape

from paperfeed import texmath
from paperfeed.caching import BoundedCache
from paperfeed.search.query import STOPWORDS, Query

Stemmer = Callable[[Sequence[str]], list[str]]  # words -> their index stems, in order

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A word holding a non-ASCII letter or digit (whose folded form may start with a prefix its
# lower-cased form does not: "Ångström" for "angstrom"); it matches from the word's start.
_NON_ASCII_WORD = re.compile(r"[^\W_]*[^\W_\x00-\x7f][^\W_]*")
MAX_STEMS = 40
# ASCII text -> the same with every character but a letter or digit (what `_WORD` leaves out
# of words in ASCII) made a space, for str.translate's ASCII fast path.
_WORD_ONLY = str.maketrans({chr(c): chr(c) if chr(c).isalnum() else " " for c in range(128)})


def _prefix(stem: str) -> str:
    """What every word with this stem starts with (at least two letters): a stemmer only
    rewrites a word's ending, and only these ways (both index stemmers, FTS5's porter and
    PostgreSQL's english Snowball, checked over the 131,712 distinct words of the 80k arXiv
    catalog, bench/README "Highlighting at a fraction of its cost"): it adds an "e"
    ("hoping" -> "hope"), turns "y" into "i" ("happy" -> "happi", "skies" -> "sky"), turns
    "-bility" into "-bl" ("audibility" -> "audibl"), or "-ying" into "-ie" ("dying" -> "die"):
    the stem's last character is then not the word's, two for "-ie" (and "-le", to be safe).
    A non-ASCII last character keeps two (case folding: "colonς" -> "colonσ"). The shorter
    the prefix, the more words a scan stops at: "data" -> "da" made a quarter of all stops."""
    return stem[: max(min(2, len(stem)), len(stem) - _slack(stem))]


def _slack(stem: str) -> int:
    """How many of the stem's last characters a word with this stem may not share (above)."""
    tail = stem[-2:]
    if tail in ("ie", "le") or not tail.isascii():
        return 2
    return 1 if tail[-1:] in ("e", "i", "l", "y") else 0


def _fold(word: str) -> str:
    """Lower-cased, accents removed (FTS5's `remove_diacritics 2`, PostgreSQL's unaccent-free
    english config lower-cases only; folding both sides keeps "Schrödinger" matching)."""
    word = word.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# word -> its index stem, one cache per stemmer (a process has one or two), least recently
# used out first. Every web worker keeps its own: distinct queries bring ~60 new candidate
# words each (35k after 600 searches at 75k papers, whose vocabulary is 129k words), and 100k
# entries held ~14 MB per worker; 25k hold ~3.6 MB and keep the common words.
STEM_CACHE = 25_000
_STEMS: dict[Stemmer, BoundedCache[str, str]] = {}


def _stem_cache(stem: Stemmer, max_entries: int = STEM_CACHE) -> BoundedCache[str, str]:
    cache = _STEMS.get(stem)
    if cache is None:  # setdefault: threads creating it together keep the same one
        cache = _STEMS.setdefault(stem, BoundedCache(max_entries=max_entries))
    return cache


def stems_of(stem: Stemmer, words: Iterable[str]) -> dict[str, str]:
    """{word: its stem} for `words`, asking `stem` once for all the ones not cached."""
    cache = _stem_cache(stem)
    wanted = set(words)
    out = cache.get_many(wanted)
    missing = [w for w in wanted if w not in out]
    if missing:
        fresh = dict(zip(missing, stem(missing), strict=True))
        cache.put_many(fresh)
        out.update(fresh)
    return out


def query_words(query: Query) -> list[str]:
    """The query's searchable words (plain words and the words of quoted phrases), folded,
    without stopwords or one-letter words, at most MAX_STEMS."""
    words: list[str] = [*query.words]
    for phrase in query.phrases:
        words.extend(_WORD.findall(phrase))
    out = dict.fromkeys(
        f for w in words if (f := _fold(w)) not in STOPWORDS and len(f) > 1
    )
    return sorted(out)[:MAX_STEMS]


class Highlighter:
    """Marks one query's words in texts. Build it with `highlighter(query, stem)` (cached)."""

    def __init__(self, words: Sequence[str], stem: Stemmer, *,
                 scan_every_word: bool = False) -> None:
        """`scan_every_word`: look up every word of a text instead of only the candidates its
        prefixes find (slow: the reference the candidate scan is tested against)."""
        self._stem = stem
        # A stem that is not one word (none is, from FTS5's tokenizer or PostgreSQL's first
        # token) could not be any word's: kept, its prefix would stop the scan at punctuation.
        stems = {s for s in stems_of(stem, words).values() if s and _WORD.fullmatch(s)}
        self.stems = frozenset(stems)
        # Candidates: words starting with a stem's prefix. Prefixes that extend another one
        # are dropped (every word they find, the shorter one finds).
        prefixes: list[str] = []
        for p in sorted({_prefix(s) for s in stems}, key=len):
            if not any(p.startswith(q) for q in prefixes):
                prefixes.append(p)
        self._prefixes = tuple(prefixes)
        # str.find over the lower-cased text is many times faster than a regex scan, but a
        # one-letter prefix (a stem of "(e.g.," or "X-ray") would stop at every such letter:
        # the words starting with one are found by one regex whose letters come first (so
        # `re` skips to them in C; 10x less than looking at every word, which a non-ASCII
        # prefix still needs).
        self._find = not scan_every_word and all(p.isascii() for p in prefixes)
        letters = "".join(re.escape(p) for p in prefixes if len(p) == 1)
        self._long = tuple(p for p in prefixes if len(p) > 1)
        self._initials = re.compile(
            f"[{letters}](?<![^\\W_][{letters}])[^\\W_]*") if letters else None
        self._spaced = tuple(" " + p for p in prefixes)  # word starts, in spans_many
        self._verdicts: dict[str, bool] = {}  # folded candidate -> is a query word

    def __bool__(self) -> bool:
        return bool(self._prefixes)

    def _candidates(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, folded word) of the words that may match, in text order."""
        if not self._find:
            return [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text)]
        ascii_text = text.isascii()
        low = text.lower()
        if not ascii_text and len(low) != len(text):  # "İ" lower-cases to two characters
            return [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text)]
        # A list sorted once: no two prefixes find the same word (none extends another).
        found: list[tuple[int, int, str]] = []
        find, match, add = low.find, _WORD.match, found.append
        for prefix in self._long:
            i = find(prefix)
            while i >= 0:
                if i == 0 or not low[i - 1].isalnum():
                    m = match(low, i)
                    assert m is not None
                    end = m.end()
                    add((i, end, m.group()))
                    i = find(prefix, end)
                else:
                    i = find(prefix, i + 1)
        if self._initials is not None:
            found += [(m.start(), m.end(), m.group()) for m in self._initials.finditer(low)]
        if not ascii_text:
            # Accented words may fold onto a prefix; words are folded from the text itself
            # (lower-casing a whole text is not always a word's: final sigma).
            known = {a for a, _, _ in found}
            found += [(m.start(), m.end(), "") for m in _NON_ASCII_WORD.finditer(text)
                      if m.start() not in known]
            found.sort()
            return [(a, b, w if w.isascii() and w else _fold(text[a:b])) for a, b, w in found]
        found.sort()
        return found

    def prime(self, texts: Iterable[str]) -> None:
        """Look up the candidate words of all `texts` at once (one call to the stemmer for a
        whole page instead of one per text: the index's stemmer has a per-call cost)."""
        if not self._prefixes:
            return
        unknown = {w for t in texts for _, _, w in self._candidates(t)
                   if w not in self._verdicts}
        self._judge(unknown)

    def _judge(self, words: set[str]) -> None:
        if words:
            stems = stems_of(self._stem, words)
            self._verdicts.update({w: stems[w] in self.stems for w in words})

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every matching word in `text`, in order: one scan of the text."""
        if not self._prefixes:
            return []
        found = self._candidates(text)
        self._judge({w for _, _, w in found if w not in self._verdicts})
        return [(a, b) for a, b, w in found if self._verdicts[w]]

    def spans_many(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """`spans` of each text, scanning each once and looking up all the page's unknown
        words in one call to the stemmer (`prime` then `spans` scanned every text twice)."""
        if not self._prefixes:
            return [[] for _ in texts]
        if not self._find:
            each = [self._candidates(t) for t in texts]
            self._judge({w for f in each for _, _, w in f if w not in self._verdicts})
            return [[(a, b) for a, b, w in f if self._verdicts[w]] for f in each]
        # The ASCII texts (nearly all) are scanned as one string in which everything but a
        # letter or digit is a space (one `str.translate`, in C), so `find(" " + prefix)`
        # stops only at word starts and the next space ends the word: no call per text, no
        # regex per word (a third less than `_candidates` text by text).
        out: list[list[tuple[int, int]]] = [[] for _ in texts]
        scanned = [k for k, t in enumerate(texts) if t.isascii()]
        others = {k: self._candidates(texts[k]) for k in range(len(texts))
                  if not texts[k].isascii()}
        found: list[tuple[int, int, str]] = []
        if scanned:
            # a space before each text (and one after the last): in `joined`, the space
            # before a word is at the word's position in the texts joined by spaces
            joined = (" " + " ".join([texts[k] for k in scanned]).lower().translate(_WORD_ONLY)
                      + " ")
            find, add = joined.find, found.append
            for prefix in self._spaced:
                i = find(prefix)
                while i >= 0:
                    end = find(" ", i + 1)
                    add((i, end - 1, joined[i + 1 : end]))
                    i = find(prefix, end)
        verdicts = self._verdicts
        self._judge({w for _, _, w in found if w not in verdicts}
                    | {w for f in others.values() for _, _, w in f if w not in verdicts})
        for k, f in others.items():
            out[k] = [(a, b) for a, b, w in f if verdicts[w]]
        if found:
            found.sort()
            hits = [(a, b) for a, b, w in found if verdicts[w]]
            j, total, offset = 0, len(hits), 0
            for k in scanned:  # each text's hits, moved to its own positions
                stop = offset + len(texts[k])
                first = j
                while j < total and hits[j][0] < stop:
                    j += 1
                out[k] = ([(a - offset, b - offset) for a, b in hits[first:j]] if offset
                          else hits[first:j])
                offset = stop + 1
        return out

    def mark(self, text: str) -> Markup:
        """`text` escaped, with <mark> around each matching word."""
        return _render(text, self.spans(text), 0, len(text))

    def snippet(self, text: str, *, width: int = 320) -> tuple[Markup, bool]:
        """A window of about `width` characters around the densest matches, marked; and whether
        anything matched. Short texts come back whole. One scan of the text."""
        text = " ".join(text.split())
        spans = self.spans(text)
        if len(text) <= width:
            return _render(text, spans, 0, len(text)), bool(spans)
        if not spans:
            cut = text[:width].rsplit(" ", 1)[0]
            return Markup(str(escape(cut)) + "…"), False
        best_start, best_count, j = 0, -1, 0
        for i, (s, _) in enumerate(spans):  # densest window: two pointers over sorted spans
            while j < len(spans) and spans[j][0] < s + width:
                j += 1
            if j - i > best_count:
                best_start, best_count = s, j - i
        start = max(0, best_start - width // 4)
        if start:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < best_start else start
        end = min(len(text), start + width)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start else end
        inside = [(a, b) for a, b in spans if a >= start and b <= end]
        body = _render(text, inside, start, end)
        return Markup(("…" if start else "") + str(body) + ("…" if end < len(text) else "")), True


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> Markup:
    out: list[str] = []
    pos = start
    for a, b in spans:
        out.append(str(escape(text[pos:a])))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        pos = b
    out.append(str(escape(text[pos:end])))
    return Markup("".join(out))


RECENT_QUERIES = 256
_RECENT: BoundedCache[tuple[str, Stemmer], Highlighter] = BoundedCache(
    max_entries=RECENT_QUERIES)


def highlighter(query: Query, stem: Stemmer) -> Highlighter:
    """The Highlighter of `query` for an index that stems with `stem` (recent ones are reused:
    paging through results or the API and the page asking for one query build it once)."""
    return _RECENT.get_or_make((query.raw, stem),
                               lambda: Highlighter(query_words(query), stem))


def mark_results(
    query: Query, stem: Stemmer, papers: Sequence[tuple[str | None, str | None]], *,
    width: int = 320, source: bool = False,
) -> list[tuple[Markup, Markup, bool]]:
    """For each (title, abstract): the title marked whole and a snippet of about `width`
    characters of the abstract, as page HTML with math ready for KaTeX (texmath.marked_html:
    a snippet never cuts a formula, a query word inside one marks all of it; with `source`,
    for the JSON API, math stays TeX source), and whether the snippet holds a match. A
    missing (None) title or abstract is an empty text."""
    texts = _single_spaced_all(["" if t is None else str(t) for pair in papers for t in pair])
    spans = highlighter(query, stem).spans_many(texts)
    out: list[tuple[Markup, Markup, bool]] = []
    for n in range(len(papers)):
        # the spans are in order, apart and inside their text (`Highlighter.spans`)
        title = texmath.marked_html(texts[2 * n], spans[2 * n], source=source, ordered=True)
        abstract, found = texmath.marked_snippet(texts[2 * n + 1], spans[2 * n + 1],
                                                 width=width, source=source, ordered=True)
        out.append((title, abstract, found))
    return out


def _single_spaced_all(texts: list[str]) -> list[str]:
    """Each text single-spaced (`" ".join(t.split())`): when the ASCII texts joined by spaces
    hold no whitespace but single spaces, and none starts or ends with one, they all are (one
    C scan per character over the page instead of one per text); the others are checked one
    by one."""
    joined = " ".join([t for t in texts if t.isascii()])  # one byte a character: fast scans
    if "  " in joined or any(c in joined for c in _ASCII_SPACES) \
            or any(t[:1] == " " or t[-1:] == " " for t in texts):
        return [t if _single_spaced(t) else " ".join(t.split()) for t in texts]
    return [t if t.isascii() or _single_spaced(t) else " ".join(t.split()) for t in texts]


def _single_spaced(text: str) -> bool:
    """Whether `" ".join(text.split())` is `text` (stored texts nearly always are): C scans
    instead of a list of its words (whitespace other than " " is not printable)."""
    if text[:1] == " " or text[-1:] == " " or "  " in text:
        return False
    if text.isascii():  # one fast `in` per ASCII whitespace character but " "
        return not any(c in text for c in _ASCII_SPACES)
    return text.isprintable()


_ASCII_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # what str.split() splits on but " "
