"""The paper page: /papers/{arxiv_id} (and old-style /papers/hep-th/9901001).

Register this router last: its two-segment route would otherwise shadow other
/papers/<a>/<b> pages. A versioned id (2401.01234v2) redirects to the unversioned page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import citations
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import parse_arxiv_id, utcnow
from paperfeed.storage import feeds
from paperfeed.storage.papers import get_paper
from paperfeed.web.deps import load_member
from paperfeed.web.pages.cache import cached_page
from paperfeed.web.searching import similar_items

router = APIRouter()


@router.get("/papers/{arxiv_id}", response_class=HTMLResponse, include_in_schema=False)
def paper_page(request: Request, arxiv_id: str) -> Response:
    return cached_page(request, lambda: _render(request, arxiv_id))


@router.get("/papers/{archive}/{number}", response_class=HTMLResponse, include_in_schema=False)
def old_style_paper_page(request: Request, archive: str, number: str) -> Response:
    return cached_page(request, lambda: _render(request, f"{archive}/{number}"))


def _moderator(request: Request) -> bool:
    """Moderators still see hidden papers (to unhide them)."""
    member = load_member(request)
    return bool(member and member.is_moderator)


def _render(request: Request, raw_id: str) -> Response:
    try:
        paper_id, version = parse_arxiv_id(raw_id)
    except BadRequest:
        raise NotFound(f"No paper here: {raw_id[:80]!r} is not an arXiv id") from None
    if version is not None or paper_id != raw_id:
        return RedirectResponse(f"/papers/{paper_id}", status_code=301)
    with request.app.state.engine.connect() as conn:
        row = get_paper(conn, paper_id)
        if row is None or (row["hidden"] and not _moderator(request)):
            raise NotFound(f"Paper {paper_id} is not in this catalog")
        local_comments = feeds.comment_counts(conn, [paper_id]).get(paper_id, 0)
        featured_on = feeds.featured_days_of(conn, paper_id)
    context = {
        "paper": row,
        "paper_id": paper_id,
        "authors": [a.get("name", "") for a in row["authors"] or []],
        "upvotes": int(row["upstream_upvotes"] or 0) + int(row["member_upvotes"] or 0),
        "num_comments": local_comments,
        "hf_comments": int(row["upstream_comments"] or 0),
        "featured_on": featured_on,
        "now": utcnow(),
        "similar": similar_items(request, paper_id),
        "bibtex": citations.bibtex([dict(row)]),
    }
    return request.app.state.templates.TemplateResponse(request, "paper.html", context)
