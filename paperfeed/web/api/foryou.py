"""`GET /api/me/for-you`: the member's ranked papers (Bearer token), and the feedback buttons'
API twin `POST /api/me/for-you/feedback`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from paperfeed.recommend import actions
from paperfeed.web.api.serialize import iso_z
from paperfeed.web.deps import ApiUser, ClientIP, EngineDep, Now, SettingsDep
from paperfeed.web.pages.foryou import cards, ranked

router = APIRouter(tags=["members"])


class FeedbackIn(BaseModel):
    paper: str
    kind: Literal["more", "less", "undo"]


@router.get("/me/for-you")
def api_for_you(
    request: Request, member: ApiUser, now: Now,
    period: Literal["day", "week", "all"] = Query("day", description="day | week | all"),
    limit: int = Query(50, ge=1, le=100),
) -> dict[str, Any]:
    """Today's (or this week's, or the whole catalog's) papers ranked for the member, each with
    the paper of theirs it is closest to. `cold` is true until they upvote, submit, save or
    pick something (see /for-you/start)."""
    ranking, heading, day = ranked(request, member, period, now, limit=limit)
    papers = []
    for card, item in zip(cards(request, member, ranking), ranking.items, strict=False):
        reason = card.reason
        papers.append({
            "paper": {
                "id": card.paper_id, "title": card.title, "summary": card.abstract,
                "publishedAt": iso_z(card.published_at), "upvotes": card.upvotes,
                "authors": [{"name": a.get("name", "")} for a in card.authors or []
                            if isinstance(a, dict)],
            },
            "score": round(item.score, 4),
            "notInterested": card.not_interested,
            "reason": None if reason is None else {
                "paperId": reason.paper_id, "title": reason.title, "kind": reason.kind,
                "text": reason.text,
            },
        })
    return {"period": period, "heading": heading, "date": day.isoformat() if day else None,
            "cold": ranking.cold, "papers": papers[:limit]}


@router.post("/me/for-you/feedback")
def api_feedback(body: FeedbackIn, member: ApiUser, engine: EngineDep, settings: SettingsDep,
                 now: Now, ip: ClientIP) -> dict[str, Any]:
    """"More like this", "not interested" or "undo" for one paper; the next list reflects it."""
    actions.give_feedback(engine, settings, member, body.paper, body.kind, ip=ip, now=now)
    return {"id": body.paper, "feedback": None if body.kind == "undo" else body.kind}
