"""Citations: /papers/{id}.bib and .ris (old-style ids too), and a whole collection's
(/collections/{id}.bib and .ris, for whoever may see the collection), as downloads.

Include before `paper` and `collections`, whose /papers/{id} and /collections/{id}.{fmt}
routes would otherwise take `2401.01234.bib` and `7.bib`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed import citations, library
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import parse_arxiv_id
from paperfeed.storage.papers import get_paper
from paperfeed.storage.search import papers_by_ids
from paperfeed.web.deps import load_member

router = APIRouter()
READ = ["GET", "HEAD"]  # feed readers and link checkers ask with HEAD too
TYPES = {"bib": "application/x-bibtex; charset=utf-8",
         "ris": "application/x-research-info-systems; charset=utf-8"}


def _row(request: Request, raw_id: str) -> dict[str, object]:
    try:
        paper_id, _v = parse_arxiv_id(raw_id)
    except BadRequest:
        raise NotFound(f"No paper here: {raw_id[:80]!r} is not an arXiv id") from None
    with request.app.state.engine.connect() as conn:
        row = get_paper(conn, paper_id)
    if row is None or row["hidden"]:
        raise NotFound(f"Paper {paper_id} is not in this catalog")
    return dict(row)


def citation_response(text: str, kind: str, filename: str) -> Response:
    """A .bib / .ris download (shared with collection exports)."""
    return Response(text, media_type=TYPES[kind], headers={
        "Content-Disposition": f'inline; filename="{filename}.{kind}"',
        "Cache-Control": "public, max-age=3600",
    })


def _answer(request: Request, raw_id: str, kind: str) -> Response:
    row = _row(request, raw_id)
    text = citations.bibtex([row]) if kind == "bib" else citations.ris([row])
    return citation_response(text, kind, str(row["id"]).replace("/", "_"))


@router.api_route("/papers/{arxiv_id}.bib", methods=READ, include_in_schema=False)
def paper_bibtex(request: Request, arxiv_id: str) -> Response:
    return _answer(request, arxiv_id, "bib")


@router.api_route("/papers/{arxiv_id}.ris", methods=READ, include_in_schema=False)
def paper_ris(request: Request, arxiv_id: str) -> Response:
    return _answer(request, arxiv_id, "ris")


@router.api_route("/papers/{archive}/{number}.bib", methods=READ, include_in_schema=False)
def old_paper_bibtex(request: Request, archive: str, number: str) -> Response:
    return _answer(request, f"{archive}/{number}", "bib")


@router.api_route("/papers/{archive}/{number}.ris", methods=READ, include_in_schema=False)
def old_paper_ris(request: Request, archive: str, number: str) -> Response:
    return _answer(request, f"{archive}/{number}", "ris")


def _collection(request: Request, collection_id: int, kind: str) -> Response:
    engine = request.app.state.engine
    collection = library.visible_collection(engine, collection_id, load_member(request))
    items, _ = library.collection_items(engine, collection, None, include_read=True)
    with engine.connect() as conn:
        rows = papers_by_ids(conn, [i.paper_id for i in items])
    ordered = [dict(rows[i.paper_id]) for i in items if i.paper_id in rows]
    text = citations.bibtex(ordered) if kind == "bib" else citations.ris(ordered)
    response = citation_response(text, kind, f"collection-{collection_id}")
    if not collection.public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@router.api_route("/collections/{collection_id}.bib", methods=READ, include_in_schema=False)
def collection_bibtex(request: Request, collection_id: int) -> Response:
    return _collection(request, collection_id, "bib")


@router.api_route("/collections/{collection_id}.ris", methods=READ, include_in_schema=False)
def collection_ris(request: Request, collection_id: int) -> Response:
    return _collection(request, collection_id, "ris")
