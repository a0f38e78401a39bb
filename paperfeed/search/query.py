"""Our search query language, parsed by a pure function; no user text ever reaches FTS syntax raw.

Syntax (everything else is plain words):
  "exact phrase"          phrase (adjacent words)
  -word  -"a phrase"      exclude papers containing it
  author:name  author:"Yann LeCun"
  cat:cs.CL               category (any of a paper's categories)
  year:2024  year:2020..2023  after:2021  before:2024   (published year, inclusive)

`parse()` never raises and produces a `Query`, a plain structure: nothing here knows an index's
syntax. `search.keyword` turns it into a `KeywordRequest`, which each search backend compiles
into its own (FTS5 MATCH, tsquery), quoting every user token.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 4000  # a pasted abstract fits; beyond this the text is cut
MAX_MATCH_TERMS = 32  # plain words that reach the keyword index (long queries are cut)
MAX_FILTER_TERMS = 8  # phrases / exclusions / authors / categories each
MIN_YEAR, MAX_YEAR = 1900, 2200

# English function words: dropped from OR-queries (they match nearly every paper, cost time
# and add no ranking signal) but kept inside quoted phrases.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    via using based use used new towards toward show shows""".split()
)

# Words that frame a request rather than name its topic ("I am looking for papers on ...",
# "Find documents that discuss ..."): in a long question they only match the few titles that
# happen to hold them, which BM25 then rates highly because they are rare in titles. Dropped
# from questions of at least REQUEST_MIN_WORDS informative words (a short query keeps them:
# "papers with code" means what it says).
REQUEST_WORDS = frozenset(
    """find finding identify looking look seeking seek want wanted need needed wish interested
    please give show tell papers paper articles article documents document publications
    publication literature references describe describes describing described discuss
    discusses discussing discussed deal deals dealing concerning regarding address addresses
    addressing anything something""".split()
)
REQUEST_MIN_WORDS = 8

_TOKEN = re.compile(r'(-?)(\w+):("([^"]*)"?|\S*)|(-?)"([^"]*)("|$)|(\S+)', re.UNICODE)
FILTERS = frozenset({"author", "authors", "by", "cat", "category", "year", "after", "since",
                     "before", "until"})
_YEAR_RANGE = re.compile(r"^(\d{4})?\s*\.\.\s*(\d{4})?$")


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. `words` and `phrases` are searched; the rest are filters/exclusions."""

    raw: str
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # words or phrases (each one FTS phrase)
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    notes: tuple[str, ...] = field(default=())  # what was ignored or cut, for the UI

    @property
    def text(self) -> str:
        """The free text of the query (words and phrases, original order): what gets embedded."""
        return clean_text(self.raw_text)

    @property
    def raw_text(self) -> str:
        return " ".join((*self.phrases, *self.words))

    @property
    def has_terms(self) -> bool:
        return bool(self.words or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.excluded or self.authors or self.categories or self.year_from or self.year_to
        )


def clean_text(text: str) -> str:
    """Drop control/format characters (NUL etc.), normalise Unicode and whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(text.split())


def _searchable(token: str) -> bool:
    """True when the FTS tokenizer will see at least one token (a letter or digit)."""
    return any(ch.isalnum() for ch in token)


def _year(text: str) -> int | None:
    if len(text) == 4 and text.isdigit():
        value = int(text)
        if MIN_YEAR <= value <= MAX_YEAR:
            return value
    return None


