"""JSON API for members (Bearer personal access tokens): upvotes, submissions, whoami.

`POST /api/papers/{id}/upvote` and `DELETE` are idempotent: repeating one leaves the count
unchanged. Without a token every route answers 401.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field

from paperfeed.accounts import submissions, voting
from paperfeed.postingest import after_ingest_quietly
from paperfeed.web.deps import ApiUser, ClientIP, EngineDep, Now, SettingsDep
from paperfeed.web.pages.cache import page_cache

router = APIRouter(tags=["members"])


class VoteOut(BaseModel):
    id: str
    upvoted: bool
    changed: bool
    upvotes: int = Field(description="Member upvotes plus imported (Hugging Face) upvotes.")
    memberUpvotes: int  # noqa: N815 - JSON field name, as in the rest of the API


class SubmitIn(BaseModel):
    id: str = Field(description="arXiv id or URL, e.g. 2401.01234 or https://arxiv.org/abs/2401.01234")


class SubmitOut(BaseModel):
    id: str
    date: str
    title: str
    url: str


class WhoAmI(BaseModel):
    username: str
    fullname: str | None
    role: str


@router.post("/papers/submit", response_model=SubmitOut, status_code=201)
def api_submit(
    request: Request, body: SubmitIn, member: ApiUser, engine: EngineDep, settings: SettingsDep,
    now: Now, ip: ClientIP, background: BackgroundTasks,
) -> dict[str, object]:
    """Feature a paper on today's list as the token's member (409 if already there today,
    400 if older than `submission_max_age_days` and the member is not a moderator)."""
    done = submissions.submit_paper(engine, settings, member, body.id, ip=ip, now=now)
    page_cache(request).clear()
    # the post-ingest step (embedding) right after the response: similar papers, search
    background.add_task(after_ingest_quietly, engine, settings, [done.paper_id])
    return done.as_json()


@router.post("/papers/{paper_id:path}/upvote", response_model=VoteOut)
def api_upvote(
    paper_id: str, member: ApiUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, background: BackgroundTasks,
) -> dict[str, object]:
    """Upvote a paper (idempotent)."""
    return voting.set_vote(engine, settings, member, paper_id, up=True, ip=ip, now=now,
                           later=background.add_task).as_json()


@router.delete("/papers/{paper_id:path}/upvote", response_model=VoteOut)
def api_unvote(
    paper_id: str, member: ApiUser, engine: EngineDep, settings: SettingsDep, now: Now,
    ip: ClientIP, background: BackgroundTasks,
) -> dict[str, object]:
    """Withdraw an upvote (idempotent)."""
    return voting.set_vote(engine, settings, member, paper_id, up=False, ip=ip, now=now,
                           later=background.add_task).as_json()


@router.get("/whoami", response_model=WhoAmI)
def api_whoami(member: ApiUser) -> dict[str, object]:
    """The member a token belongs to."""
    return {"username": member.username, "fullname": member.display_name, "role": member.role}
