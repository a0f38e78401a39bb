"""Pages: a member's saved searches (/alerts), one search with its matches (/alerts/{id}),
the forms that save one (from the search page, a paper page or /alerts), change or delete it,
and the signed one-click link in alert mail that stops alert emails. Feeds: a private feed
URL per search (`web/feeds.py`), and one of all the member's alerts.

Forms are POSTs with CSRF that redirect (POST-redirect-GET). `/alerts/unsubscribe` is
CSRF-exempt like the digest's: its signed token authenticates it and mail clients POST to it
directly (RFC 8058); GET only shows a button, so link scanners change nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.alerts import searches
from paperfeed.alerts.mail import AlertLinks
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import Member, utcnow
from paperfeed.storage import alerts as store
from paperfeed.storage import feed_tokens
from paperfeed.storage.db import write
from paperfeed.storage.users import get_by_id
from paperfeed.syndication import FeedDoc, FeedEntry
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import CurrentUser, EngineDep, Now, SettingsDep
from paperfeed.web.feeds import private_url, register_private_feed
from paperfeed.web.pages.account import safe_next

router = APIRouter()
CSRF = [Depends(verify_csrf)]
PAGE = 50
FEED_SIZE = 100


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status
    )


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "on", "true", "yes")


def _id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise NotFound(f"alerts: there is no saved search {raw[:24]!r}") from None


# -- feeds --------------------------------------------------------------------------------
def _entries(rows: list[store.MatchRow]) -> list[FeedEntry]:
    return [
        FeedEntry(
            paper_id=m.paper_id, title=m.title, abstract=m.abstract,
            authors=[str(a.get("name", "")) for a in m.authors], updated=m.matched_at,
            published=m.published_at, categories=list(m.categories),
        )
        for m in rows
    ]


def _alerts_doc(request: Request, member: Member, arg: str) -> FeedDoc:
    """Private feed provider: one saved search's matches (`arg`: its id), or (no arg) the
    matches of all the member's saved searches, newest first."""
    engine = request.app.state.engine
    if arg:
        search, rows = searches.search_matches(engine, member, _id(arg), limit=FEED_SIZE)
        return FeedDoc(
            title=f"Saved search: {search.name}",
            subtitle=f"New papers matching {search.query or search.name}",
            page_path=f"/alerts/{search.id}", self_path=f"/alerts/{search.id}",
            entries=_entries(rows),
        )
    collected: list[store.MatchRow] = []
    for search in searches.my_searches(engine, member):
        collected += searches.search_matches(engine, member, search.id, limit=FEED_SIZE)[1]
    unique: dict[str, store.MatchRow] = {}
    for m in sorted(collected, key=lambda m: m.matched_at, reverse=True):
        unique.setdefault(m.paper_id, m)
    return FeedDoc(
        title=f"Alerts of {member.name}",
        subtitle="New papers matching your saved searches",
        page_path="/alerts", self_path="/alerts",
        entries=_entries(list(unique.values())[:FEED_SIZE]),
    )


register_private_feed("saved-search", "My saved searches (all alerts)", _alerts_doc)


# -- pages --------------------------------------------------------------------------------
@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(
    request: Request, member: CurrentUser, engine: EngineDep, q: str = Query("", max_length=1000),
) -> Response:
    from paperfeed.storage import subscriptions as sstore

    rows = searches.my_searches(engine, member)
    with engine.connect() as conn:
        sub = sstore.get_by_email(conn, member.email or "") if member.email else None
    digest_ok = sub is not None and sub["status"] == "confirmed"
    return _page(request, "alerts/index.html", {
        "searches": rows, "labels": searches.DELIVERY_LABELS, "query": q,
        "digest_ok": digest_ok, "max": request.app.state.settings.alerts_max_per_member,
    })


