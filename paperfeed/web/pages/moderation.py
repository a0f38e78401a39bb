"""Pages: moderator actions (hide paper, remove featured entry, ban) and the admin log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.accounts import moderating
from paperfeed.accounts.guards import require_moderator
from paperfeed.errors import PaperfeedError, public_message
from paperfeed.storage import moderation
from paperfeed.web import flash
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, RowId
from paperfeed.web.pages.account import safe_next
from paperfeed.web.pages.cache import page_cache

router = APIRouter()
CSRF = [Depends(verify_csrf)]


@router.post("/papers/{paper_id:path}/hide", dependencies=CSRF)
def paper_hide(
    request: Request, paper_id: str, member: CurrentUser, engine: EngineDep, now: Now,
    hidden: str = Form("1"), reason: str = Form(""), next: str = Form(""),
) -> Response:
    pid = moderating.hide_paper(engine, member, paper_id, hidden=hidden != "0", reason=reason,
                                now=now)
    page_cache(request).clear()  # this worker's cached lists show the change at once
    return RedirectResponse(safe_next(next or f"/papers/{pid}"), status_code=303)


@router.post("/featured/{featured_id}/remove", dependencies=CSRF)
def featured_remove(
    request: Request, featured_id: RowId, member: CurrentUser, engine: EngineDep, now: Now,
    removed: str = Form("1"), reason: str = Form(""), next: str = Form(""),
) -> Response:
    pid = moderating.remove_featured(engine, member, featured_id, removed=removed != "0",
                                     reason=reason, now=now)
    page_cache(request).clear()
    return RedirectResponse(safe_next(next or f"/papers/{pid}"), status_code=303)


def _admin_page(
    request: Request, engine: EngineDep, member: CurrentUser, *, message: str | None = None,
    error: str | None = None, status: int = 200,
) -> Response:
    require_moderator(member)
    log = []
    if member.is_admin:
        with engine.connect() as conn:
            log = moderation.list_log(conn)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "admin.html", {"log": log, "message": message, "error": error},
        status_code=status,
    )


@router.get("/admin")
def admin_page(request: Request, member: CurrentUser, engine: EngineDep) -> Response:
    """Moderators: the ban form. Admins also: the moderation log (who, what, when, why)."""
    note = flash.take(request)
    return flash.consumed(request, _admin_page(request, engine, member,
                                               message=note.get("message")))


@router.post("/admin/ban", dependencies=CSRF)
def admin_ban(
    request: Request, member: CurrentUser, engine: EngineDep, now: Now,
    username: str = Form(""), reason: str = Form(""), banned: str = Form("1"),
) -> Response:
    require_moderator(member)
    try:
        target = moderating.ban_member(engine, member, username, banned=banned != "0",
                                       reason=reason, now=now)
    except PaperfeedError as exc:
        return _admin_page(request, engine, member, error=public_message(exc), status=exc.status)
    verb = "banned" if banned != "0" else "unbanned"
    return flash.redirect(request, "/admin", message=f"{target.username} {verb}.")
