"""JSON API for collections: a member's lists under /api/me (Bearer personal access token) and
public collections under /api/collections/{id} (no token needed).

Writes are idempotent where a client would retry: `PUT .../papers/{id}` saves (again: the
note is replaced when given), `DELETE` of a paper that is not there is still 204, `PUT
.../order` sets the order. Read papers are left out of a member's own lists unless
`include_read=true` (each item says `read`), as on the pages.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from paperfeed import library
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import Member
from paperfeed.recommend.service import member_acted
from paperfeed.storage.collections import CollectionRow, ItemRow
from paperfeed.web.deps import ApiUser, EngineDep, Now
from paperfeed.web.pages.cache import page_cache

router = APIRouter(tags=["collections"])


class CollectionPaper(BaseModel):
    id: str
    title: str
    note: str | None
    position: int
    addedAt: datetime  # noqa: N815 - JSON field names follow the rest of the API
    read: bool


class CollectionOut(BaseModel):
    id: int
    name: str
    description: str | None
    public: bool
    owner: str
    url: str
    numPapers: int  # noqa: N815
    createdAt: datetime  # noqa: N815
    updatedAt: datetime  # noqa: N815
    papers: list[CollectionPaper] | None = Field(
        None, description="The papers in list order (left out when include_papers=false)."
    )


class CollectionIn(BaseModel):
    name: str = Field(description="Unique among the member's collections (case-insensitive).")
    description: str | None = None
    public: bool = False


class CollectionPatch(BaseModel):
    name: str | None = None
    description: str | None = None
    public: bool | None = None


class SavePaperIn(BaseModel):
    note: str | None = Field(None, description="Replaces the paper's note when given.")


class SavedOut(BaseModel):
    collection: int
    paper: str
    added: bool = Field(description="False when the paper was already in the collection.")


class OrderIn(BaseModel):
    papers: list[str] = Field(
        description="Paper ids in their new order; a part of the list is rearranged among the "
        "places it holds."
    )


class OrderOut(BaseModel):
    collection: int
    papers: list[str]


class ReadOut(BaseModel):
    paper: str
    read: bool
    changed: bool


def _item(row: ItemRow) -> CollectionPaper:
    return CollectionPaper(
        id=row.paper_id, title=row.title, note=row.note, position=row.position,
        addedAt=row.added_at, read=row.read,
    )


def _out(
    request: Request, row: CollectionRow, papers: list[ItemRow] | None
) -> CollectionOut:
    base = request.app.state.settings.base_url.rstrip("/")
    return CollectionOut(
        id=row.id, name=row.name, description=row.description, public=row.public,
        owner=row.owner, url=f"{base}/collections/{row.id}", numPapers=row.count,
        createdAt=row.created_at, updatedAt=row.updated_at,
        papers=[_item(p) for p in papers] if papers is not None else None,
    )


def _full(
    request: Request, engine: EngineDep, row: CollectionRow, viewer: Member | None,
    include_read: bool,
) -> CollectionOut:
    items, _ = library.collection_items(engine, row, viewer, include_read=include_read)
    return _out(request, row, items)


@router.get("/me/collections", response_model=list[CollectionOut])
def api_my_collections(
    request: Request, member: ApiUser, engine: EngineDep, include_papers: bool = True,
    include_read: bool = False,
) -> list[CollectionOut]:
    """The token's member's collections, most recently changed first, with their papers."""
    rows = library.my_collections(engine, member)
    if not include_papers:
        return [_out(request, r, None) for r in rows]
    return [_full(request, engine, r, member, include_read) for r in rows]


@router.post("/me/collections", response_model=CollectionOut, status_code=201)
def api_create_collection(
    request: Request, body: CollectionIn, member: ApiUser, engine: EngineDep, now: Now
) -> CollectionOut:
    """Create a collection (409 when the member already has one of that name)."""
    cid = library.create_collection(
        engine, member, name=body.name, description=body.description, public=body.public,
        now=now,
    )
    return _full(request, engine, library.visible_collection(engine, cid, member), member, False)


@router.get("/me/collections/{collection_id}", response_model=CollectionOut)
def api_my_collection(
    request: Request, collection_id: int, member: ApiUser, engine: EngineDep,
    include_read: bool = False,
) -> CollectionOut:
    row = library.visible_collection(engine, collection_id, member)
    if row.user_id != member.id:
        raise NotFound(f"collections: you have no collection {collection_id}")
    return _full(request, engine, row, member, include_read)


@router.patch("/me/collections/{collection_id}", response_model=CollectionOut)
def api_update_collection(
    request: Request, collection_id: int, body: CollectionPatch, member: ApiUser,
    engine: EngineDep, now: Now,
) -> CollectionOut:
    """Rename, describe, or make public / private."""
    library.update_collection(
        engine, member, collection_id, name=body.name, description=body.description,
        public=body.public, now=now,
    )
    page_cache(request).clear()
    row = library.visible_collection(engine, collection_id, member)
    return _full(request, engine, row, member, False)


@router.delete("/me/collections/{collection_id}", status_code=204)
def api_delete_collection(
    request: Request, collection_id: int, member: ApiUser, engine: EngineDep
) -> Response:
    library.delete_collection(engine, member, collection_id)
    page_cache(request).clear()
    return Response(status_code=204)


@router.put("/me/collections/{collection_id}/order", response_model=OrderOut)
def api_order(
    request: Request, collection_id: int, body: OrderIn, member: ApiUser, engine: EngineDep,
    now: Now,
) -> OrderOut:
    """Reorder the collection (the full new order is returned)."""
    if not body.papers:
        raise BadRequest("collections: send the papers in their new order")
    order = library.reorder(engine, member, collection_id, body.papers, now=now)
    page_cache(request).clear()
    return OrderOut(collection=collection_id, papers=order)


@router.put("/me/collections/{collection_id}/papers/{paper_id:path}", response_model=SavedOut)
def api_save_paper(
    request: Request, collection_id: int, paper_id: str, member: ApiUser, engine: EngineDep,
    now: Now, body: SavePaperIn | None = None,
) -> SavedOut:
    """Save a paper to the collection (at the end); saving again only replaces the note."""
    done = library.save_paper(
        engine, member, paper_id, collection_id=collection_id,
        note=body.note if body is not None else None, now=now,
    )
    page_cache(request).clear()
    if done.added:  # a save is a "for you" signal
        member_acted(engine, request.app.state.settings, member.id, now=now)
    return SavedOut(collection=done.collection_id, paper=done.paper_id, added=done.added)


@router.delete("/me/collections/{collection_id}/papers/{paper_id:path}", status_code=204)
def api_remove_paper(
    request: Request, collection_id: int, paper_id: str, member: ApiUser, engine: EngineDep,
    now: Now,
) -> Response:
    library.remove_paper(engine, member, collection_id, paper_id, now=now)
    page_cache(request).clear()
    return Response(status_code=204)


@router.put("/me/read/{paper_id:path}", response_model=ReadOut)
def api_mark_read(paper_id: str, member: ApiUser, engine: EngineDep, now: Now) -> ReadOut:
    """Mark a paper read: it leaves the member's own lists (idempotent)."""
    changed = library.mark_read(engine, member, paper_id, read=True, now=now)
    return ReadOut(paper=library.normal_id(paper_id), read=True, changed=changed)


@router.delete("/me/read/{paper_id:path}", response_model=ReadOut)
def api_mark_unread(paper_id: str, member: ApiUser, engine: EngineDep, now: Now) -> ReadOut:
    changed = library.mark_read(engine, member, paper_id, read=False, now=now)
    return ReadOut(paper=library.normal_id(paper_id), read=False, changed=changed)


@router.get("/collections/{collection_id}", response_model=CollectionOut)
def api_public_collection(
    request: Request, collection_id: int, engine: EngineDep
) -> CollectionOut:
    """A public collection, for anyone (404 for private ones)."""
    row = library.visible_collection(engine, collection_id, None)
    return _full(request, engine, row, None, True)
