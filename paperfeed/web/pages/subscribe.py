"""Digest subscription pages: subscribe (double opt-in), confirm, unsubscribe, preferences.

Subscribing needs no account. The answer to a subscribe request is the same whatever the
address's state (no enumeration); the mail goes out in a background task. Confirm,
unsubscribe and preferences are reached through signed links from the mail. Unsubscribe is
CSRF-exempt: its signed token authenticates it, and mail clients POST to it directly
(RFC 8058 `List-Unsubscribe=One-Click`); GET only shows a confirmation button, so link
scanners cannot unsubscribe anyone. Confirm likewise needs a POST from the page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.digests.editions import check_frequency
from paperfeed.digests.links import Links
from paperfeed.digests.subscribe import ANSWER, request_subscription, send_now
from paperfeed.models import utcnow
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from paperfeed.web import flash
from paperfeed.web.csrf import verify_csrf

router = APIRouter(tags=["subscriptions"])


def _page(request: Request, template: str, *, http_status: int = 200, **ctx: Any) -> HTMLResponse:
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, f"subscriptions/{template}", ctx, status_code=http_status
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # tokens are in the URL
    return response


def _message(request: Request, heading: str, message: str, **ctx: Any) -> HTMLResponse:
    return _page(request, "message.html", heading=heading, message=message, **ctx)


def _links(request: Request) -> Links:
    return Links(request.app.state.settings)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> HTMLResponse:
    return _page(request, "subscribe.html")


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def subscribe(
    request: Request,
    background: BackgroundTasks,
    email: str = Form("", max_length=1000),
    frequency: str = Form("daily", max_length=20),
) -> Response:
    settings = request.app.state.settings
    address, mail = request_subscription(
        request.app.state.engine,
        settings,
        email=email,
        frequency=frequency,
        client=client_key(request),
        now=utcnow(),
    )
    background.add_task(send_now, settings, mail)
    return flash.redirect(request, "/subscribe/sent", email=address)


@router.get("/subscribe/sent", response_class=HTMLResponse)
def subscribe_sent(request: Request) -> Response:
    """Where a subscribe request lands (POST-redirect-GET): a reload sends nothing again."""
    email = flash.take(request).get("email")
    text = ANSWER.format(email=email) if email else ANSWER.format(email="the address you gave")
    return flash.consumed(request, _message(request, "Almost there", text))


@router.get("/subscribe/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, token: str = Query("", max_length=2000)) -> HTMLResponse:
    email, frequency = _links(request).read_confirm(token)
    return _page(request, "confirm.html", email=email, frequency=frequency, token=token)


@router.post("/subscribe/confirm", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def confirm(request: Request, token: str = Form("", max_length=2000)) -> Response:
    links = _links(request)
    email, frequency, since = links.read_confirm_claim(token)
    with write(request.app.state.engine) as conn:
        row = sstore.confirm_link(conn, email, frequency, since, now=utcnow())
    return _to_preferences(links.manage_token(row["id"], row["email"]), "subscribed")


def _to_preferences(token: str, done: str) -> RedirectResponse:
    """303 to the preferences page, which says what was just `done` (a fixed code, never
    text from the request)."""
    return RedirectResponse(
        f"/subscribe/preferences?{urlencode({'token': token, 'done': done})}", status_code=303
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = Query("", max_length=2000)) -> HTMLResponse:
    links = _links(request)
    claim = links.read_manage(token)
    return _page(
        request,
        "unsubscribe.html",
        email=claim.email,
        token=token,
        preferences_url=links.preferences_url(claim.subscription_id, claim.email),
    )


@router.post("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str = Query("", max_length=2000)) -> Response:
    """One-click unsubscribe (RFC 8058): the token may come in the query (List-Unsubscribe
    URL) or the form; the `List-Unsubscribe=One-Click` body is accepted and not required.
    A mail client's one-click POST gets its answer here; the button on our page is
    redirected to the preferences page (POST-redirect-GET)."""
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if not token:
        value = form.get("token")
        token = value if isinstance(value, str) else ""
    links = _links(request)
    claim = links.read_manage(token)
    with write(request.app.state.engine) as conn:
        row = sstore.get_for_link(conn, claim.subscription_id, claim.email)
        if row is not None:
            sstore.unsubscribe(conn, row["id"], now=utcnow())
    if row is not None and not one_click:
        return _to_preferences(token, "unsubscribed")
    return _message(
        request,
        "You are unsubscribed",
        f"{claim.email} will not receive the digest any more. Changed your mind? Subscribe "
        "again from the preferences page.",
        preferences_url=links.preferences_url(claim.subscription_id, claim.email)
        if row is not None
        else None,
    )


DONE = {
    "subscribed": "You are subscribed: {email} will receive the {frequency} digest of trending "
    "papers. Every message has a link to change the frequency or unsubscribe.",
    "saved": "Saved: {frequency} digest to {email}.",
    "unsubscribed": "You are unsubscribed: {email} will not receive the digest any more. "
    "Changed your mind? Subscribe again below.",
}


@router.get("/subscribe/preferences", response_class=HTMLResponse)
def preferences_page(
    request: Request, token: str = Query("", max_length=2000), done: str = ""
) -> HTMLResponse:
    claim = _links(request).read_manage(token)
    with request.app.state.engine.connect() as conn:
        row = sstore.get_for_link(conn, claim.subscription_id, claim.email)
    if row is None:
        return _message(
            request,
            "No subscription",
            f"{claim.email} has no subscription any more. Subscribe again from any list page.",
        )
    return _page(
        request,
        "preferences.html",
        email=row["email"],
        status=row["status"],
        frequency=row["frequency"],
        token=token,
        saved=DONE[done].format(email=row["email"], frequency=row["frequency"])
        if done in DONE else "",
    )


@router.post(
    "/subscribe/preferences", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)]
)
def save_preferences(
    request: Request,
    token: str = Form("", max_length=2000),
    frequency: str = Form("daily", max_length=20),
) -> Response:
    claim = _links(request).read_manage(token)
    freq = check_frequency(frequency)
    with write(request.app.state.engine) as conn:
        row = sstore.get_for_link(conn, claim.subscription_id, claim.email)
        if row is not None:
            if row["status"] == "confirmed":
                sstore.set_frequency(conn, row["id"], freq)
            else:  # a signed link proves the address: subscribing again needs no new mail
                sstore.confirm(conn, row["email"], freq, now=utcnow())
    return _to_preferences(token, "saved")
