"""`GET /api/papers/search?q=&limit=`: hybrid search in Hugging Face's shape.

Items are shaped like `/api/daily_papers` entries, as huggingface.co answers it: `{paper:
{...}, title, summary, publishedAt, numComments, submittedBy?, isAuthorParticipating, ...}`
(huggingface_hub's `list_papers` reads title, comments and submitter from the top level),
plus `highlightedTitle?` and `highlightedSummary?`: HTML, the text escaped, query words
wrapped in `<mark>`, present only when a query word occurs. Math stays TeX source, as in
`title` and `summary`: a snippet never cuts a formula and a word inside one marks the whole
formula (`<mark>$\\log n$</mark>`), so a client's own KaTeX/MathJax can still typeset it.
Without a query (and without a filter) the answer is the newest papers of the catalog, as
`list_papers()` expects. `q` is limited to 250 characters (400 beyond), `limit`
to 1..120, as on huggingface.co. A response whose keyword ranking was limited (very common
words; the `search_posting_cap` setting) carries `X-Results-Limited: true`. Registered before
`papers` so `{paper_id}` does not shadow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from paperfeed.caching import BoundedCache
from paperfeed.errors import BadRequest
from paperfeed.search.highlight import mark_results
from paperfeed.storage.catalog import comment_counts, featured_facts, list_papers_page
from paperfeed.storage.search import SearchFilters
from paperfeed.storage.search.rows import entry_rows
from paperfeed.storage.stems import stemmer_for
from paperfeed.web.api.json import body_response, json_response
from paperfeed.web.api.schemas import ERROR_RESPONSES, DailyPaper
from paperfeed.web.api.serialize import daily_entry_json
from paperfeed.web.pages.cache import page_cache
from paperfeed.web.searching import SNIPPET_WIDTH, filters_from, shared_search

router = APIRouter(tags=["search"])
MAX_Q = 250
# Set when keywords answered alone under the posting cap (very common words left out, or only
# the most recently added of their matches ranked); the page shows the same as a note.
LIMITED_HEADER = "X-Results-Limited"


class SearchItemBody(DailyPaper):
    highlightedTitle: str | None = Field(None, description="Title as HTML, query words <mark>ed.")
    highlightedSummary: str | None = Field(
        None, description="Abstract snippet as HTML, query words <mark>ed."
    )


@router.get(
    "/papers/search",
    response_model=list[SearchItemBody],
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Search papers by meaning and keywords (huggingface_hub `list_papers`)",
)
def search_papers(
    request: Request,
    q: Annotated[str, Query(description="Query: words, \"phrases\", -exclude, author:, "
                            "cat:, year:; up to 250 characters.")] = "",
    limit: Annotated[int, Query(ge=1, le=120, description="How many results.")] = 50,
    cat: Annotated[str | None, Query(max_length=200, description="Category, e.g. cs.CL.")] = None,
    date_from: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD")] = None,
    featured: Annotated[bool, Query(description="Only papers featured on a daily list.")] = False,
    code: Annotated[bool, Query(description="Only papers with a GitHub repository.")] = False,
) -> Response:
    """Papers ranked by hybrid search (keyword BM25 + semantic, fused); an exact arXiv id, URL
    or title comes first. An empty `q` with no filter lists the newest papers."""
    if len(q) > MAX_Q:
        raise BadRequest(f"api: q is {len(q)} characters; the limit is {MAX_Q}")
    filters = filters_from(
        date_from=date_from, date_to=date_to, cat=cat, featured=featured, code=code
    )
    if not q.strip() and not filters.active:
        with request.app.state.engine.connect() as conn:
            return json_response(_entries(conn, list_papers_page(conn, after=None, limit=limit)))
    version = page_cache(request).version(request, fresh=False)
    answer = _cache(request).get_or_make(
        (q, filters, limit, version), lambda: _build(request, q, filters, limit)
    )
    response = body_response(answer.body)
    if answer.limited:  # a header, so the body keeps huggingface.co's shape (a bare list)
        response.headers[LIMITED_HEADER] = "true"
    return response


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A search's answer as cached: the JSON body, and whether its results were limited."""

    body: bytes
    limited: bool


AnswerCache = BoundedCache[tuple[Any, ...], CachedAnswer]


def answer_cache(*, ttl: float, max_entries: int = 64,
                 max_bytes: int = 2 * 1024 * 1024) -> AnswerCache:
    """~130-200 kB per answer of 50: repeats come within seconds (a reload, a client paging),
    so ~2 MB (10-16 answers per worker) hold them; distinct queries would only grow each
    worker (issue 11: what a worker adds)."""
    return BoundedCache(ttl=ttl, max_entries=max_entries, max_size=max_bytes,
                        sizeof=lambda answer: len(answer.body))


def _cache(request: Request) -> AnswerCache:
    """Serialized answers of identical searches within `api_cache_seconds`, per worker, keyed
    by the content version (and cleared with the page cache after a write in this worker):
    a repeated query costs a dictionary lookup, not rows, highlighting and JSON."""
    state = request.app.state
    cache: AnswerCache | None = getattr(state, "search_api_cache", None)
    if cache is None:
        cache = state.search_api_cache = answer_cache(ttl=state.settings.api_cache_seconds)
        page_cache(request).linked.append(cache)
    return cache


def _build(request: Request, q: str, filters: SearchFilters, limit: int) -> CachedAnswer:
    body, limited = _answer(request, q, filters, limit)
    return CachedAnswer(orjson.dumps(body), limited)


def _answer(
    request: Request, q: str, filters: SearchFilters, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The entries of a search's results, in rank order: their rows, featured facts and
    comment counts in one read (storage/search/rows.py), titles and snippets marked."""
    result = shared_search(request, q, filters=filters, limit=limit)
    with request.app.state.engine.connect() as conn:
        rows = entry_rows(conn, [hit.paper_id for hit in result.hits])
        stemmer = stemmer_for(conn)
    shown = [row for hit in result.hits if (row := rows.get(hit.paper_id)) is not None]
    marked = mark_results(result.query, stemmer,
                          [(paper["title"], paper["abstract"]) for paper, _, _ in shown],
                          width=SNIPPET_WIDTH, source=True)
    body = []
    for (paper, fact, comments), (title, abstract, found) in zip(shown, marked, strict=True):
        entry = daily_entry_json(paper, fact, local_comments=comments)
        if "<mark>" in title:
            entry["highlightedTitle"] = str(title)
        if found:
            entry["highlightedSummary"] = str(abstract)
        body.append(entry)
    return body, bool(result.limited)


def _entries(conn: Connection, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Paper rows -> daily-entry-shaped items (featured facts and comment counts attached)."""
    ids = [r["id"] for r in rows]
    facts = featured_facts(conn, ids)
    counts = comment_counts(conn, ids)
    return [
        daily_entry_json(r, facts.get(r["id"]), local_comments=counts.get(r["id"], 0))
        for r in rows
    ]
