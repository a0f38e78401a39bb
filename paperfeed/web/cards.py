"""What a paper card shows besides the paper: links to authors, the organisation, the submitter
with a generated initials avatar, and a thumbnail URL. Template globals and filters.

No picture comes from another host: Hugging Face avatar and logo URLs are remote, so people and
organisations get an initials avatar (colour picked from the name, one of 12 CSS classes so a
strict Content-Security-Policy without inline styles still works). Paper thumbnails come from
`/thumbs/{id}` (web/pages/thumbs.py), which serves the rendered first page when the thumbnail
job made one and a generated cover otherwise.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy import Connection

from paperfeed.models import Author, Submitter
from paperfeed.storage.catalog import comment_counts

HUES = 12
MAX_CARD_AUTHORS = 3


def initials(name: str | None) -> str:
    """'Yann LeCun' -> 'YL', 'nvidia' -> 'NV', '' -> '?'."""
    words = [w for w in unicodedata.normalize("NFKC", name or "").replace("-", " ").split() if w]
    letters = [w[0] for w in words if w[0].isalnum()]
    if len(letters) >= 2:
        return (letters[0] + letters[-1]).upper()
    word = next((w for w in words if w[0].isalnum()), "")
    return word[:2].upper() or "?"


def hue_class(name: str | None) -> str:
    """A stable colour class `av-h0`..`av-h11` for a name."""
    digest = hashlib.blake2b((name or "").casefold().encode(), digest_size=2).digest()
    return f"av-h{int.from_bytes(digest, 'big') % HUES}"


def avatar(name: str | None, size: str = "sm") -> Markup:
    """Template global: a generated initials avatar (no remote images); size "sm" or "lg".
    A Python global, not a macro: importing a macro in every card cost a template-globals
    set difference per card."""
    return Markup('<span class="avatar avatar-{} {}" aria-hidden="true">{}</span>').format(
        size, hue_class(name), initials(name)
    )


def author_url(name: str) -> str:
    return "/authors/" + quote(" ".join(name.split()), safe="")


def org_url(name: str) -> str:
    return "/organizations/" + quote(name, safe="")


def user_url(username: str) -> str:
    return "/users/" + quote(username, safe="")


def author_names(authors: Any) -> list[str]:
    """Names from Author objects or {"name": ...} dicts (rows and FeedItems alike)."""
    out = []
    for a in authors or []:
        name = a.get("name", "") if isinstance(a, dict) else getattr(a, "name", str(a))
        if name and name.strip():
            out.append(" ".join(name.split()))
    return out


def org_of(value: Any) -> dict[str, str] | None:
    """{"name", "fullname", "url"} for a stored Hugging Face organisation, or None."""
    if not isinstance(value, dict):
        return None
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    fullname = value.get("fullname") if isinstance(value.get("fullname"), str) else None
    return {"name": name, "fullname": fullname or name, "url": org_url(name)}


@dataclass(slots=True)
class CardItem:
    """A paper row shaped like `feed.FeedItem` for `_paper_card.html` (author, organisation
    and profile pages list plain catalog rows, which have no featured day)."""

    paper_id: str
    title: str
    abstract: str
    authors: list[Author]
    upvotes: int
    num_comments: int
    published_at: datetime | None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    organization: dict[str, Any] | None = None
    submitter: Submitter | None = None
    day: date | None = None
    hf_comments: int = 0

    @property
    def num_authors(self) -> int:
        return len(self.authors)


def card_from_row(row: Any, local_comments: int = 0) -> CardItem:
    """A card for a catalog row; `local_comments` is the paper's visible comment count here
    (the count cards show; the imported Hugging Face one is shown apart)."""
    return CardItem(
        paper_id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=[Author(name=n) for n in author_names(row["authors"])],
        upvotes=int(row["upstream_upvotes"] or 0) + int(row["member_upvotes"] or 0),
        num_comments=local_comments,
        hf_comments=int(row["upstream_comments"] or 0),
        published_at=row["published_at"],
        categories=list(row["categories"] or []),
        primary_category=row["primary_category"],
        organization=row["organization"],
        day=row.get("day"),
    )


def cards_from_rows(conn: Connection, rows: Sequence[Any]) -> list[CardItem]:
    """Cards for catalog rows, with their local comment counts (one query)."""
    counts = comment_counts(conn, [r["id"] for r in rows])
    return [card_from_row(r, counts.get(r["id"], 0)) for r in rows]


def register(env: Environment) -> None:
    env.filters["initials"] = initials
    env.filters["hue"] = hue_class
    env.filters["author_url"] = author_url
    env.filters["org_url"] = org_url
    env.filters["user_url"] = user_url
    env.globals["avatar"] = avatar
    env.globals["author_names"] = author_names
    env.globals["org_of"] = org_of
    env.globals["MAX_CARD_AUTHORS"] = MAX_CARD_AUTHORS
