"""Plain records passed between sources, storage, feeds and the web layer (no I/O here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from paperfeed.errors import BadRequest

# New-style ids (0704.0001 .. 2401.01234) and old-style (hep-th/9901001, math.GT/0309136).
NEW_ID = re.compile(r"^(?P<id>\d{4}\.\d{4,5})(?:v(?P<v>\d+))?$")
OLD_ID = re.compile(r"^(?P<id>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?$")
URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/", re.IGNORECASE
)


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Split an arXiv id, `arXiv:` id or arXiv URL into (id without version, version or None).

    Raises BadRequest for anything else, so callers can answer 400 with the message.
    """
    raw = text.strip()
    s = URL_PREFIX.sub("", raw)
    if s.lower().startswith("arxiv:"):
        s = s[6:]
    s = s.removesuffix(".pdf").rstrip("/")
    for pattern in (NEW_ID, OLD_ID):
        m = pattern.match(s)
        if m:
            v = m.group("v")
            return m.group("id"), int(v) if v else None
    raise BadRequest(f"not an arXiv id: {raw[:80]!r} (expected e.g. 2401.01234 or hep-th/9901001)")


def normalize_arxiv_id(text: str) -> str:
    return parse_arxiv_id(text)[0]


@dataclass(slots=True)
class Author:
    """An author as listed on the paper, plus, for Hugging Face imports, the account that
    claimed the authorship and the claim's status there (`claimed_verified`,
    `admin_assigned`, `extracted_pending`...), served back through the HF-compatible API."""

    name: str
    hf_user: str | None = None  # Hugging Face username when the author claimed the paper
    hf_fullname: str | None = None  # that account's display name
    hf_avatar_url: str | None = None
    hf_user_id: str | None = None
    hf_is_pro: bool | None = None
    status: str | None = None
    status_changed_at: str | None = None  # ISO-8601 text as Hugging Face wrote it

    def as_json(self) -> dict[str, Any]:
        """The stored form (the `papers.authors` JSON list): unknown extras are left out."""
        out: dict[str, Any] = {"name": self.name, "hf_user": self.hf_user}
        for key in AUTHOR_EXTRAS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Author:
        extras = {k: raw.get(k) for k in AUTHOR_EXTRAS if isinstance(raw.get(k), str | bool)}
        return cls(name=str(raw.get("name") or ""), hf_user=raw.get("hf_user"), **extras)


AUTHOR_EXTRAS = (
    "hf_fullname", "hf_avatar_url", "hf_user_id", "hf_is_pro", "status", "status_changed_at"
)


@dataclass(slots=True)
class Paper:
    """A paper as a source describes it. Fields left None are 'unknown', not 'empty'."""

    id: str
    title: str
    abstract: str
    authors: list[Author] = field(default_factory=list)
    version: int | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    github_repo: str | None = None
    project_page: str | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    upstream_upvotes: int | None = None
    num_comments: int | None = None
    organization: dict[str, Any] | None = None
    source: str = "unknown"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"


@dataclass(slots=True)
class Submitter:
    """Who put a paper on a daily list (a Hugging Face user on imported days, or a member)."""

    name: str
    fullname: str | None = None
    avatar_url: str | None = None
    hf_id: str | None = None
    user_id: int | None = None


@dataclass(slots=True)
class Featured:
    """'Paper P was featured on day D' — distinct from merely being indexed."""

    paper_id: str
    day: date
    submitted_at: datetime | None = None
    submitter: Submitter | None = None
    source: str = "unknown"


@dataclass(slots=True)
class IngestSummary:
    """What an ingest run did; printed at the end of every `paperfeed ingest`."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    featured_new: int = 0
    errors: list[str] = field(default_factory=list)

    def merge(self, other: IngestSummary) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.featured_new += other.featured_new
        self.errors.extend(other.errors)

    def line(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected, {self.featured_new} newly featured"
        )


def utcnow() -> datetime:
    """Current time as a naive UTC datetime: the one convention for every stored timestamp."""
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)


ROLES = ("member", "moderator", "admin")


@dataclass(slots=True)
class Member:
    """A signed-in (or looked-up) account. `role` is one of ROLES; banned members can read only."""

    id: int
    username: str
    display_name: str | None
    email: str | None
    role: str = "member"
    banned: bool = False
    has_password: bool = False
    avatar_url: str | None = None

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
