"""`/thumbs/{arxiv_id}`: a paper's picture for cards and paper pages, never slow.

The rendered first page when the thumbnail job made one (a file read), otherwise a generated
SVG cover (one primary-key lookup); pages only carry the `<img>` tag. The cover is cached by
browsers for an hour, so a thumbnail rendered later replaces it soon.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import parse_arxiv_id
from paperfeed.storage.papers import get_paper
from paperfeed.texmath import plain_text
from paperfeed.thumbnails import cover_svg, thumb_path
from paperfeed.web.cards import author_names

router = APIRouter()
READ = ["GET", "HEAD"]  # feed readers and link checkers ask with HEAD too
# The cover is ours and static, but opened on its own it is a document: no scripts, ever.
COVER_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@router.api_route("/thumbs/{raw_id:path}", methods=READ, include_in_schema=False)
def thumbnail(request: Request, raw_id: str) -> Response:
    try:
        paper_id, _version = parse_arxiv_id(raw_id)
    except BadRequest:
        raise NotFound("thumbs: not an arXiv id") from None
    path = thumb_path(request.app.state.settings, paper_id)
    if path.is_file():
        return FileResponse(path, media_type="image/webp",
                            headers={"Cache-Control": "public, max-age=86400"})
    with request.app.state.engine.connect() as conn:
        row = get_paper(conn, paper_id)
    if row is None or row["hidden"]:
        raise NotFound(f"thumbs: paper {paper_id} is not in this catalog")
    names = author_names(row["authors"])
    svg = cover_svg(plain_text(str(row["title"])), names[0] if names else None,
                    row["primary_category"])
    return Response(svg, media_type="image/svg+xml", headers=COVER_HEADERS)
