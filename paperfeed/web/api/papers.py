"""`GET /api/papers/{id}` (one paper, HF `paper_info` shape) and `GET /api/papers` (every
indexed paper, newest first, cursor-paginated with a GitHub-style `Link: <...>; rel="next"`).

Registered last in `web/api/__init__.py` so fixed paths such as `/api/papers/search` win over
the `{paper_id}` pattern.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import parse_arxiv_id
from paperfeed.storage.catalog import PaperKey, comment_counts, featured_facts, list_papers_page
from paperfeed.storage.papers import get_paper
from paperfeed.web.api.json import json_response
from paperfeed.web.api.schemas import ERROR_RESPONSES, PaperBody, PaperInfoBody
from paperfeed.web.api.serialize import num_comments, paper_info_json, paper_json

router = APIRouter(tags=["papers"])


def encode_cursor(key: PaperKey) -> str:
    """Opaque cursor: base64url of `[published_at | null, id]`."""
    stamp = key.published_at.isoformat() if key.published_at else None
    return base64.urlsafe_b64encode(orjson.dumps([stamp, key.id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> PaperKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, paper_id = orjson.loads(raw)
        if not isinstance(paper_id, str) or not (stamp is None or isinstance(stamp, str)):
            raise ValueError("bad cursor fields")
        return PaperKey(datetime.fromisoformat(stamp) if stamp else None, paper_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest(
            "api: invalid cursor; use the `cursor` value from the previous page's Link header"
        ) from exc


def _paper_response(request: Request, raw_id: str) -> Response:
    try:
        paper_id, _version = parse_arxiv_id(raw_id)
    except BadRequest as exc:
        raise NotFound(f"api: no paper {raw_id!r} ({exc})") from exc
    with request.app.state.engine.connect() as conn:
        paper = get_paper(conn, paper_id)
        if paper is None or paper["hidden"]:
            raise NotFound(f"api: paper {paper_id} is not in this catalog")
        fact = featured_facts(conn, [paper_id]).get(paper_id)
        local = comment_counts(conn, [paper_id]).get(paper_id, 0)
    return json_response(paper_info_json(paper, fact, comments=num_comments(paper, local)))


@router.get(
    "/papers",
    response_model=list[PaperBody],
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="All indexed papers, newest first",
)
def list_papers(
    request: Request,
    cursor: Annotated[
        str | None, Query(description="Opaque cursor from the previous page's Link header.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Papers per page.")] = 50,
) -> Response:
    """Every indexed paper (featured or not), newest `publishedAt` first. When more papers
    follow, the response carries `Link: <...?cursor=...>; rel="next"` (as huggingface.co's
    paginated endpoints do); an empty list means the end."""
    after = decode_cursor(cursor) if cursor else None
    with request.app.state.engine.connect() as conn:
        rows = list_papers_page(conn, after=after, limit=limit + 1)
        page = rows[:limit]
        ids = [r["id"] for r in page]
        facts = featured_facts(conn, ids)
        counts = comment_counts(conn, ids)
    body = [
        paper_json(r, facts.get(r["id"]), comments=num_comments(r, counts.get(r["id"], 0)))
        for r in page
    ]
    headers = {}
    if len(rows) > limit:
        last = page[-1]
        token = encode_cursor(PaperKey(last["published_at"], last["id"]))
        # From the configured base URL: the request's Host header is the client's to choose.
        base = request.app.state.settings.base_url.rstrip("/")
        query = urlencode({"cursor": token, "limit": limit})
        next_url = f"{base}{request.url.path}?{query}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return json_response(body, headers=headers)


@router.get(
    "/papers/{paper_id}",
    response_model=PaperInfoBody,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="One paper (huggingface_hub `paper_info`)",
)
def get_paper_info(request: Request, paper_id: str) -> Response:
    """A paper by arXiv id (`2401.01234`, with or without version). 404 if not indexed."""
    return _paper_response(request, paper_id)


@router.get(
    "/papers/{archive}/{number}",
    response_model=PaperInfoBody,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="One paper with an old-style id (`hep-th/9901001`)",
)
def get_old_style_paper_info(request: Request, archive: str, number: str) -> Response:
    """Old-style arXiv ids contain a slash, e.g. `/api/papers/hep-th/9901001`."""
    return _paper_response(request, f"{archive}/{number}")