def parse(raw: str) -> Query:
    """Parse a user query. Never raises; unknown `field:` prefixes are plain words."""
    notes: list[str] = []
    text = clean_text(raw or "")
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notes.append(f"query cut to {MAX_QUERY_CHARS} characters")
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    authors: list[str] = []
    cats: list[str] = []
    y_from: int | None = None
    y_to: int | None = None
    for m in _TOKEN.finditer(text):
        if m.group(2) is not None:  # field:value
            neg, name, value = m.group(1), m.group(2).lower(), m.group(4)
            if value is None:
                value = m.group(3)
            value = value.strip()
            if neg and value and name in FILTERS:
                # Not "exclude the words cat and cs.CV": filters cannot be negated; say so.
                notes.append(f"-{name}:{value[:40]} ignored: filters cannot be excluded")
                continue
            if name in ("author", "authors", "by") and value and not neg:
                authors.append(value)
                continue
            if name in ("cat", "category") and value and not neg:
                cats.append(value)
                continue
            if name == "year" and not neg:
                single = _year(value)
                rng = _YEAR_RANGE.match(value)
                if single is not None:
                    y_from = y_to = single
                    continue
                if rng and (rng.group(1) or rng.group(2)):
                    y_from = _year(rng.group(1) or "") or y_from
                    y_to = _year(rng.group(2) or "") or y_to
                    continue
            if name in ("after", "since") and _year(value) and not neg:
                y_from = _year(value)
                continue
            if name in ("before", "until") and _year(value) and not neg:
                y_to = _year(value)
                continue
            # Unknown field or bad value: treat the whole thing as words.
            target = excluded if neg else words
            for part in f"{name} {value}".split():
                if _searchable(part):
                    target.append(part)
            continue
        if m.group(6) is not None:  # "phrase" or -"phrase"
            phrase = " ".join(m.group(6).split())
            if _searchable(phrase):
                (excluded if m.group(5) else phrases).append(phrase)
            continue
        word = m.group(8)
        if word.startswith("-") and len(word) > 1:
            if _searchable(word[1:]):
                excluded.append(word[1:])
            continue
        if _searchable(word):
            words.append(word)
    if y_from and y_to and y_from > y_to:
        y_from, y_to = y_to, y_from

    def cap(items: list[str], limit: int, what: str) -> tuple[str, ...]:
        unique = list(dict.fromkeys(items))
        if len(unique) > limit:
            notes.append(f"only the first {limit} {what} are used")
        return tuple(unique[:limit])

    return Query(
        raw=text,
        words=tuple(words),
        phrases=cap(phrases, MAX_FILTER_TERMS, "phrases"),
        excluded=cap(excluded, MAX_FILTER_TERMS, "exclusions"),
        authors=cap(authors, MAX_FILTER_TERMS, "authors"),
        categories=cap(cats, MAX_FILTER_TERMS, "categories"),
        year_from=y_from,
        year_to=y_to,
        notes=tuple(notes),
    )


def keyword_terms(query: Query, *, limit: int = MAX_MATCH_TERMS) -> list[str]:
    """The plain words sent to the keyword index: lower-cased, de-duplicated, stopwords and
    one-character words dropped (unless nothing else is left), at most `limit`."""
    return list(keyword_term_counts(query, limit=limit))


def keyword_term_counts(
    query: Query, *, limit: int = MAX_MATCH_TERMS, drop_requests: bool = False
) -> dict[str, int]:
    """`keyword_terms` with how often each occurs in the query (a word a question repeats is
    what it is about). `drop_requests`: leave out REQUEST_WORDS when at least
    REQUEST_MIN_WORDS informative words remain."""
    seen: dict[str, int] = {}
    for word in query.words:
        w = word.lower()
        if _searchable(w):
            seen[w] = seen.get(w, 0) + 1
    terms = {w: n for w, n in seen.items() if w not in STOPWORDS and len(w) > 1}
    if drop_requests:
        topical = {w: n for w, n in terms.items() if w not in REQUEST_WORDS}
        if len(topical) >= REQUEST_MIN_WORDS:
            terms = topical
    if not terms:
        terms = seen
    return dict(list(terms.items())[:limit])


def keyword_bigrams(query: Query, *, limit: int = 12) -> list[str]:
    """Adjacent pairs of informative query words ("stem cell"), as phrases: a paper holding the
    pair side by side scores above one holding the words apart (a light sequential-dependence
    model). Pairs are not formed across a stopword."""
    pairs: list[str] = []
    prev: str | None = None
    for word in query.words:
        w = word.lower()
        if not _searchable(w) or w in STOPWORDS or len(w) < 2:
            prev = None
            continue
        if prev is not None and prev != w:
            pairs.append(f"{prev} {w}")
        prev = w
    return list(dict.fromkeys(pairs))[:limit]
