""""For you" pages: the member's ranked day / week / catalog, the feedback buttons, the
cold-start page (categories, seed papers, import of their own papers) and active-learning
rounds. Plain forms with CSRF and POST-redirect-GET; the seed search enhances itself with
JavaScript (static/foryou.js) and works without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperfeed.errors import BadRequest, PaperfeedError
from paperfeed.feed import local_today, week_period
from paperfeed.models import Member, utcnow
from paperfeed.recommend import actions
from paperfeed.recommend.service import Ranking, open_recommender
from paperfeed.storage import feeds
from paperfeed.storage import recommend as store
from paperfeed.syndication import FeedDoc, FeedEntry
from paperfeed.web.csrf import verify_csrf
from paperfeed.web.deps import ClientIP, CurrentUser, EngineDep, Now, OptionalUser, SettingsDep
from paperfeed.web.feeds import register_private_feed
from paperfeed.web.pages.account import safe_next

router = APIRouter()
CSRF = [Depends(verify_csrf)]
PERIODS = {"day": "Today", "week": "This week", "all": "Everything"}
CATALOG_SIZE = 50
SEARCH_RESULTS = 10
TOPICS = 40


@dataclass(slots=True)
class Card:
    """One ranked paper, shaped like feed.FeedItem for `_paper_card.html`, with its reason."""

    paper_id: str
    title: str
    abstract: str
    num_authors: int
    upvotes: int
    num_comments: int
    published_at: datetime | None
    reason: Any = None
    not_interested: bool = False
    feedback: str | None = None
    authors: list[Any] | None = None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status
    )


def period_ids(request: Request, period: str, now: datetime) -> tuple[list[str], str, date | None]:
    """Candidate ids of the day (the latest with papers) or its ISO week, and a heading."""
    settings = request.app.state.settings
    today = local_today(now, settings.timezone)
    with request.app.state.engine.connect() as conn:
        day = feeds.latest_featured_day(conn, on_or_before=today) or feeds.latest_featured_day(
            conn)
        if day is None:
            return [], "No papers yet", None
        if period == "week":
            week = week_period(day)
            return store.featured_ids(conn, week.start, week.end), f"Week of {week.start}", day
        return store.featured_ids(conn, day, day), day.strftime("%b %-d, %Y"), day


def ranked(request: Request, member: Member, period: str, now: datetime, *,
           limit: int = CATALOG_SIZE) -> tuple[Ranking, str, date | None]:
    """The member's ranking for a period (what the page, the API and the feed show)."""
    rec = open_recommender(request.app.state.settings, request.app.state.engine)
    if period == "all":
        return (_fresh(request, rec, member, lambda: rec.rank_catalog(member.id, limit)),
                "Everything in the catalog", None)
    ids, heading, day = period_ids(request, period, now)
    return _fresh(request, rec, member, lambda: rec.rank(member.id, ids)), heading, day


def _fresh(request: Request, rec: Any, member: Member, rank: Callable[[], Ranking]) -> Ranking:
    """`rank()`, again after fitting the member's model if it came out cold for want of a fit
    (`_fitted_late`)."""
    ranking = rank()
    if ranking.cold and _fitted_late(request, rec, member):
        ranking = rank()
    return ranking


def _fitted_late(request: Request, rec: Any, member: Member) -> bool:
    """Fit the member's model now if they did something it has not learnt yet; True if so.

    The refit after a vote runs after its response (a worker's first takes seconds) and may
    fail: a member who upvoted and opened this page at once was sent to "Start your list" as
    if they had done nothing. A member with nothing newer than their model costs one read."""
    with request.app.state.engine.connect() as conn:
        newest = store.member_signals(conn, member.id, limit=1)
        profile = store.get_profile(conn, member.id)
    if not newest or (profile is not None and profile.fitted_at is not None
                      and profile.fitted_at >= newest[0].at):
        return False
    rec.refit(member.id, now=utcnow())
    return True


def cards(request: Request, member: Member, ranking: Ranking) -> list[Card]:
    ids = [r.paper_id for r in ranking.items]
    with request.app.state.engine.connect() as conn:
        rows = store.paper_rows(conn, ids)
        fb = store.feedback_of(conn, member.id, ids)
    out = []
    for r in ranking.items:
        row = rows.get(r.paper_id)
        if row is None:
            continue
        out.append(Card(
            paper_id=r.paper_id, title=row["title"], abstract=row["abstract"],
            num_authors=len(row["authors"] or []), upvotes=int(row["upvotes"] or 0),
            num_comments=int(row["upstream_comments"] or 0), published_at=row["published_at"],
            reason=r.reason, not_interested=r.not_interested, feedback=fb.get(r.paper_id),
            authors=list(row["authors"] or []),
        ))
    return out


@router.get("/for-you", include_in_schema=False)
def for_you(
    request: Request, member: OptionalUser, now: Now,
    period: str = Query("day", description="day | week | all"),
) -> Response:
    if period not in PERIODS:
        raise BadRequest("for you: period must be day, week or all")
    tabs = [{"label": label, "url": f"/for-you?period={key}", "current": key == period}
            for key, label in PERIODS.items()]
    context: dict[str, Any] = {"tabs": tabs, "period": period, "now": now, "member": member}
    if member is None:
        return _page(request, "foryou.html", {**context, "signed_out": True})
    ranking, heading, day = ranked(request, member, period, now)
    if ranking.cold:
        return RedirectResponse("/for-you/start", status_code=303)
    context.update(heading=heading, items=cards(request, member, ranking), day=day,
                   community=(f"/papers/week/{week_period(day).label}" if period == "week" and day
                              else (f"/papers/date/{day.isoformat()}" if day else "/")))
    return _page(request, "foryou.html", context)


