"""JSON API for a member's own data: `GET /api/me/data` (download) and `DELETE /api/me`
(delete the account), with a Bearer personal access token like the rest of /api/me."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from paperfeed.accounts import own_data
from paperfeed.web.api.json import json_response
from paperfeed.web.deps import ApiUser, EngineDep, Now, SettingsDep
from paperfeed.web.pages.cache import page_cache

router = APIRouter(tags=["members"])


class Deleted(BaseModel):
    deleted: bool
    content: str
    shownAs: str  # noqa: N815 - JSON field names follow the rest of the API


@router.get("/me/data", summary="Download everything the token's member created")
def api_my_data(member: ApiUser, engine: EngineDep, settings: SettingsDep, now: Now) -> Any:
    """The same JSON as "Download my data" on /settings: profile (no password hash), votes,
    comments, submissions, collections with their items, subscription with its deliveries,
    sessions, sign-in links and tokens (names and dates, never the secrets)."""
    data = own_data.export_data(engine, settings, member, now=now)
    return json_response(data, headers={"Cache-Control": "no-store"})


@router.delete("/me", response_model=Deleted, summary="Delete the token's member account")
def api_delete_me(
    request: Request, member: ApiUser, engine: EngineDep, now: Now,
    content: Annotated[Literal["keep", "remove"], Query(
        description="`keep` votes and comments as anonymous, or `remove` them.")],
    confirm: Annotated[str, Query(max_length=64,
                                  description="The member's username, to confirm.")],
) -> dict[str, object]:
    """Deletes the account for good (sessions, sign-in links, tokens -- this one too --,
    collections, subscriptions); 400 unless `confirm` is the member's username."""
    shown = own_data.delete_account(engine, member, content=content, confirm=confirm, now=now)
    page_cache(request).clear()
    return {"deleted": True, "content": content, "shownAs": shown}
