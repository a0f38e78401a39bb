"""Pages: upvote buttons, "Submit a paper", and comments (all plain form POSTs with CSRF).

Each form returns to the page it came from (a local `next` path). The upvote route answers
JSON instead when the request asks for it (`Accept: application/json`, sent by
static/upvote.js), so with JavaScript the count updates without a reload.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperfeed.accounts import comments, submissions, voting
from paperfeed.errors import PaperfeedError, public_message
from paperfeed.postingest import after_ingest_quietly
from paperfeed.storage import comments as comment_store
from paperfeed.web import flash
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import ClientIP, CurrentUser, EngineDep, Now, RowId, SettingsDep
from paperfeed.web.pages.account import safe_next
from paperfeed.web.pages.cache import page_cache

router = APIRouter()
CSRF = [Depends(verify_csrf)]


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status
    )


@router.post("/papers/{paper_id:path}/upvote", dependencies=CSRF)
def upvote_form(
    request: Request, paper_id: str, member: CurrentUser, engine: EngineDep,
    settings: SettingsDep, now: Now, ip: ClientIP, background: BackgroundTasks,
    vote: str = Form("1"), next: str = Form("/"),
) -> Response:
    result = voting.set_vote(engine, settings, member, paper_id, up=vote != "0", ip=ip, now=now,
                             later=background.add_task)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(result.as_json())
    target = safe_next(next)
    if "#" not in target:
        target += f"#paper-{result.paper_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/submit")
def submit_page(request: Request, member: CurrentUser) -> Response:
    note = flash.take(request)
    done = None
    if note.get("paper_id"):
        done = submissions.Submission(str(note["paper_id"]), date.fromisoformat(note["day"]),
                                      str(note.get("title", "")))
    response = _page(request, "submit.html", {"error": None, "duplicate": None, "done": done,
                                              "value": ""})
    return flash.consumed(request, response)


@router.post("/submit", dependencies=CSRF)
def submit_form(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, background: BackgroundTasks, paper: str = Form(""),
) -> Response:
    try:
        done = submissions.submit_paper(engine, settings, member, paper, ip=ip, now=now)
    except submissions.DuplicateSubmission as exc:
        return _page(request, "submit.html", {"error": None, "duplicate": exc, "done": None,
                                              "value": paper}, status=409)
    except PaperfeedError as exc:
        if exc.status == 429:
            raise
        return _page(request, "submit.html", {"error": public_message(exc), "duplicate": None,
                                              "done": None, "value": paper}, status=exc.status)
    page_cache(request).clear()
    # the post-ingest step (embedding) right after the response: similar papers, search
    background.add_task(after_ingest_quietly, engine, settings, [done.paper_id])
    return flash.redirect(request, "/submit", paper_id=done.paper_id,
                          day=done.day.isoformat(), title=done.title)


@router.post("/papers/{paper_id:path}/comments", dependencies=CSRF)
def comment_add(
    request: Request, paper_id: str, member: CurrentUser, engine: EngineDep,
    settings: SettingsDep, now: Now, ip: ClientIP, body: str = Form(""),
    next: str = Form(""),
) -> Response:
    comment_id = comments.add_comment(engine, settings, member, paper_id, body, ip=ip, now=now)
    page_cache(request).clear()  # anonymous readers of this worker see it at once
    target = safe_next(next or f"/papers/{paper_id}").split("#")[0]
    return RedirectResponse(f"{target}#comment-{comment_id}", status_code=303)


@router.get("/comments/{comment_id}/edit")
def comment_edit_page(
    request: Request, comment_id: RowId, member: CurrentUser, engine: EngineDep
) -> Response:
    with engine.connect() as conn:
        comment = comment_store.get_comment(conn, comment_id)
    if comment.user_id != member.id or comment.deleted or comment.hidden:
        raise PaperfeedError("comments: you can only change your own comments", status=403)
    return _page(request, "comment_edit.html", {"comment": comment, "error": None})


@router.post("/comments/{comment_id}/edit", dependencies=CSRF)
def comment_edit(
    request: Request, comment_id: RowId, member: CurrentUser, engine: EngineDep, now: Now,
    body: str = Form(""),
) -> Response:
    comment = comments.edit_comment(engine, member, comment_id, body, now=now)
    page_cache(request).clear()
    return RedirectResponse(f"/papers/{comment.paper_id}#comment-{comment_id}", status_code=303)


@router.post("/comments/{comment_id}/delete", dependencies=CSRF)
def comment_delete(
    request: Request, comment_id: RowId, member: CurrentUser, engine: EngineDep
) -> Response:
    comment = comments.delete_comment(engine, member, comment_id)
    page_cache(request).clear()
    return RedirectResponse(f"/papers/{comment.paper_id}#comments", status_code=303)


@router.post("/comments/{comment_id}/hide", dependencies=CSRF)
def comment_hide(
    request: Request, comment_id: RowId, member: CurrentUser, engine: EngineDep, now: Now,
    hidden: str = Form("1"), reason: str = Form(""),
) -> Response:
    comment = comments.hide_comment(engine, member, comment_id, hidden=hidden != "0",
                                    reason=reason, now=now)
    page_cache(request).clear()
    return RedirectResponse(f"/papers/{comment.paper_id}#comment-{comment_id}", status_code=303)
