"""What the search page, the search API and "Similar papers" share: the app's SearchService,
filters read from GET parameters, and result rows turned into list items with highlights."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fastapi import Request
from markupsafe import Markup
from sqlalchemy import Connection

from paperfeed import metrics
from paperfeed.caching import BoundedCache
from paperfeed.errors import BadRequest
from paperfeed.search.highlight import mark_results
from paperfeed.search.hybrid import SearchHit, SearchResult, SearchService
from paperfeed.storage.catalog import comment_counts
from paperfeed.storage.search import SearchFilters, papers_by_ids
from paperfeed.storage.search.rows import CARD_ROW, card_rows
from paperfeed.storage.stems import stemmer_for

_LOCK = threading.Lock()


def search_service(request: Request) -> SearchService:
    """The app's one SearchService (created on first use; the embedder loads lazily)."""
    state = request.app.state
    service = getattr(state, "search", None)
    if service is None:
        with _LOCK:
            service = getattr(state, "search", None)
            if service is None:
                service = MeasuredSearchService(state.engine, state.settings)
                state.search = service
    return service


class MeasuredSearchService(SearchService):
    """The web's SearchService: each search's latency goes to /metrics by the mode asked and
    the mode that answered (a hybrid search without a model is answered by keywords)."""

    def search(self, text: str, **kwargs: Any) -> SearchResult:
        start = time.perf_counter()
        result = super().search(text, **kwargs)
        asked = str(kwargs.get("mode", "hybrid"))
        metrics.observe_search(asked, str(getattr(result, "used", asked)),
                               time.perf_counter() - start)
        return result


SHARED_DEPTH = 100  # searches asking for fewer hits share one answer of this many


class RecentSearches:
    """Results of identical searches within `ttl` seconds, shared by a worker's requests, and
    computed once when identical requests arrive together (the later ones wait for the first):
    a popular query, a page reload, the API and the page asking the same thing."""

    def __init__(self, *, ttl: float, max_entries: int = 256) -> None:
        self._results: BoundedCache[tuple[Any, ...], SearchResult] = BoundedCache(
            ttl=ttl, max_entries=max_entries)
        self._running: dict[tuple[Any, ...], Future[SearchResult]] = {}
        self._lock = threading.Lock()  # guards _running

    def get(self, key: tuple[Any, ...], compute: Callable[[], SearchResult]) -> SearchResult:
        hit = self._results.get(key)
        if hit is not None:
            return hit
        with self._lock:
            # put before the running search is forgotten (below): a caller finding neither
            # would search again
            hit = self._results.get(key)
            if hit is not None:
                return hit
            running = self._running.get(key)
            if running is None:
                mine: Future[SearchResult] = Future()
                self._running[key] = mine
        if running is not None:
            return running.result()
        try:
            result = compute()
        except BaseException as exc:
            with self._lock:
                self._running.pop(key, None)
            mine.set_exception(exc)
            raise
        self._results.put(key, result)
        with self._lock:
            self._running.pop(key, None)
        mine.set_result(result)
        return result


def shared_search(
    request: Request, q: str, *, filters: SearchFilters, limit: int
) -> SearchResult:
    """`SearchService.search(q, filters=, limit=)`, shared between identical requests of this
    worker for `api_cache_seconds` and keyed by the content version (pages/cache.py), so a
    change to the catalog is searched anew."""
    from paperfeed.web.pages.cache import page_cache

    state = request.app.state
    recent: RecentSearches | None = getattr(state, "recent_searches", None)
    if recent is None:
        recent = state.recent_searches = RecentSearches(ttl=state.settings.api_cache_seconds)
    depth = max(limit, SHARED_DEPTH)
    version = page_cache(request).version(request, fresh=False)
    result = recent.get(
        (q, filters, depth, version),
        lambda: search_service(request).search(q, filters=filters, limit=depth),
    )
    if len(result.hits) <= limit:
        return result
    return SearchResult(query=result.query, hits=result.hits[:limit], mode=result.mode,
                        used=result.used, notes=result.notes, total=result.total,
                        total_exact=result.total_exact, limited=result.limited)


def parse_date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(
            f"search: {name} must be a date like 2025-06-16, not {value[:40]!r}"
        ) from None


def filters_from(
    *, date_from: str | None, date_to: str | None, cat: str | None, featured: bool, code: bool
) -> SearchFilters:
    cats = tuple(c for c in (cat or "").replace(",", " ").split() if c)[:8]
    return SearchFilters(
        date_from=parse_date(date_from, "from"),
        date_to=parse_date(date_to, "to"),
        categories=cats,
        featured_only=featured,
        has_code=code,
    )


@dataclass(slots=True)
class SearchItem:
    """One result, shaped like feed.FeedItem for the shared `_paper_card.html` partial
    (title and abstract are escaped Markup with <mark>ed query words)."""

    paper_id: str
    title: Markup
    abstract: Markup
    num_authors: int
    upvotes: int
    num_comments: int
    published_at: datetime | None
    hf_comments: int = 0
    row: Any = None
    highlighted_title: bool = False
    highlighted_abstract: bool = False
    pinned: bool = False
    # What the card reads besides the row: set, so `item.authors is defined` in the template
    # is an attribute read, not two caught exceptions and an Undefined (~10 us per card).
    authors: list[Any] = field(default_factory=list)
    organization: Any = None
    submitter: Any = None


