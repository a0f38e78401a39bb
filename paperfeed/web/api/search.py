"""`GET /api/papers/search?q=&limit=`: hybrid search in Hugging Face's shape.

Items are `{paper: {...as /api/papers/{id}...}, highlightedTitle?, highlightedSummary?}`.
The highlighted fields are HTML: the text escaped, query words wrapped in `<mark>`; they are
present only when a query word occurs. `q` is limited to 250 characters (400 beyond), `limit`
to 1..120, as on huggingface.co. Registered before `papers` so `{paper_id}` does not shadow it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from paperfeed.errors import BadRequest
from paperfeed.storage.catalog import comment_counts, featured_facts
from paperfeed.web.api.json import json_response
from paperfeed.web.api.schemas import ERROR_RESPONSES, PaperBody, _Model
from paperfeed.web.api.serialize import num_comments, paper_json
from paperfeed.web.searching import filters_from, items_for, shared_search

router = APIRouter(tags=["search"])
MAX_Q = 250


class SearchItemBody(_Model):
    paper: PaperBody
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
    or title comes first. An empty `q` with no filter returns an empty list."""
    if len(q) > MAX_Q:
        raise BadRequest(f"api: q is {len(q)} characters; the limit is {MAX_Q}")
    filters = filters_from(
        date_from=date_from, date_to=date_to, cat=cat, featured=featured, code=code
    )
    if not q.strip() and not filters.active:
        return json_response([])
    result = shared_search(request, q, filters=filters, limit=limit)
    with request.app.state.engine.connect() as conn:
        items = items_for(conn, result)
        ids = [i.paper_id for i in items]
        facts = featured_facts(conn, ids)
        counts = comment_counts(conn, ids)
    body = []
    for item in items:
        row = item.row
        entry: dict[str, object] = {
            "paper": paper_json(
                row, facts.get(item.paper_id),
                comments=num_comments(row, counts.get(item.paper_id, 0)),
            )
        }
        if item.highlighted_title:
            entry["highlightedTitle"] = str(item.title)
        if item.highlighted_abstract:
            entry["highlightedSummary"] = str(item.abstract)
        body.append(entry)
    return json_response(body)
