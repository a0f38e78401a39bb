"""Pages: a member's collections (/collections), one collection (/collections/{id}), and the
forms that save a paper, annotate, reorder (buttons; drag and drop with static/collect.js),
share (public/private) and mark papers read. Feeds: `/collections/{id}.atom|.rss` for public
collections, and a private feed URL (revocable, `web/feeds.py`) for any of the owner's.

Every form is a POST with CSRF that redirects back (POST-redirect-GET). Routes that
static/collect.js calls answer JSON when the request asks for it (`Accept: application/json`).
A private collection is 404 to everyone but its owner, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperfeed import library
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import Member, utcnow
from paperfeed.recommend.service import member_acted
from paperfeed.storage import feed_tokens
from paperfeed.storage.collections import CollectionRow
from paperfeed.storage.db import write
from paperfeed.syndication import FeedDoc, FeedEntry
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, OptionalUser
from paperfeed.web.feeds import (
    alternates,
    check_format,
    feed_response,
    private_url,
    register_private_feed,
)
from paperfeed.web.pages.account import safe_next
from paperfeed.web.pages.cache import page_cache

router = APIRouter()
CSRF = [Depends(verify_csrf)]
FEED_SIZE = 100  # the most recently added papers


def collection_doc(engine: EngineDep, collection: CollectionRow) -> FeedDoc:
    """A collection as a feed: its latest additions first, each with its note."""
    items, _ = library.collection_items(engine, collection, None, include_read=True)
    items.sort(key=lambda i: (i.added_at, i.paper_id), reverse=True)
    entries = [
        FeedEntry(
            paper_id=i.paper_id, title=i.title, abstract=i.abstract,
            authors=[str(a.get("name", "")) for a in i.authors], updated=i.added_at,
            published=i.published_at, note=i.note,
        )
        for i in items[:FEED_SIZE]
    ]
    who = collection.owner_name or collection.owner
    return FeedDoc(
        title=f"{collection.name} (a collection by {who})",
        subtitle=collection.description or f"Papers {who} saved to {collection.name}",
        page_path=f"/collections/{collection.id}", self_path=f"/collections/{collection.id}",
        entries=entries,
    )


def _private_collection_doc(request: Request, member: Member, arg: str) -> FeedDoc:
    """Private feed provider: one of the member's collections (`arg`: its id), or every paper
    they saved (no arg)."""
    engine = request.app.state.engine
    if arg:
        try:
            collection = library.visible_collection(engine, int(arg), member)
        except ValueError:
            raise NotFound("feeds: this private feed URL is not valid") from None
        if collection.user_id != member.id:
            raise NotFound("feeds: this private feed URL is not valid")
        return collection_doc(engine, collection)
    from paperfeed.storage.search import papers_by_ids
    from paperfeed.syndication import entries_from_rows

    saved = library.saved_papers(engine, member.id)[:FEED_SIZE]
    with engine.connect() as conn:
        rows = papers_by_ids(conn, [s.paper_id for s in saved])
    entries = entries_from_rows([dict(rows[s.paper_id]) for s in saved if s.paper_id in rows])
    when = {s.paper_id: s.saved_at for s in saved}
    for entry in entries:
        entry.updated = when[entry.paper_id]
    return FeedDoc(
        title=f"Saved by {member.display_name or member.username}",
        subtitle="Papers you saved to your collections, latest first",
        page_path="/collections", self_path="/collections", entries=entries,
    )


register_private_feed("collection", "Papers I saved (all collections)", _private_collection_doc)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status
    )


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _back(target: str, anchor: str = "") -> RedirectResponse:
    url = safe_next(target)
    if anchor and "#" not in url:
        url += anchor
    return RedirectResponse(url, status_code=303)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "on", "true", "yes", "public")


@router.get("/collections", response_class=HTMLResponse, include_in_schema=False)
def collections_page(request: Request, member: CurrentUser, engine: EngineDep) -> Response:
    rows = library.my_collections(engine, member)
    return _page(request, "collections/index.html", {"collections": rows, "me": member})


@router.post("/collections", dependencies=CSRF, include_in_schema=False)
def collection_create(
    request: Request, member: CurrentUser, engine: EngineDep, now: Now,
    name: str = Form(""), description: str = Form(""), public: str = Form(""),
) -> Response:
    cid = library.create_collection(
        engine, member, name=name, description=description, public=_flag(public), now=now
    )
    return RedirectResponse(f"/collections/{cid}", status_code=303)


@router.get("/collections/{collection_id}.{fmt}", include_in_schema=False)
def collection_feed(request: Request, collection_id: int, fmt: str, engine: EngineDep) -> Response:
    """A public collection's feed (Atom or RSS); private collections have private URLs."""
    fmt = check_format(fmt)
    collection = library.visible_collection(engine, collection_id, None)
    return feed_response(request, collection_doc(engine, collection), fmt)


@router.post("/collections/{collection_id}/feed", dependencies=CSRF, include_in_schema=False)
def collection_private_feed(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
) -> Response:
    """Make (or show again) the owner's private feed URL of a collection."""
    collection = library.visible_collection(engine, collection_id, member)
    if collection.user_id != member.id:
        raise NotFound(f"collections: you have no collection {collection_id}")
    with write(engine) as conn:
        feed_tokens.ensure(conn, user_id=member.id, kind="collection", arg=str(collection_id),
                           now=now)
    return RedirectResponse(f"/collections/{collection_id}#feed", status_code=303)


@router.get("/collections/{collection_id}", response_class=HTMLResponse, include_in_schema=False)
def collection_page(
    request: Request, collection_id: int, engine: EngineDep, viewer: OptionalUser,
    show: str = "",
) -> Response:
    collection = library.visible_collection(engine, collection_id, viewer)
    own = viewer is not None and viewer.id == collection.user_id
    include_read = own and show == "read"
    items, hidden_read = library.collection_items(
        engine, collection, viewer, include_read=include_read
    )
    private_feed = None
    if own and viewer is not None:
        with engine.connect() as conn:
            row = feed_tokens.get_for(conn, user_id=viewer.id, kind="collection",
                                      arg=str(collection.id))
        if row is not None:
            private_feed = {"atom": private_url(request, row, "atom"),
                            "rss": private_url(request, row, "rss")}
    context = {
        "now": utcnow(),
        "feeds": alternates(f"/collections/{collection.id}", collection.name)
        if collection.public else [],
        "private_feed": private_feed,
        "collection": collection,
        "items": items,
        "own": own,
        "hidden_read": hidden_read,
        "include_read": include_read,
        "share_url": f"{request.app.state.settings.base_url.rstrip('/')}/collections/"
        f"{collection.id}",
    }
    return _page(request, "collections/view.html", context)


@router.post("/collections/{collection_id}/edit", dependencies=CSRF, include_in_schema=False)
def collection_edit(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
    name: str = Form(""), description: str = Form(""), public: str = Form(""),
) -> Response:
    library.update_collection(
        engine, member, collection_id, name=name, description=description,
        public=_flag(public), now=now,
    )
    page_cache(request).clear()
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.post("/collections/{collection_id}/delete", dependencies=CSRF, include_in_schema=False)
def collection_delete(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep
) -> Response:
    library.delete_collection(engine, member, collection_id)
    page_cache(request).clear()
    return RedirectResponse("/collections", status_code=303)


@router.post("/collections/{collection_id}/remove", dependencies=CSRF, include_in_schema=False)
def collection_remove(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
    paper: str = Form(""), next: str = Form(""),
) -> Response:
    library.remove_paper(engine, member, collection_id, paper, now=now)
    page_cache(request).clear()
    if _wants_json(request):
        return JSONResponse({"collection": collection_id, "paper": paper, "removed": True})
    return _back(next or f"/collections/{collection_id}")


@router.post("/collections/{collection_id}/note", dependencies=CSRF, include_in_schema=False)
def collection_note(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
    paper: str = Form(""), note: str = Form(""), next: str = Form(""),
) -> Response:
    library.set_note(engine, member, collection_id, paper, note, now=now)
    page_cache(request).clear()
    return _back(next or f"/collections/{collection_id}", f"#item-{paper}")


@router.post("/collections/{collection_id}/move", dependencies=CSRF, include_in_schema=False)
def collection_move(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
    paper: str = Form(""), direction: str = Form(""), show: str = Form(""),
) -> Response:
    order = library.move(
        engine, member, collection_id, paper, direction, include_read=show == "read", now=now
    )
    page_cache(request).clear()
    if _wants_json(request):
        return JSONResponse({"collection": collection_id, "order": order})
    suffix = "?show=read" if show == "read" else ""
    return _back(f"/collections/{collection_id}{suffix}", f"#item-{paper}")


@router.post("/collections/{collection_id}/order", dependencies=CSRF, include_in_schema=False)
async def collection_order(
    request: Request, collection_id: int, member: CurrentUser, engine: EngineDep, now: Now,
) -> Response:
    """The new order from drag and drop: repeated `paper` fields, top to bottom."""
    form = await request.form()
    papers = [str(v) for v in form.getlist("paper")]
    if not papers:
        raise BadRequest("collections: send the papers in their new order")
    order = library.reorder(engine, member, collection_id, papers, now=now)
    page_cache(request).clear()
    if _wants_json(request):
        return JSONResponse({"collection": collection_id, "order": order})
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.post("/papers/{paper_id:path}/save", dependencies=CSRF, include_in_schema=False)
def paper_save(
    request: Request, paper_id: str, member: CurrentUser, engine: EngineDep, now: Now,
    collection: str = Form(""), new_collection: str = Form(""), note: str | None = Form(None),
    next: str = Form(""),
) -> Response:
    """Save to the chosen collection, to a new one (named in `new_collection`), or (neither)
    to the member's "Reading list"."""
    cid: int | None = None
    if collection.strip() and collection.strip() != "new":
        try:
            cid = int(collection)
        except ValueError:
            raise BadRequest("collections: choose one of your collections") from None
    done = library.save_paper(
        engine, member, paper_id, collection_id=cid,
        new_collection=new_collection if cid is None else None, note=note, now=now,
    )
    page_cache(request).clear()
    if done.added:  # a save is a "for you" signal
        member_acted(engine, request.app.state.settings, member.id, now=now)
    if _wants_json(request):
        return JSONResponse({
            "paper": done.paper_id, "collection": done.collection_id,
            "collectionName": done.collection_name, "added": done.added,
            "url": f"/collections/{done.collection_id}",
        })
    return _back(next or f"/papers/{done.paper_id}", f"#paper-{done.paper_id}")


@router.post("/papers/{paper_id:path}/read", dependencies=CSRF, include_in_schema=False)
def paper_read(
    request: Request, paper_id: str, member: CurrentUser, engine: EngineDep, now: Now,
    read: str = Form("1"), next: str = Form(""),
) -> Response:
    """Mark a paper read (it leaves the member's views of their collections) or unread."""
    library.mark_read(engine, member, paper_id, read=read != "0", now=now)
    if _wants_json(request):
        return JSONResponse({"paper": paper_id, "read": read != "0"})
    return _back(next or f"/papers/{paper_id}")
