"""Keyword query construction (pure): a parsed `Query` and the catalog's word statistics ->
the `KeywordRequest` a search backend compiles and ranks (BM25, title > authors > abstract).

Why words are chosen at all: a BM25 index scores every paper that contains any query word, so a
common word costs the most time while adding the least to the ranking. Which words go is decided
here from their document counts (`TermStats`, one backend call, cached per process), never by
the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from paperfeed.search.fusion import keyword_like
from paperfeed.search.query import MAX_MATCH_TERMS, Query, keyword_bigrams, keyword_term_counts
from paperfeed.storage.search import (
    DEFAULT_FIELDS,
    KeywordHits,
    KeywordRequest,
    SearchFilters,
    TermStats,
)
from paperfeed.storage.search.backend import SearchBackend

HYBRID_POSTING_CAP = 60_000  # ~60 ms of FTS5 scoring; see plan() (the default of the
# `search_posting_cap` setting)


@dataclass(frozen=True, slots=True)
class KeywordParams:
    """How the keyword query is built and ranked (defaults chosen on SciFact train)."""

    operator: str = "OR"  # how plain words combine
    weights: tuple[float, float, float] = DEFAULT_FIELDS  # title, authors, abstract
    # Adjacent word pairs scored as phrases beside the words (a boost to papers the words
    # match, never required): "bare" (only a query of bare keywords, `fusion.keyword_like`),
    # "all" (every query: loses SciFact 0.01), "off". A pair's BM25 counts `pair_weight` of a
    # word's (at 1 the pair "double-strand breaks" outvoted the rare word of a SciFact claim),
    # and each pair counts its rarer word's papers against the posting cap (`pairs_within`).
    # Chosen on SciFact train and the keywords set (bench/README.md, "Word pairs").
    bigrams: str = "bare"
    pair_weight: float = 0.25
    # Papers the pairs may add up to (their rarer words' counts), within what the words left of
    # the posting cap: a phrase costs about what a word of that many papers costs in FTS5, and
    # the remainder of the cap beside the words (~25k at 75k papers) made a bare-keyword search
    # ~20 ms dearer (bench/README.md, "Word pairs").
    pair_budget: int = 5_000
    # Leave out words found in more than this share of papers (when >= `min_terms` rarer words
    # remain), and stop adding words once their papers add up to `posting_budget`: common
    # words rank little and cost the most (every matching paper is scored).
    max_df_ratio: float = 0.25
    posting_budget: int = 5_000
    min_terms: int = 2
    max_terms: int = MAX_MATCH_TERMS  # plain words of a long query that reach the index
    repeats: bool = False  # a word the query repeats counts that many times in BM25
    drop_requests: bool = False  # leave out request words ("papers", "find") of long questions

    @property
    def prunes(self) -> bool:
        return self.max_df_ratio < 1.0 or bool(self.posting_budget)


def effective_filters(query: Query, filters: SearchFilters) -> SearchFilters:
    """The caller's filters narrowed by the query's own `cat:` and `year:` parts."""
    out = filters
    if query.categories:
        out = replace(out, categories=tuple(dict.fromkeys((*out.categories, *query.categories))))
    if query.year_from:
        start = date(query.year_from, 1, 1)
        out = replace(out, date_from=max(start, out.date_from) if out.date_from else start)
    if query.year_to:
        end = date(query.year_to, 12, 31)
        out = replace(out, date_to=min(end, out.date_to) if out.date_to else end)
    return out


def constraints(query: Query) -> KeywordRequest:
    """The query's hard part (phrases, authors, exclusions): what every mode must honour."""
    return KeywordRequest(phrases=query.phrases, authors=query.authors, excluded=query.excluded)