@router.post("/for-you/feedback", dependencies=CSRF, include_in_schema=False)
def feedback(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, paper: str = Form(""), kind: str = Form(""), next: str = Form("/for-you"),
) -> Response:
    actions.give_feedback(engine, settings, member, paper, kind, ip=ip, now=now)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": paper, "feedback": None if kind == "undo" else kind})
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/for-you/start", include_in_schema=False)
def start(
    request: Request, member: CurrentUser, engine: EngineDep, now: Now,
    q: str = Query("", max_length=300), imported: int | None = Query(None),
    unmatched: int | None = Query(None),
) -> Response:
    with engine.connect() as conn:
        profile = store.get_profile(conn, member.id)
        categories = store.top_categories(conn, limit=40)
        seeds = store.member_seeds(conn, member.id)
    # Hugging Face papers carry no arXiv category: offer their ai_keywords topics instead.
    topics = ([] if categories else
              open_recommender(request.app.state.settings, engine).topics(limit=TOPICS))
    results = _search(request, q) if q.strip() else []
    chosen = set(profile.categories if profile else []) | set(profile.topics if profile else [])
    return _page(request, "foryou_start.html", {
        "categories": categories, "topics": topics, "chosen": chosen,
        "popularity": bool(profile and profile.popularity), "q": q, "results": results,
        "seeds": seeds, "imported": imported, "unmatched": unmatched, "now": now,
        "has_model": bool(profile and profile.weights is not None),
    })


def _search(request: Request, q: str) -> list[dict[str, Any]]:
    """Seed-paper search (the site's own search service), shown without JavaScript too."""
    from paperfeed.web.searching import search_service

    result = search_service(request).search(q, limit=SEARCH_RESULTS)
    ids = [h.paper_id for h in result.hits]
    with request.app.state.engine.connect() as conn:
        rows = store.paper_cards(conn, ids)
    return [{"id": pid, "title": rows[pid]["title"]} for pid in ids if pid in rows]


@router.post("/for-you/categories", dependencies=CSRF, include_in_schema=False)
def categories_form(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, category: list[str] = Form(default_factory=list),
    topic: list[str] = Form(default_factory=list), popularity: str = Form(""),
) -> Response:
    actions.choose_categories(engine, settings, member, category, topics=topic, ip=ip, now=now)
    actions.set_popularity(engine, settings, member, popularity == "on", ip=ip, now=now)
    return RedirectResponse("/for-you/start#categories", status_code=303)


@router.post("/for-you/seeds", dependencies=CSRF, include_in_schema=False)
def seeds_form(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, paper: list[str] = Form(default_factory=list), q: str = Form(""),
) -> Response:
    actions.add_seeds(engine, settings, member, paper, ip=ip, now=now)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"added": paper})
    return RedirectResponse("/for-you/start#seeds", status_code=303)


@router.post("/for-you/import", dependencies=CSRF, include_in_schema=False)
async def import_form(
    request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, text: str = Form(""), file: UploadFile | None = File(None),
) -> Response:
    body = text
    if file is not None and file.filename:
        raw = await file.read(2_000_001)
        body = raw.decode("utf-8", "replace")
    try:
        done = actions.import_papers(engine, settings, member, body, ip=ip, now=now)
    except PaperfeedError as exc:
        if exc.status == 429:
            raise
        return RedirectResponse(f"/for-you/start?imported=0&unmatched=0#import-{exc.status}",
                                status_code=303)
    return RedirectResponse(
        f"/for-you/start?imported={done.matched}&unmatched={done.unmatched}#import",
        status_code=303)


@router.get("/for-you/round", include_in_schema=False)
def round_page(request: Request, member: CurrentUser, engine: EngineDep, settings: SettingsDep,
               now: Now) -> Response:
    ids = actions.round_papers(engine, settings, member)
    with engine.connect() as conn:
        rows = store.paper_rows(conn, ids)
    papers = [rows[p] for p in ids if p in rows]
    return _page(request, "foryou_round.html", {"papers": papers, "now": now})


@router.post("/for-you/round", dependencies=CSRF, include_in_schema=False)
async def round_form(request: Request, member: CurrentUser, engine: EngineDep,
                     settings: SettingsDep, now: Now, ip: ClientIP) -> Response:
    form = await request.form()
    labels = {str(k)[6:]: str(v) for k, v in form.items()
              if str(k).startswith("label:") and str(v) in ("up", "down")}
    actions.label_round(engine, settings, member, labels, ip=ip, now=now)
    target = "/for-you/round" if form.get("again") else "/for-you"
    return RedirectResponse(target, status_code=303)


def for_you_doc(request: Request, member: Member, _arg: str) -> FeedDoc:
    """Private feed: this week's papers ranked for the member (reasons as notes)."""
    now = datetime.utcnow()
    ranking, heading, _day = ranked(request, member, "week", now)
    entries = []
    for i, card in enumerate(cards(request, member, ranking)[:CATALOG_SIZE]):
        if card.not_interested:
            continue
        entries.append(FeedEntry(
            paper_id=card.paper_id, title=card.title, abstract=card.abstract,
            authors=[a.get("name", "") if isinstance(a, dict) else str(a)
                     for a in card.authors or []],
            updated=(card.published_at or now) - timedelta(seconds=i),
            published=card.published_at,
            note=card.reason.text if card.reason else None,
        ))
    return FeedDoc(title=f"For {member.display_name or member.username}",
                   subtitle=f"{heading}, ranked for you", page_path="/for-you?period=week",
                   self_path="/feeds/private/for-you", entries=entries)


register_private_feed("for-you", "Papers for you (this week, ranked)", for_you_doc)
