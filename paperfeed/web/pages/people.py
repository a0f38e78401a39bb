"""People and organisations: /authors/{name}, /organizations[/{name}], /users/{username}.

An author page lists the catalog's papers with that author (newest first) and has a feed
(`/authors/{name}.atom` / `.rss`, handled by the same route because names contain dots). An
organisation page does the same from the Hugging Face `organization` stored with papers. A
member's profile lists their submissions and, when they allow it, their upvotes. Pictures are
generated initials avatars: no page loads anything from another host.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import library
from paperfeed.errors import NotFound
from paperfeed.models import utcnow
from paperfeed.storage import authors, people
from paperfeed.storage.db import write
from paperfeed.syndication import FORMATS, FeedDoc, entries_from_rows
from paperfeed.web.cards import author_url, cards_from_rows, org_url, user_url
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, load_member
from paperfeed.web.feeds import alternates, check_format, feed_response
from paperfeed.web.pages.cache import cached_page

router = APIRouter()
READ = ["GET", "HEAD"]  # feed readers and link checkers ask with HEAD too
PAGE = 50
MAX_NAME = 200


def _split_format(raw: str) -> tuple[str, str | None]:
    """'Ada Lovelace.atom' -> ('Ada Lovelace', 'atom'); 'J. Smith' -> ('J. Smith', None)."""
    head, dot, ext = raw.rpartition(".")
    if dot and ext in FORMATS:
        return head, ext
    return raw, None


def _pager(path: str, page: int, total: int) -> dict[str, Any]:
    pages = max(1, -(-total // PAGE))
    return {
        "page": page, "pages": pages,
        "prev_page_url": f"{path}?p={page - 1}" if page > 0 else None,
        "next_page_url": f"{path}?p={page + 1}" if page + 1 < pages else None,
    }


def _render(request: Request, name: str, context: dict[str, Any]) -> Response:
    context.setdefault("now", utcnow())
    return request.app.state.templates.TemplateResponse(request, name, context)


@router.api_route("/authors/{raw:path}", methods=READ, response_class=HTMLResponse,
                  include_in_schema=False)
def author_page(request: Request, raw: str, p: int = Query(0, ge=0, le=10_000)) -> Response:
    name, fmt = _split_format(raw)
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise NotFound("authors: no author name in the URL")
    if fmt is not None:
        with request.app.state.engine.connect() as conn:
            rows, _total = authors.papers_by_author(conn, name, limit=PAGE)
        doc = FeedDoc(title=f"Papers by {name}", subtitle=f"New papers by {name}",
                      page_path=author_url(name), self_path=author_url(name),
                      entries=entries_from_rows([dict(r) for r in rows]))
        return feed_response(request, doc, check_format(fmt))
    return cached_page(request, lambda: _author(request, name, p))


def _author(request: Request, name: str, page: int) -> Response:
    with request.app.state.engine.connect() as conn:
        rows, total = authors.papers_by_author(conn, name, offset=page * PAGE, limit=PAGE)
        items = cards_from_rows(conn, rows)
    if total == 0:
        raise NotFound(f"No papers by {name[:80]!r} in this catalog")
    path = author_url(name)
    return _render(request, "person.html", {
        "kind": "author", "name": name, "total": total,
        "items": items, "first_rank": page * PAGE + 1,
        "feeds": alternates(path, f"Papers by {name}"), **_pager(path, page, total),
        "search_url": "/search?q=" + _quote_query(f'author:"{name}"'),
    })


def _quote_query(q: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(q)


@router.get("/organizations", response_class=HTMLResponse, include_in_schema=False)
def organizations(request: Request) -> Response:
    def render() -> Response:
        with request.app.state.engine.connect() as conn:
            orgs = authors.top_orgs(conn, limit=200)
        for org in orgs:
            org["url"] = org_url(org["name"])
        return _render(request, "organizations.html", {"orgs": orgs})

    return cached_page(request, render)


@router.api_route("/organizations/{raw:path}", methods=READ, response_class=HTMLResponse,
                  include_in_schema=False)
def organization_page(
    request: Request, raw: str, p: int = Query(0, ge=0, le=10_000)
) -> Response:
    name, fmt = _split_format(raw)
    name = name.strip()[:128]
    with request.app.state.engine.connect() as conn:
        info = authors.org_info(conn, name) if name else None
    if info is None:
        raise NotFound(f"No organisation {name[:80]!r} in this catalog")
    label = info["fullname"] or info["name"]
    path = org_url(info["name"])
    if fmt is not None:
        with request.app.state.engine.connect() as conn:
            rows, _total = authors.papers_by_org(conn, name, limit=PAGE)
        doc = FeedDoc(title=f"Papers from {label}", subtitle=f"New papers from {label}",
                      page_path=path, self_path=path,
                      entries=entries_from_rows([dict(r) for r in rows]))
        return feed_response(request, doc, check_format(fmt))

    def render() -> Response:
        with request.app.state.engine.connect() as conn:
            rows, total = authors.papers_by_org(conn, name, offset=p * PAGE, limit=PAGE)
            items = cards_from_rows(conn, rows)
        return _render(request, "person.html", {
            "kind": "organization", "name": label, "handle": info["name"], "total": total,
            "items": items, "first_rank": p * PAGE + 1,
            "feeds": alternates(path, f"Papers from {label}"), **_pager(path, p, total),
        })

    return cached_page(request, render)


@router.get("/users/{username}", response_class=HTMLResponse, include_in_schema=False)
def member_profile(request: Request, username: str) -> Response:
    with request.app.state.engine.connect() as conn:
        row = people.profile(conn, username[:64])
        if row is None or row["banned"]:
            raise NotFound(f"No member {username[:64]!r} here")
        submitted = people.submitted_papers(conn, row["id"], limit=PAGE)
        counts = people.member_counts(conn, row["id"])
        upvoted = people.upvoted_papers(conn, row["id"], limit=PAGE) if row[
            "public_upvotes"] else []
        submissions = cards_from_rows(conn, submitted)
        upvoted_cards = cards_from_rows(conn, upvoted)
    me = load_member(request)
    collections = library.public_collections_of(request.app.state.engine, row["id"])
    return _render(request, "profile.html", {
        "profile": row, "counts": counts, "submissions": submissions,
        "upvoted": upvoted_cards,
        "is_me": bool(me and me.id == row["id"]),
        "collections": collections,
        "hf_url": ("https://huggingface.co/" + username) if row["external"] else None,
        "user_url": user_url(row["username"]),
    })


@router.post("/settings/privacy", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def settings_privacy(
    engine: EngineDep, member: CurrentUser, public_upvotes: str = Form("")
) -> Response:
    with write(engine) as conn:
        people.set_public_upvotes(conn, member.id, bool(public_upvotes))
    return RedirectResponse("/settings#privacy", status_code=303)


def public_upvotes_of(request: Request) -> bool:
    """Template global for the settings page's checkbox."""
    member = load_member(request)
    if member is None:
        return False
    with request.app.state.engine.connect() as conn:
        return people.public_upvotes(conn, member.id)


def register(env: Any) -> None:
    env.globals["public_upvotes_of"] = public_upvotes_of
