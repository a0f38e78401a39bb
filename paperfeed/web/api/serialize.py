"""Stored rows -> Hugging Face-shaped JSON dicts (pure functions; the shape is in schemas.py).

Timestamps are naive UTC in storage and leave here as ISO-8601 with milliseconds and `Z`,
exactly as huggingface.co writes them (`2024-05-24T17:34:15.000Z`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paperfeed.feed import FeedItem

# Row-like input: dicts, or SQLAlchemy RowMapping (whose keys may also be columns).
Row = Mapping[Any, Any]

ORGANIZATION_KEYS = ("_id", "name", "fullname", "avatar")
# Hugging Face's social thumbnail of a paper it lists (every imported entry of 2025-2026 has
# exactly this URL); only entries imported from Hugging Face get it.
HF_THUMBNAIL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{id}.png"


def iso_z(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """Drop unknown (None) optional fields, as Hugging Face omits them."""
    return {k: v for k, v in d.items() if v is not None}


def submitter_json(fact: Row) -> dict[str, Any] | None:
    """The `submittedBy` object from a featured fact (users columns); None if no submitter."""
    username = fact.get("username")
    if not username:
        return None
    user_id = fact.get("hf_id") or (str(fact["user_id"]) if fact.get("user_id") else None)
    return _compact(
        {
            "_id": user_id,
            "avatarUrl": fact.get("avatar_url") or "",
            "isPro": False,
            "fullname": fact.get("display_name") or username,
            "user": username,
            "name": username,
            "type": "user",
            # huggingface.co's staff and follow flags: never true for anyone here
            "isHf": False,
            "isHfAdmin": False,
            "isMod": False,
            "isUserFollowing": False,
        }
    )


def _author_json(author: Row) -> dict[str, Any]:
    """An author as huggingface.co lists it; a claimed authorship carries the account and the
    claim's status (kept from the import)."""
    out: dict[str, Any] = {"name": author.get("name") or "", "hidden": False}
    hf_user = author.get("hf_user")
    if hf_user:
        out["user"] = _compact(
            {
                "_id": author.get("hf_user_id"),
                "avatarUrl": author.get("hf_avatar_url") or "",
                "isPro": bool(author.get("hf_is_pro")),
                "fullname": author.get("hf_fullname") or out["name"],
                "user": hf_user,
                "name": hf_user,
                "type": "user",
            }
        )
    if author.get("status"):
        out["status"] = author["status"]
    if author.get("status_changed_at"):
        out["statusLastChangedAt"] = author["status_changed_at"]
    return out


def _organization(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value.get("name"):
        return None
    return _compact({k: value.get(k) for k in ORGANIZATION_KEYS})


def upvotes(paper: Row) -> int:
    return int(paper.get("upstream_upvotes") or 0) + int(paper.get("member_upvotes") or 0)


def num_comments(paper: Row, local_comments: int) -> int:
    """`numComments`: the visible comments on this site, as the site's pages count them (the
    count imported from Hugging Face is about their discussion, not ours; docs/api.md)."""
    del paper
    return local_comments


def paper_json(
    paper: Row,
    fact: Row | None,
    *,
    comments: int | None = None,
) -> dict[str, Any]:
    """The `paper` object (also the whole `/api/papers/{id}` body when `comments` is given)."""
    authors = paper.get("authors") or []
    return _compact(
        {
            "id": paper["id"],
            "authors": [_author_json(a) for a in authors if isinstance(a, Mapping)],
            "publishedAt": iso_z(paper.get("published_at")),
            "submittedOnDailyAt": iso_z(fact["submitted_at"]) if fact else None,
            "title": paper["title"],
            "submittedOnDailyBy": submitter_json(fact) if fact else None,
            "summary": paper["abstract"],
            "upvotes": upvotes(paper),
            # The paper's discussion here is its comment thread, keyed by the paper id
            # (huggingface.co gives its thread's own id; clients treat it as opaque).
            "discussionId": paper["id"],
            "projectPage": paper.get("project_page"),
            "githubRepo": paper.get("github_repo"),
            "githubStars": paper.get("github_stars"),
            "ai_summary": paper.get("ai_summary"),
            "ai_keywords": paper.get("ai_keywords"),
            "organization": _organization(paper.get("organization")),
            "numComments": comments,
        }
    )


def paper_info_json(paper: Row, fact: Row | None, *, comments: int) -> dict[str, Any]:
    """The whole `/api/papers/{id}` body: the paper plus what huggingface.co adds there only
    (the models, datasets and Spaces that cite it: none are linked on this instance)."""
    body = paper_json(paper, fact, comments=comments)
    body.update(
        linkedModels=[],
        numTotalModels=0,
        linkedDatasets=[],
        numTotalDatasets=0,
        linkedSpaces=[],
        numTotalSpaces=0,
    )
    return body


def _author_participates(authors: list[Any], fact: Row | None) -> bool:
    """True when the submitter is one of the paper's claimed authors. Hugging Face does not
    document its flag; this rule reproduces it for 99% of the 2,005 entries of May-Aug 2026."""
    username = fact.get("username") if fact else None
    return bool(username) and any(
        isinstance(a, Mapping) and a.get("hf_user") == username for a in authors
    )


def daily_entry_json(
    paper: Row, fact: Row | None, *, local_comments: int = 0
) -> dict[str, Any]:
    """One element of `/api/daily_papers`: the paper plus its daily-list facts."""
    body = paper_json(paper, fact)
    authors = paper.get("authors") or []
    return _compact(
        {
            "paper": body,
            "publishedAt": body.get("publishedAt"),
            "title": body["title"],
            "summary": body["summary"],
            "thumbnail": HF_THUMBNAIL.format(id=body["id"])
            if fact and fact.get("featured_source") == "hf"
            else None,
            "numComments": num_comments(paper, local_comments),
            "submittedBy": body.get("submittedOnDailyBy"),
            "isAuthorParticipating": _author_participates(authors, fact),
            "organization": body.get("organization"),
        }
    )


def feed_item_json(item: FeedItem) -> dict[str, Any]:
    """A daily entry from a `feed.FeedItem` (what `storage.feeds.list_featured` returns)."""
    paper = {
        "id": item.paper_id,
        "title": item.title,
        "abstract": item.abstract,
        "authors": [a.as_json() for a in item.authors],
        "published_at": item.published_at,
        "upstream_upvotes": item.upvotes,  # already upstream + members'
        "member_upvotes": 0,
        "project_page": item.project_page,
        "github_repo": item.github_repo,
        "github_stars": item.github_stars,
        "ai_summary": item.ai_summary,
        "ai_keywords": item.ai_keywords,
        "organization": item.organization,
    }
    sub = item.submitter
    fact = {
        "submitted_at": item.submitted_at,
        "username": sub.name if sub else None,
        "display_name": sub.fullname if sub else None,
        "avatar_url": sub.avatar_url if sub else None,
        "hf_id": sub.hf_id if sub else None,
        "user_id": sub.user_id if sub else None,
        "featured_source": item.featured_source,
    }
    return daily_entry_json(paper, fact, local_comments=item.num_comments)
