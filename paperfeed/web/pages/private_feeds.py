"""Settings: the member's private feed URLs (get one, see it again, revoke it).

The settings page shows them through the `private_feeds(request)` template global, so
account.py's page needs no change; the forms post here and come back to /settings#feeds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.errors import NotFound
from paperfeed.storage import feed_tokens
from paperfeed.storage.db import write
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, RowId, load_member
from paperfeed.web.feeds import private_kinds, private_url

router = APIRouter()
CSRF = [Depends(verify_csrf)]


def private_feeds(request: Request) -> dict[str, Any]:
    """Template global: {"feeds": [rows with label and URLs], "missing": {kind: label}}."""
    member = load_member(request)
    if member is None:
        return {"feeds": [], "missing": {}}
    kinds = private_kinds()
    with request.app.state.engine.connect() as conn:
        rows = feed_tokens.list_for(conn, member.id)
    out = []
    for row in rows:
        label = kinds.get(row["kind"], row["kind"])
        out.append({"id": row["id"], "label": label + (f": {row['arg']}" if row["arg"] else ""),
                    "atom": private_url(request, row, "atom"),
                    "rss": private_url(request, row, "rss"),
                    "created_at": row["created_at"], "last_used_at": row["last_used_at"]})
    have = {row["kind"] for row in rows if not row["arg"]}
    return {"feeds": out, "missing": {k: v for k, v in kinds.items() if k not in have}}


@router.post("/settings/feeds", dependencies=CSRF, include_in_schema=False)
def feed_create(engine: EngineDep, member: CurrentUser, now: Now,
                kind: str = Form("")) -> Response:
    if kind not in private_kinds():
        raise NotFound(f"feeds: no private feed of kind {kind[:32]!r} on this site")
    with write(engine) as conn:
        feed_tokens.ensure(conn, user_id=member.id, kind=kind, now=now)
    return RedirectResponse("/settings#feeds", status_code=303)


@router.post("/settings/feeds/{token_id}/revoke", dependencies=CSRF, include_in_schema=False)
def feed_revoke(engine: EngineDep, member: CurrentUser, token_id: RowId) -> Response:
    with write(engine) as conn:
        feed_tokens.revoke(conn, user_id=member.id, token_id=token_id)
    return RedirectResponse("/settings#feeds", status_code=303)


def register(env: Any) -> None:
    env.globals["private_feeds"] = private_feeds