# What a result card (`_paper_card.html` through web/card_cache.py) reads of a row: pages ask
# for these only (`items_for(columns=CARD_COLUMNS)` reads them with the comment counts in one
# statement of tuples: storage/search/rows.py `card_rows`); the JSON API, which returns whole
# entries, reads whole rows.
CARD_COLUMNS = CARD_ROW


SNIPPET_WIDTH = 320  # characters of an abstract around its query words


def items_for(
    conn: Connection,
    result: SearchResult,
    *,
    width: int = SNIPPET_WIDTH,
    hits: list[SearchHit] | None = None,
    source: bool = False,
    comments: bool = True,
    columns: tuple[str, ...] | None = None,
) -> list[SearchItem]:
    """Result hits (or just `hits`, the ones a page shows: highlighting is paid only for
    those) -> SearchItems in rank order (rows that vanished meanwhile are skipped).

    Titles and snippets are page HTML with math ready for KaTeX (texmath.marked_html: a
    snippet never cuts a formula, a query word inside one marks all of it); with `source`
    (the JSON API) math stays TeX source, still whole. Without `comments` (callers that count
    them themselves) num_comments is 0. `columns=CARD_COLUMNS` (the pages' cards): read only
    what a card shows, with the comment counts, in one statement of tuples (`row` is then
    None); other columns: `SearchItem.row` holds only those."""
    hits = result.hits if hits is None else hits
    if columns == CARD_COLUMNS:
        return _card_items(conn, result, hits, width=width, source=source)
    rows = papers_by_ids(conn, [h.paper_id for h in hits], columns=columns)
    local_comments = comment_counts(conn, list(rows)) if comments else {}
    shown = [(hit, row) for hit in hits if (row := rows.get(hit.paper_id)) is not None]
    marked = mark_results(result.query, stemmer_for(conn),
                          [(row["title"], row["abstract"]) for _, row in shown],
                          width=width, source=source)
    items: list[SearchItem] = []
    for (hit, row), (title, abstract, found) in zip(shown, marked, strict=True):
        items.append(
            SearchItem(
                paper_id=hit.paper_id,
                title=title,
                abstract=abstract,
                num_authors=len(row["authors"] or []),
                upvotes=int(row["upstream_upvotes"] or 0) + int(row["member_upvotes"] or 0),
                num_comments=local_comments.get(hit.paper_id, 0),
                hf_comments=int(row["upstream_comments"] or 0),
                published_at=row["published_at"],
                row=row,
                highlighted_title="<mark>" in title,
                highlighted_abstract=found,
                pinned=hit.pinned,
                authors=list(row["authors"] or []),
                organization=row["organization"],
            )
        )
    return items


def _card_items(
    conn: Connection, result: SearchResult, hits: list[SearchHit], *, width: int,
    source: bool,
) -> list[SearchItem]:
    """`items_for` for cards: one read of tuples (`card_rows`), one item per shown row."""
    rows = card_rows(conn, [h.paper_id for h in hits])
    shown = [(hit, row) for hit in hits if (row := rows.get(hit.paper_id)) is not None]
    marked = mark_results(result.query, stemmer_for(conn),
                          [(row[1], row[2]) for _, row in shown], width=width, source=source)
    return [
        SearchItem(pid, title, abstract, len(authors), int(up) + int(member_up), comments,
                   published, int(hf), None, "<mark>" in title, found, hit.pinned, authors,
                   org)
        for (hit, (pid, _t, _a, authors, published, org, up, member_up, hf, comments)),
        (title, abstract, found) in zip(shown, marked, strict=True)
    ]


def similar_items(request: Request, paper_id: str, *, k: int = 6) -> list[SearchItem]:
    """"Similar papers" for the paper page: neighbours of the stored vector, [] without one.
    The neighbours are shared like searches (members' paper pages are rendered per visitor:
    their comment forms); the rows, with today's counts, are read each time."""
    from paperfeed.search.query import parse
    from paperfeed.web.pages.cache import page_cache

    state = request.app.state
    recent: RecentSearches | None = getattr(state, "recent_similar", None)
    if recent is None:
        recent = state.recent_similar = RecentSearches(
            ttl=max(state.settings.page_cache_seconds, state.settings.api_cache_seconds),
            max_entries=1024,
        )

    def neighbours() -> SearchResult:
        ids = search_service(request).similar(paper_id, k=k)
        return SearchResult(
            query=parse(""), hits=[SearchHit(paper_id=i, score=0.0) for i in ids],
            mode="similar", used="similar",
        )

    version = page_cache(request).version(request, fresh=False)
    result = recent.get(("similar", paper_id, k, version), neighbours)
    if not result.hits:
        return []
    with request.app.state.engine.connect() as conn:
        return items_for(conn, result, width=240, columns=CARD_COLUMNS)
