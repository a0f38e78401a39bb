"""What search asks a keyword index: a structure built from the user's parsed query (by
`search.keyword`), which each backend compiles into its own syntax (FTS5 MATCH, tsquery).

User text only ever reaches an index through a compiler that treats it as literal words, so
operators a user types (`NEAR(`, `*`, `&`, `!`, AND/OR/NOT) are just words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_FIELDS = (3.0, 2.0, 1.0)  # title, authors, abstract


@dataclass(frozen=True, slots=True)
class KeywordRequest:
    """A keyword query: ranked optional words plus hard constraints.

    - `terms`: plain words, any of which may match (ranked by BM25); `counts[i]` is how often
      term i counts (a word repeated in the query counts more), 1 when `counts` is empty;
    - `pairs`: adjacent word pairs, optional phrases that add `pair_weight` times their BM25 to
      the papers the terms match (a light proximity signal, as in the sequential-dependence
      model: a paper holding "stem cell" side by side ranks above one holding both words
      apart); they never widen what matches, so a pair of common words costs no extra scan;
    - `phrases`, `authors`: each required (`authors` in the authors field only);
    - `excluded`: words or phrases that rule a paper out;
    - `fields`: BM25 weights of title, authors and abstract;
    - `require_all`: every term required (AND) instead of any (OR);
    - `scan_limit`: rank at most this many matching papers, the most recently indexed first
      (None: every match). Ranking costs per matching paper (~1 s per million at 1M papers), so
      this bounds a search whatever its words; the backend says when it cut (`KeywordHits.cut`).
    """

    terms: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    pairs: tuple[str, ...] = ()
    pair_weight: float = 1.0
    phrases: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    fields: tuple[float, float, float] = DEFAULT_FIELDS
    require_all: bool = False
    scan_limit: int | None = None

    @property
    def ranked(self) -> bool:
        """True when there is something to rank by (terms, phrases or authors)."""
        return bool(self.terms or self.phrases or self.authors)

    @property
    def constrains(self) -> bool:
        """True when papers found another way (by meaning) must be checked against it."""
        return bool(self.phrases or self.authors or self.excluded)

    def count(self, i: int) -> int:
        return self.counts[i] if i < len(self.counts) else 1

    def constraints(self) -> KeywordRequest:
        """Only the hard part: phrases, authors, exclusions (no ranked words)."""
        return KeywordRequest(phrases=self.phrases, authors=self.authors, excluded=self.excluded,
                              fields=self.fields)


@dataclass(frozen=True, slots=True)
class KeywordHit:
    paper_id: str
    score: float  # higher is better (BM25 or the engine's equivalent)
    title: str = ""


class KeywordHits(list[KeywordHit]):
    """Keyword hits, best first; `cut` is True when more papers matched than the request's
    `scan_limit` let the backend rank (the hits are the best of the newest `scan_limit`)."""

    __slots__ = ("cut",)

    def __init__(self, hits: Iterable[KeywordHit] = (), *, cut: bool = False) -> None:
        super().__init__(hits)
        self.cut = cut


@dataclass(frozen=True, slots=True)
class TermStats:
    """Document counts of query words in one catalog (for choosing which words to send)."""

    papers: int  # indexed papers
    docs: dict[str, int]  # word (as given) -> papers containing it (its rarest index token)


@dataclass(frozen=True, slots=True)
class StatsRefresh:
    """What a refresh of the keyword statistics did (SQLite: the stored token counts)."""

    tokens: int  # distinct tokens stored
    papers: int  # indexed papers at the refresh
    seconds: float
