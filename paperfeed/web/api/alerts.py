"""JSON API for saved searches (alerts), Bearer personal access token: list, create, change,
delete, and read a search's matches (newest first)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from paperfeed.alerts import searches
from paperfeed.storage.alerts import MatchRow, SearchRow
from paperfeed.web.deps import ApiUser, EngineDep, Now, SettingsDep

router = APIRouter(tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    name: str
    query: str
    likePaper: str | None = Field(None, description="Papers like this one (arXiv id).")  # noqa: N815
    semantic: bool = Field(description="Also papers close in meaning.")
    delivery: str = Field(description="daily | weekly | digest | none (page and feed only)")
    numMatches: int  # noqa: N815
    createdAt: datetime  # noqa: N815
    lastMatchAt: datetime | None  # noqa: N815
    url: str


class AlertIn(BaseModel):
    query: str = Field("", description="Words and filters in the search syntax.")
    like: str | None = Field(None, description="An arXiv id: new papers like this one.")
    name: str | None = None
    semantic: bool = False
    delivery: str = "daily"


class AlertPatch(BaseModel):
    name: str | None = None
    query: str | None = None
    semantic: bool | None = None
    delivery: str | None = None


class MatchOut(BaseModel):
    id: str
    title: str
    matchedAt: datetime  # noqa: N815
    via: str = Field(description="words | meaning | like")
    score: float
    publishedAt: datetime | None  # noqa: N815
    url: str


def _out(request: Request, row: SearchRow) -> AlertOut:
    base = request.app.state.settings.base_url.rstrip("/")
    return AlertOut(
        id=row.id, name=row.name, query=row.query, likePaper=row.like_paper_id,
        semantic=row.semantic, delivery=row.delivery, numMatches=row.matches,
        createdAt=row.created_at, lastMatchAt=row.last_match_at, url=f"{base}/alerts/{row.id}",
    )


def _match(request: Request, m: MatchRow) -> MatchOut:
    base = request.app.state.settings.base_url.rstrip("/")
    return MatchOut(id=m.paper_id, title=m.title, matchedAt=m.matched_at, via=m.via,
                    score=m.score, publishedAt=m.published_at, url=f"{base}/papers/{m.paper_id}")


@router.get("/me/alerts", response_model=list[AlertOut])
def api_alerts(request: Request, member: ApiUser, engine: EngineDep) -> list[AlertOut]:
    """The token's member's saved searches, newest first."""
    return [_out(request, r) for r in searches.my_searches(engine, member)]


@router.post("/me/alerts", response_model=AlertOut, status_code=201)
def api_create_alert(
    request: Request, body: AlertIn, member: ApiUser, engine: EngineDep, settings: SettingsDep,
    now: Now,
) -> AlertOut:
    """Save a search: `query` (words and filters), `like` (papers like one), or both."""
    sid = searches.create_search(
        engine, settings, member, query=body.query, like=body.like, name=body.name,
        semantic=body.semantic, delivery=body.delivery, now=now,
    )
    return _out(request, searches.own_search(engine, member, sid))


@router.get("/me/alerts/{search_id}", response_model=AlertOut)
def api_alert(request: Request, search_id: int, member: ApiUser, engine: EngineDep) -> AlertOut:
    return _out(request, searches.own_search(engine, member, search_id))


@router.patch("/me/alerts/{search_id}", response_model=AlertOut)
def api_update_alert(
    request: Request, search_id: int, body: AlertPatch, member: ApiUser, engine: EngineDep,
    settings: SettingsDep, now: Now,
) -> AlertOut:
    searches.update_search(
        engine, settings, member, search_id, name=body.name, query=body.query,
        semantic=body.semantic, delivery=body.delivery, now=now,
    )
    return _out(request, searches.own_search(engine, member, search_id))


@router.delete("/me/alerts/{search_id}", status_code=204)
def api_delete_alert(search_id: int, member: ApiUser, engine: EngineDep) -> Response:
    searches.delete_search(engine, member, search_id)
    return Response(status_code=204)


@router.get("/me/alerts/{search_id}/matches", response_model=list[MatchOut])
def api_alert_matches(
    request: Request, search_id: int, member: ApiUser, engine: EngineDep,
    limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000),
) -> list[MatchOut]:
    """New papers that matched the search, newest first."""
    _search, rows = searches.search_matches(engine, member, search_id, limit=limit,
                                            offset=offset)
    return [_match(request, m) for m in rows]