def plan(
    query: Query,
    stats: TermStats | None,
    params: KeywordParams = KeywordParams(),
    *,
    posting_cap: int | None = None,
    alone: bool = False,
) -> tuple[KeywordRequest, bool]:
    """(the request, whether words were dropped to respect `posting_cap`).

    `stats` None: every word goes (no counts known). `posting_cap`: the most papers the kept
    words may match in total; commoner words are dropped until they fit. FTS5 scores every
    matching paper (~1 s per million postings), so on a 1M catalog a query of common words
    alone ("large language vision") would otherwise cost seconds; below ~400k papers
    `max_df_ratio` and `posting_budget` keep most queries under the cap.

    When even the rarest word matches more than the cap: beside the semantic side (hybrid) no
    word is sent, the semantic side answers alone; when keywords answer `alone`, the chosen
    words are sent with `scan_limit` = the cap (the backend ranks the most recently added that
    many matching papers, and says when it cut). `alone` also sets `scan_limit` whenever the
    kept words' counts do not bound the matches (no counts, or quoted phrases and `author:`
    lists, whose matches no word count foretells)."""
    counts = keyword_term_counts(query, limit=params.max_terms,
                                 drop_requests=params.drop_requests)
    words = list(counts)
    capped = False
    fits = False  # the kept words' papers are known to add up to at most the cap
    if words and stats is not None and params.prunes:
        words = select_terms(words, stats.docs, stats.papers, params)
        if posting_cap is not None:
            kept = within_cap(words, stats.docs, posting_cap)
            if kept or not alone:  # else every chosen word goes; the scan limit bounds it
                capped = len(kept) < len(words)
                words = kept
                fits = bool(kept)
    # No scan limit when the words alone bound the matches (phrases and authors are unknown),
    # so most searches keep the plain ranking query.
    scan = alone and posting_cap is not None and not (
        fits and not query.phrases and not query.authors)
    pairs: tuple[str, ...] = ()
    if params.bigrams == "all" or (params.bigrams == "bare" and keyword_like(query.words)):
        pairs = tuple(keyword_bigrams(query))
        if stats is not None:
            budget = params.pair_budget
            if posting_cap is not None:  # and what the kept words left of the cap
                used = sum(stats.docs.get(w, 0) for w in words) if fits or not alone else None
                budget = min(budget, posting_cap - used) if used is not None else -1
            pairs = tuple(pairs_within(pairs, stats.docs, budget))
    request = KeywordRequest(
        terms=tuple(words), counts=tuple(counts[w] for w in words) if params.repeats else (),
        pairs=pairs, pair_weight=params.pair_weight, phrases=query.phrases, authors=query.authors,
        excluded=query.excluded, fields=params.weights, require_all=params.operator == "AND",
        scan_limit=posting_cap if scan else None,
    )
    return request, capped


def keyword_search(
    backend: SearchBackend,
    query: Query,
    filters: SearchFilters,
    *,
    limit: int,
    params: KeywordParams = KeywordParams(),
    posting_cap: int | None = None,
    alone: bool = False,
) -> tuple[KeywordHits, bool]:
    """(keyword hits best first, whether the answer was limited: words dropped for
    `posting_cap`, or the backend's scan cut at it when keywords answer `alone`): the words'
    counts from the backend (cached there), the plan, then the backend's ranking. `filters`
    must already hold the query's own `cat:`/`year:` parts (`effective_filters`)."""
    words = list(keyword_term_counts(query, limit=params.max_terms,
                                     drop_requests=params.drop_requests))
    stats = backend.term_stats(words) if words and params.prunes else None
    request, capped = plan(query, stats, params, posting_cap=posting_cap, alone=alone)
    if not request.ranked:
        return KeywordHits(), capped
    hits = backend.keyword(request, filters, limit=limit)
    return hits, capped or hits.cut


def select_terms(
    words: list[str], df: dict[str, int], total: int, params: KeywordParams
) -> list[str]:
    """The words worth sending to the index (pure): rarest first, dropping words no paper has,
    words in more than `max_df_ratio` of papers and words past the posting budget — but never
    fewer than `min_terms` (when that many occur at all). Query order is kept."""
    present = sorted((w for w in words if df.get(w, 0) > 0), key=lambda w: df[w])
    keep: set[str] = set()
    postings = 0
    for w in present:
        if len(keep) >= params.min_terms:
            if total and df[w] / total > params.max_df_ratio:
                break
            if params.posting_budget and postings + df[w] > params.posting_budget:
                break
        keep.add(w)
        postings += df[w]
    return [w for w in words if w in keep]


def pairs_within(pairs: Sequence[str], df: dict[str, int], budget: int) -> list[str]:
    """The pairs (query order kept) whose rarer word's papers add up to at most `budget`,
    rarest first (pure). A pair matches only papers holding both its words, so its rarer word's
    count bounds what it adds to the papers ranked, and what the index reads to find them
    (FTS5 walks the rarer posting list and skips through the other; PostgreSQL rechecks the
    papers the GIN index gives for both): the pairs of common words ("language model") are
    the ones left out on a large catalog. A pair with a word `df` does not count is left out
    (its cost is unknown)."""
    cost = {p: min((df.get(w, budget + 1) for w in p.split()), default=0) for p in pairs}
    keep: set[str] = set()
    spent = 0
    for p in sorted(pairs, key=lambda p: cost[p]):
        if spent + cost[p] > budget:
            break
        keep.add(p)
        spent += cost[p]
    return [p for p in pairs if p in keep]


def within_cap(words: list[str], df: dict[str, int], cap: int) -> list[str]:
    """The rarest of `words` whose document counts add up to at most `cap` (pure; query order
    kept); [] when even the rarest is over it."""
    keep: set[str] = set()
    postings = 0
    for w in sorted(words, key=lambda w: df.get(w, 0)):
        if postings + df.get(w, 0) > cap:
            break
        keep.add(w)
        postings += df.get(w, 0)
    return [w for w in words if w in keep]
