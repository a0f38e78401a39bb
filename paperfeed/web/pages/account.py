"""Pages: sign in (emailed link or password), sign out, and the member's settings page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.accounts import profile, signin
from paperfeed.errors import PaperfeedError, public_message
from paperfeed.models import Member
from paperfeed.storage import users as store
from paperfeed.web import cookies, csrf, flash
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import ClientIP, CurrentUser, EngineDep, Now, RowId, SettingsDep

router = APIRouter()
CSRF = [Depends(verify_csrf)]


def safe_next(value: str | None) -> str:
    """A local path to return to; anything else (other sites, //host) becomes '/'."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def _signed_in(request: Request, settings: Any, cookie: str, next_url: str) -> Response:
    response = RedirectResponse(safe_next(next_url), status_code=303)
    cookies.set_on(response, request, signin.SESSION_COOKIE, cookie,
                   max_age=settings.session_days * 86400)
    csrf.rotate(request, session=cookie)  # a new CSRF cookie with the new session
    return response


def _session_cookie(request: Request) -> str | None:
    return cookies.read(request, signin.SESSION_COOKIE)


def _signed_out(request: Request, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    cookies.delete_on(response, request, signin.SESSION_COOKIE)
    csrf.rotate(request, session="")
    return response


@router.get("/signin")
def signin_page(
    request: Request, sent: int = Query(0, ge=0, le=1), everywhere: int = Query(0, ge=0, le=1),
    next: str = Query("/", max_length=2000),
) -> Response:
    return _page(request, "signin.html", {"sent": bool(sent), "next": safe_next(next),
                                          "error": None, "everywhere": bool(everywhere)})


@router.post("/signin", dependencies=CSRF)
def signin_request(
    request: Request, engine: EngineDep, settings: SettingsDep, now: Now, ip: ClientIP,
    background: BackgroundTasks, email: str = Form(""), next: str = Form("/"),
) -> Response:
    """Always the same answer; the email (if any) goes out after the response."""
    try:
        message = signin.request_link(engine, settings, email, now=now, ip=ip,
                                      next_path=safe_next(next))
    except PaperfeedError as exc:
        if exc.status == 429:
            raise
        return _page(request, "signin.html",
                     {"sent": False, "next": "/", "error": public_message(exc)},
                     status=exc.status)
    if message is not None:
        background.add_task(signin.send_quietly, settings, message)
    return RedirectResponse("/signin?sent=1", status_code=303)


@router.get("/signin/link")
def signin_link_page(
    request: Request, engine: EngineDep, now: Now,
    token: str = Query("", max_length=200), next: str = Query("/", max_length=2000),
) -> Response:
    """A button rather than an instant sign-in: mail scanners that fetch links do not use them.
    The page names the account the link signs into (or the new account it creates), so a
    link someone else sent cannot quietly sign a person into the sender's account."""
    found = signin.describe_link(engine, token, now=now)
    if found is None:
        response = _page(request, "signin.html", {"sent": False, "next": "/",
                                                  "error": public_message(signin.INVALID_LINK)},
                         status=400)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    username, email = found
    response = _page(request, "signin_link.html", {"token": token, "next": safe_next(next),
                                                   "username": username, "email": email})
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/signin/link", dependencies=CSRF)
def signin_link_use(
    request: Request, engine: EngineDep, settings: SettingsDep, now: Now,
    token: str = Form(""), next: str = Form("/"),
) -> Response:
    member = signin.consume_link(engine, token, now=now, settings=settings)
    return _start(request, engine, settings, member, now, next)


@router.post("/signin/password", dependencies=CSRF)
def signin_password(
    request: Request, engine: EngineDep, settings: SettingsDep, now: Now, ip: ClientIP,
    login: str = Form(""), password: str = Form(""), next: str = Form("/"),
) -> Response:
    try:
        member = signin.password_signin(engine, settings, login, password, now=now, ip=ip)
    except PaperfeedError as exc:
        if exc.status == 429:
            raise
        return _page(request, "signin.html", {"sent": False, "next": safe_next(next),
                                              "error": public_message(exc)}, status=exc.status)
    return _start(request, engine, settings, member, now, next)


def _start(
    request: Request, engine: Any, settings: Any, member: Member, now: Any, next_url: str
) -> Response:
    # A new session id on every sign-in; an existing session of this browser ends.
    signin.end_session(engine, settings, _session_cookie(request))
    cookie = signin.start_session(engine, settings, member, now=now)
    return _signed_in(request, settings, cookie, next_url)


@router.post("/signout", dependencies=CSRF)
def signout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    signin.end_session(engine, settings, _session_cookie(request))
    return _signed_out(request, "/")


@router.post("/settings/signout-everywhere", dependencies=CSRF)
def signout_everywhere(
    request: Request, engine: EngineDep, member: CurrentUser, revoke_tokens: str = Form("")
) -> Response:
    """End every session of the member (this one too) and every unused sign-in link."""
    profile.sign_out_everywhere(engine, member, revoke_tokens=bool(revoke_tokens))
    return _signed_out(request, "/signin?everywhere=1")


def _settings_page(
    request: Request, engine: EngineDep, member: Member, *, new_token: str | None = None,
    message: str | None = None, error: str | None = None, status: int = 200,
) -> Response:
    with engine.connect() as conn:
        tokens = store.list_api_tokens(conn, member.id)
        fresh = store.get_by_id(conn, member.id)
    return _page(request, "settings.html", {"me": fresh, "tokens": tokens, "new_token": new_token,
                                            "message": message, "error": error}, status=status)


@router.get("/settings")
def settings_page(request: Request, engine: EngineDep, member: CurrentUser) -> Response:
    note = flash.take(request)
    response = _settings_page(request, engine, member, message=note.get("message"),
                              new_token=note.get("token"))
    return flash.consumed(request, response)


@router.post("/settings/profile", dependencies=CSRF)
def settings_profile(
    request: Request, engine: EngineDep, member: CurrentUser,
    username: str = Form(""), display_name: str = Form(""),
) -> Response:
    try:
        profile.update_profile(engine, member, username=username, display_name=display_name)
    except PaperfeedError as exc:
        return _settings_page(request, engine, member, error=public_message(exc), status=exc.status)
    return flash.redirect(request, "/settings", message="Profile saved.")


@router.post("/settings/password", dependencies=CSRF)
def settings_password(
    request: Request, engine: EngineDep, settings: SettingsDep, member: CurrentUser,
    current: str = Form(""), new: str = Form(""), remove: str = Form(""),
    revoke_tokens: str = Form(""),
) -> Response:
    """Other sessions and unused sign-in links end with every change (this session stays)."""
    keep = signin.session_hash(settings, _session_cookie(request))
    try:
        if remove:
            profile.remove_password(engine, member, current=current, keep_session=keep)
            ended = 0
        else:
            ended = profile.set_password(engine, member, current=current, new=new,
                                         keep_session=keep, revoke_tokens=bool(revoke_tokens))
    except PaperfeedError as exc:
        return _settings_page(request, engine, member, error=public_message(exc), status=exc.status)
    if remove:
        done = "Password removed."
    else:
        done = "Password saved." + (f" Signed out {ended} other session(s)." if ended else "")
    return flash.redirect(request, "/settings", message=done)


@router.post("/settings/tokens", dependencies=CSRF)
def settings_token_create(
    request: Request, engine: EngineDep, member: CurrentUser, now: Now, name: str = Form("")
) -> Response:
    """The settings page shows the new token once (carried by the one-shot flash cookie:
    a reload of the page does not make another token)."""
    token = profile.create_api_token(engine, member, name=name, now=now)
    return flash.redirect(request, "/settings", token=token)


@router.post("/settings/tokens/{token_id}/revoke", dependencies=CSRF)
def settings_token_revoke(
    request: Request, engine: EngineDep, member: CurrentUser, token_id: RowId
) -> Response:
    profile.revoke_api_token(engine, member, token_id)
    return flash.redirect(request, "/settings", message="Token revoked.")
