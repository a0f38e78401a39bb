"""`GET /papers/{id}.md`: a paper as markdown (huggingface_hub's `read_paper`, and anything
else that wants the page as text): title, authors, dates, links, the abstract.

The body is `text/markdown`, never HTML, so the paper's text goes out as it was stored; only
line structure is normalised (a title or an author name cannot start a new markdown block).
Registered above `paper`, whose `/papers/{id}` route would otherwise take `2401.01234.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import parse_arxiv_id
from paperfeed.storage.catalog import comment_counts, featured_facts
from paperfeed.storage.papers import get_paper
from paperfeed.web.api.serialize import num_comments, upvotes

router = APIRouter()


@router.get("/papers/{arxiv_id}.md", include_in_schema=False)
def paper_markdown(request: Request, arxiv_id: str) -> Response:
    return _respond(request, arxiv_id)


@router.get("/papers/{archive}/{number}.md", include_in_schema=False)
def old_style_paper_markdown(request: Request, archive: str, number: str) -> Response:
    return _respond(request, f"{archive}/{number}")


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def render_markdown(
    paper: Mapping[Any, Any], fact: Mapping[Any, Any] | None, *, comments: int, base_url: str
) -> str:
    """The markdown document of one paper (pure: rows in, text out)."""
    pid = paper["id"]
    lines = [f"# {_one_line(paper['title'])}", ""]
    names = [_one_line(a.get("name")) for a in paper.get("authors") or [] if isinstance(a, dict)]
    if names:
        lines.append(f"**Authors:** {', '.join(n for n in names if n)}")
    facts = []
    if paper.get("published_at"):
        facts.append(f"**Published:** {paper['published_at']:%Y-%m-%d}")
    if fact is not None:
        by = fact.get("display_name") or fact.get("username")
        facts.append(
            f"**Daily papers:** {fact['day']:%Y-%m-%d}" + (f" (submitted by {by})" if by else "")
        )
    facts.append(f"**Upvotes:** {upvotes(paper)}")
    facts.append(f"**Comments:** {comments}")
    lines.extend(["", " · ".join(facts), "", "## Links", ""])
    lines.append(f"- Paper page: {base_url}/papers/{pid}")
    lines.append(f"- arXiv: https://arxiv.org/abs/{pid}")
    lines.append(f"- PDF: https://arxiv.org/pdf/{pid}")
    if paper.get("project_page"):
        lines.append(f"- Project page: {_one_line(paper['project_page'])}")
    if paper.get("github_repo"):
        stars = paper.get("github_stars")
        suffix = f" ({stars} stars)" if stars is not None else ""
        lines.append(f"- Code: {_one_line(paper['github_repo'])}{suffix}")
    if paper.get("doi"):
        lines.append(f"- DOI: https://doi.org/{_one_line(paper['doi'])}")
    abstract = "\n\n".join(
        " ".join(par.split()) for par in str(paper["abstract"] or "").split("\n\n") if par.strip()
    )
    lines.extend(["", "## Abstract", "", abstract or "(no abstract)"])
    if paper.get("ai_summary"):
        lines.extend(["", "## AI summary", "", _one_line(paper["ai_summary"])])
    keywords = paper.get("ai_keywords") or []
    if keywords:
        lines.extend(["", f"**Keywords:** {', '.join(_one_line(k) for k in keywords)}"])
    return "\n".join(lines) + "\n"


def _respond(request: Request, raw_id: str) -> Response:
    try:
        paper_id, _version = parse_arxiv_id(raw_id)
    except BadRequest:
        raise NotFound(f"No paper here: {raw_id[:80]!r} is not an arXiv id") from None
    with request.app.state.engine.connect() as conn:
        paper = get_paper(conn, paper_id)
        if paper is None or paper["hidden"]:
            raise NotFound(f"Paper {paper_id} is not in this catalog")
        fact = featured_facts(conn, [paper_id]).get(paper_id)
        local = comment_counts(conn, [paper_id]).get(paper_id, 0)
    text = render_markdown(
        paper,
        fact,
        comments=num_comments(paper, local),
        base_url=request.app.state.settings.base_url.rstrip("/"),
    )
    return Response(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )
