"""Pages: a member's collections (/collections), one collection (/collections/{id}), and the
forms that save a paper, annotate, reorder (buttons; drag and drop with static/collect.js),
share (public/private) and mark papers read.

Every form is a POST with CSRF that redirects back (POST-redirect-GET). Routes that
static/collect.js calls answer JSON when the request asks for it (`Accept: application/json`).
A private collection is 404 to everyone but its owner, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperfeed import library
from paperfeed.errors import BadRequest
from paperfeed.models import utcnow
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, OptionalUser
from paperfeed.web.pages.account import safe_next
from paperfeed.web.pages.cache import page_cache

router = APIRouter()
CSRF = [Depends(verify_csrf)]


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
    context = {
        "now": utcnow(),
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
