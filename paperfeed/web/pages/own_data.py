"""Pages: "download my data" and "delete my account" (with confirmation, POST-redirect-GET)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.accounts import own_data
from paperfeed.errors import PaperfeedError, public_message
from paperfeed.models import Member
from paperfeed.web import cookies, csrf
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, SettingsDep
from paperfeed.web.pages.cache import page_cache

router = APIRouter()
SESSION_COOKIE = csrf.SESSION_COOKIE


@router.get("/settings/data")
def download_data(
    request: Request, engine: EngineDep, settings: SettingsDep, member: CurrentUser, now: Now
) -> Response:
    """Everything the member created, as one JSON file."""
    data = own_data.export_data(engine, settings, member, now=now)
    name = f"{settings.site_name}-{member.username}-{now:%Y%m%d}.json".replace('"', "")
    return Response(
        orjson.dumps(data, option=orjson.OPT_INDENT_2), media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )


def _delete_page(request: Request, member: Member, *, error: str | None = None,
                 content: str = "", status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "delete_account.html",
        {"me": member, "error": error, "content": content}, status_code=status,
    )


@router.get("/settings/delete")
def delete_page(request: Request, member: CurrentUser) -> Response:
    return _delete_page(request, member)


@router.post("/settings/delete", dependencies=[Depends(verify_csrf)])
def delete_account(
    request: Request, engine: EngineDep, member: CurrentUser, now: Now,
    content: str = Form(""), confirm: str = Form(""),
) -> Response:
    try:
        own_data.delete_account(engine, member, content=content, confirm=confirm, now=now)
    except PaperfeedError as exc:
        return _delete_page(request, member, error=public_message(exc), content=content,
                            status=exc.status)
    page_cache(request).clear()
    response = RedirectResponse(f"/account-deleted?content={content}", status_code=303)
    cookies.delete_on(response, request, SESSION_COOKIE)
    csrf.rotate(request, session="")
    return response


@router.get("/account-deleted")
def account_deleted(request: Request, content: str = "") -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "account_deleted.html", {"removed": content == "remove"},
    )