@router.post("/alerts", dependencies=CSRF, include_in_schema=False)
def alert_create(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    query: str = Form(""), like: str = Form(""), name: str = Form(""),
    semantic: str = Form(""), delivery: str = Form("daily"),
) -> Response:
    sid = searches.create_search(
        engine, settings, member, query=query, like=like or None, name=name or None,
        semantic=_flag(semantic), delivery=delivery, now=now,
    )
    return RedirectResponse(f"/alerts/{sid}?saved=1", status_code=303)


@router.get("/alerts/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def alerts_unsubscribe_page(
    request: Request, token: str = Query("", max_length=2000)
) -> Response:
    uid, email, frequency = AlertLinks(request.app.state.settings).read(token)
    return _page(request, "alerts/unsubscribe.html",
                 {"token": token, "email": email, "frequency": frequency, "done": False})


@router.post("/alerts/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
async def alerts_unsubscribe(
    request: Request, token: str = Query("", max_length=2000)
) -> Response:
    """One-click (RFC 8058): the token may come in the query or the form."""
    if not token:
        form = await request.form()
        value = form.get("token")
        token = value if isinstance(value, str) else ""
    uid, email, frequency = AlertLinks(request.app.state.settings).read(token)
    engine = request.app.state.engine
    with write(engine) as conn:
        member = get_by_id(conn, uid)
        if member is None or (member.email or "").lower() != email.lower():
            raise BadRequest("alerts: this link is for an account that changed; sign in and "
                             "change your alerts on /alerts")
        store.stop_emails(conn, user_id=uid, frequency=frequency, now=utcnow())
    return _page(request, "alerts/unsubscribe.html",
                 {"token": "", "email": email, "frequency": frequency, "done": True})


@router.get("/alerts/{search_id}", response_class=HTMLResponse, include_in_schema=False)
def alert_page(
    request: Request, search_id: str, member: CurrentUser, engine: EngineDep,
    page: int = Query(0, ge=0, le=10_000), saved: int = 0,
) -> Response:
    sid = _id(search_id)
    search, rows = searches.search_matches(engine, member, sid, limit=PAGE + 1,
                                           offset=page * PAGE)
    private_feed = None
    with engine.connect() as conn:
        token = feed_tokens.get_for(conn, user_id=member.id, kind="saved-search", arg=str(sid))
    if token is not None:
        private_feed = {"atom": private_url(request, token, "atom"),
                        "rss": private_url(request, token, "rss")}
    return _page(request, "alerts/view.html", {
        "search": search, "matches": rows[:PAGE], "page": page,
        "more": len(rows) > PAGE, "labels": searches.DELIVERY_LABELS, "now": utcnow(),
        "private_feed": private_feed, "saved": bool(saved),
    })


@router.post("/alerts/{search_id}/edit", dependencies=CSRF, include_in_schema=False)
def alert_edit(
    request: Request, search_id: str, member: CurrentUser, engine: EngineDep,
    settings: SettingsDep, now: Now, name: str = Form(""), query: str | None = Form(None),
    semantic: str = Form(""), delivery: str = Form(""),
) -> Response:
    sid = _id(search_id)
    searches.update_search(
        engine, settings, member, sid, name=name or None, query=query,
        semantic=_flag(semantic), delivery=delivery or None, now=now,
    )
    return RedirectResponse(f"/alerts/{sid}", status_code=303)


@router.post("/alerts/{search_id}/delete", dependencies=CSRF, include_in_schema=False)
def alert_delete(search_id: str, member: CurrentUser, engine: EngineDep) -> Response:
    searches.delete_search(engine, member, _id(search_id))
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/{search_id}/feed", dependencies=CSRF, include_in_schema=False)
def alert_feed(search_id: str, member: CurrentUser, engine: EngineDep, now: Now,
               next: str = Form("")) -> Response:
    """Make (or show again) the private feed URL of a saved search."""
    sid = _id(search_id)
    searches.own_search(engine, member, sid)
    with write(engine) as conn:
        feed_tokens.ensure(conn, user_id=member.id, kind="saved-search", arg=str(sid), now=now)
    return RedirectResponse(safe_next(next or f"/alerts/{sid}#feed"), status_code=303)
