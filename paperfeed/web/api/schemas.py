"""Response models of the JSON API, shaped exactly like huggingface.co's papers endpoints.

Field names (camelCase, `_id`, `ai_summary`), nesting and optionality follow the real
`/api/daily_papers` and `/api/papers/{id}` responses, so `huggingface_hub.HfApi` and other
existing clients work unchanged. Optional fields are omitted when unknown, as Hugging Face does.
The routes return pre-serialized JSON (see `serialize.py`) for speed; these models document the
shape in OpenAPI and the tests validate every response against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class HubUser(_Model):
    """A user as Hugging Face embeds it (submitter, or the account that claimed an authorship)."""

    id: str | None = Field(None, alias="_id", description="Stable user id.")
    avatarUrl: str = Field(
        "", description="Avatar URL (absolute, or relative to huggingface.co for imports)."
    )
    isPro: bool = False
    fullname: str = Field("", description="Display name.")
    user: str | None = Field(None, description="Username (HF's `user` key).")
    name: str | None = Field(None, description="Username (HF's `name` key).")
    type: str = "user"
    isHf: bool | None = Field(None, description="Hugging Face staff flags: always false here.")
    isHfAdmin: bool | None = None
    isMod: bool | None = None
    isUserFollowing: bool | None = None


class PaperAuthor(_Model):
    name: str
    hidden: bool = False
    user: HubUser | None = Field(None, description="The account that claimed this authorship.")
    status: str | None = Field(
        None, description="Hugging Face's claim status (e.g. `claimed_verified`), if imported."
    )
    statusLastChangedAt: datetime | None = None


class Organization(_Model):
    id: str | None = Field(None, alias="_id")
    name: str
    fullname: str | None = None
    avatar: str | None = None


class PaperBody(_Model):
    """The paper itself: `paper` inside a daily entry, and the whole body of `/api/papers/{id}`."""

    id: str = Field(description="arXiv id without version, e.g. `2401.01234` or `hep-th/9901001`.")
    authors: list[PaperAuthor]
    publishedAt: datetime | None = Field(
        None, description="arXiv publication time, ISO-8601 UTC with `Z`."
    )
    submittedOnDailyAt: datetime | None = Field(
        None, description="When it was put on a daily list (omitted if never featured)."
    )
    title: str
    submittedOnDailyBy: HubUser | None = None
    summary: str = Field(description="The abstract.")
    upvotes: int = Field(description="Upvotes: imported snapshot plus local members' votes.")
    discussionId: str | None = Field(
        None, description="Id of the paper's discussion (its comment thread: the paper id)."
    )
    projectPage: str | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    organization: Organization | None = None
    numComments: int | None = Field(
        None, description="Comments (paperfeed addition on `/api/papers`; HF has it on entries)."
    )


class PaperInfoBody(PaperBody):
    """`GET /api/papers/{id}`: the paper plus the repositories that cite it, as huggingface.co
    answers `paper_info` (this instance links no models, datasets or Spaces: empty lists)."""

    linkedModels: list[dict[str, Any]] = Field(default_factory=list)
    numTotalModels: int = 0
    linkedDatasets: list[dict[str, Any]] = Field(default_factory=list)
    numTotalDatasets: int = 0
    linkedSpaces: list[dict[str, Any]] = Field(default_factory=list)
    numTotalSpaces: int = 0


class DailyPaper(_Model):
    """One entry of a daily list (`GET /api/daily_papers`)."""

    paper: PaperBody
    publishedAt: datetime | None = Field(
        None, description="Same as `paper.publishedAt` (HF repeats it at the top level)."
    )
    title: str
    summary: str
    thumbnail: str | None = Field(
        None, description="Hugging Face's thumbnail URL, on entries imported from it."
    )
    numComments: int
    submittedBy: HubUser | None = None
    isAuthorParticipating: bool = Field(
        description="True when the submitter is one of the paper's claimed authors."
    )
    organization: Organization | None = None


class ErrorBody(_Model):
    error: str = Field(description="One line: what was wrong and how to fix it.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid parameter"},
    404: {"model": ErrorBody, "description": "Not found"},
}
