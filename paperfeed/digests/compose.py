"""Digest composition, the pure part: which papers an edition lists and how they read.

`compose()` turns the period's trending featured papers (feed items from storage) into a
`Digest`; `None` means the edition has no papers and nothing is sent. No I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from paperfeed.digests.editions import Edition
from paperfeed.texmath import plain_text

WHITESPACE = re.compile(r"\s+")
ABSTRACT_CHARS = 320
MAX_AUTHORS = 6


class FeedItemLike(Protocol):
    """What compose needs from a feed item (`paperfeed.feed.FeedItem` fits)."""

    @property
    def paper_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def authors(self) -> Sequence[Any]: ...
    @property
    def upvotes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DigestPaper:
    id: str
    title: str
    authors: str  # "A, B, C and 4 others"
    abstract: str  # shortened, whitespace collapsed
    upvotes: int
    url: str  # our paper page


@dataclass(frozen=True, slots=True)
class Digest:
    """One edition's shared content; per-recipient parts (links, "for you") are added at render."""

    edition: Edition
    papers: tuple[DigestPaper, ...]
    site_name: str
    base_url: str
    subject: str
    edition_url: str
    # No curated list in the period: the papers are its new arXiv papers (storage/arrivals.py,
    # an instance fed from arXiv alone), and the mail says so.
    new_on_arxiv: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a message goes to, with the signed links that only work for them."""

    subscription_id: int
    email: str
    unsubscribe_url: str
    preferences_url: str
    for_you: tuple[DigestPaper, ...] = field(default_factory=tuple)
    # The member's saved-search matches (alerts.mail.AlertSection), for searches delivered
    # "in my digest".
    alerts: tuple[Any, ...] = field(default_factory=tuple)


def collapse(text: str) -> str:
    """One line: arXiv's hard line breaks and runs of spaces become single spaces."""
    return WHITESPACE.sub(" ", text or "").strip()


def shorten(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = collapse(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def author_line(authors: Sequence[Any], limit: int = MAX_AUTHORS) -> str:
    """'A, B and C' or 'A, B, ... and 12 others'; accepts Author records, dicts or strings."""
    names = []
    for a in authors:
        name = a if isinstance(a, str) else (a.get("name") if isinstance(a, dict) else a.name)
        if name:
            names.append(collapse(str(name)))
    if not names:
        return ""
    if len(names) <= limit:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    rest = len(names) - limit
    return ", ".join(names[:limit]) + f" and {rest} other{'s' if rest > 1 else ''}"


def to_digest_paper(item: FeedItemLike, base_url: str) -> DigestPaper:
    return DigestPaper(
        id=item.paper_id,
        title=collapse(plain_text(item.title)),  # LaTeX made readable: mail shows no raw TeX
        authors=author_line(item.authors),
        abstract=shorten(plain_text(item.abstract)),
        upvotes=max(0, int(item.upvotes)),
        url=f"{base_url.rstrip('/')}/papers/{item.paper_id}",
    )


def edition_url(edition: Edition, base_url: str) -> str:
    kind = "date" if edition.frequency == "daily" else "week"
    return f"{base_url.rstrip('/')}/papers/{kind}/{edition.label}"


def compose(
    edition: Edition,
    items: Iterable[FeedItemLike],
    *,
    base_url: str,
    site_name: str,
    max_papers: int,
    new_on_arxiv: bool = False,
) -> Digest | None:
    """The edition's digest from its trending-ordered items, or None when there are none.
    `new_on_arxiv`: the items are the period's new arXiv papers, not a curated list."""
    seen: set[str] = set()
    papers: list[DigestPaper] = []
    for item in items:
        if item.paper_id in seen:
            continue
        seen.add(item.paper_id)
        papers.append(to_digest_paper(item, base_url))
        if len(papers) >= max_papers:
            break
    if not papers:
        return None
    kind = "Daily" if edition.frequency == "daily" else "Weekly"
    if new_on_arxiv:
        kind = "New on arXiv"
    else:
        kind = f"{kind} papers"
    subject = f"{kind}, {edition.title}: {shorten(papers[0].title, 70)}"
    return Digest(
        edition=edition,
        papers=tuple(papers),
        site_name=site_name,
        base_url=base_url.rstrip("/"),
        subject=subject,
        edition_url=edition_url(edition, base_url),
        new_on_arxiv=new_on_arxiv,
    )
