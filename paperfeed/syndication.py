"""RSS 2.0 and Atom documents for any list of papers (pure: entries in, bytes out, via feedgen).

Every feed of the site (a day, a week, trending, a search, an author, an organisation, a
collection, a member's private feed) is a `FeedDoc` of `FeedEntry`s rendered here, so they
share one shape: an entry's id is the paper's page URL (stable across feeds and re-renders,
so readers dedupe a paper seen in two feeds), its summary is the abstract as readable text
(`texmath.plain_text`, never raw TeX), its categories are arXiv's. The feed's own `updated`
date is the newest entry's, never "now", so an unchanged list renders to identical bytes and
its ETag stays put between polls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from feedgen.feed import FeedGenerator
from markupsafe import escape

from paperfeed import __version__
from paperfeed.texmath import plain_text

FeedFormat = Literal["atom", "rss"]
FORMATS: tuple[FeedFormat, ...] = ("atom", "rss")
CONTENT_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
EPOCH = datetime(1970, 1, 1)
# Characters XML 1.0 forbids (lxml refuses them): C0 controls but tab/newline/CR, surrogates,
# U+FFFE/U+FFFF. A hostile title must not take a feed down.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(slots=True)
class FeedEntry:
    """One paper in a feed. `updated` is when it entered this list (or last changed)."""

    paper_id: str
    title: str
    abstract: str
    authors: list[str]
    updated: datetime
    published: datetime | None = None
    categories: list[str] = field(default_factory=list)
    note: str | None = None  # e.g. a collection's note or "because you upvoted ..."


@dataclass(slots=True)
class FeedDoc:
    """A whole feed: `page_path` is the HTML page it mirrors (rel=alternate), `self_path` the
    feed's own path without extension (".atom"/".rss" are added per format)."""

    title: str
    subtitle: str
    page_path: str
    self_path: str
    entries: list[FeedEntry]
    query: str = ""  # "?q=..." kept on self links (search feeds)

    @property
    def updated(self) -> datetime:
        return max((e.updated for e in self.entries), default=EPOCH)


def clean(text: str | None) -> str:
    """`text` without characters XML cannot carry."""
    return _NOT_XML.sub("", text or "")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def paper_url(base_url: str, paper_id: str) -> str:
    return f"{base_url.rstrip('/')}/papers/{paper_id}"


def render(doc: FeedDoc, fmt: FeedFormat, *, base_url: str, site_name: str) -> bytes:
    """The feed as UTF-8 XML bytes (identical bytes for identical input)."""
    base = base_url.rstrip("/")
    fg = FeedGenerator()
    fg.load_extension("dc")
    title = clean(f"{doc.title} · {site_name}")
    self_url = f"{base}{doc.self_path}.{fmt}{doc.query}"
    fg.id(self_url.replace(f".{fmt}", "", 1) if fmt == "atom" else self_url)
    fg.title(title)
    fg.subtitle(clean(doc.subtitle) or title)  # RSS <description> is required
    # feedgen uses the last link as RSS's channel <link>: the page, so it goes last
    fg.link(href=self_url, rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    fg.link(href=f"{base}{doc.page_path}", rel="alternate", type="text/html")
    fg.language("en")
    fg.generator(site_name, version=__version__, uri=base or None)
    updated = _utc(doc.updated)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for entry in doc.entries:
        _add_entry(fg, entry, base, fmt)
    if fmt == "atom":
        return bytes(fg.atom_str(pretty=True))
    return bytes(fg.rss_str(pretty=True))


def _add_entry(fg: FeedGenerator, entry: FeedEntry, base: str, fmt: FeedFormat) -> None:
    url = paper_url(base, entry.paper_id)
    fe = fg.add_entry(order="append")
    fe.id(url)
    fe.guid(url, permalink=True)
    fe.title(clean(plain_text(entry.title)) or entry.paper_id)
    # One link only: feedgen 1.0 writes entry links without their rel/type attributes, and
    # a second bare link would read as a second "alternate".
    fe.link(href=url, rel="alternate")
    summary = clean(plain_text(entry.abstract))
    if entry.note:
        summary = f"{clean(entry.note)}\n\n{summary}"
    if entry.authors:
        summary = f"{clean(', '.join(entry.authors))}\n\n{summary}"
    if fmt == "atom":
        fe.description(summary or " ", isSummary=True)  # <summary type="text">: exact text
    else:  # RSS <description> is HTML to every reader: escaped text in paragraphs
        fe.description("".join(f"<p>{escape(p)}</p>" for p in summary.split("\n\n")) or " ")
    fe.updated(_utc(entry.updated))
    if fmt == "rss":
        fe.pubDate(_utc(entry.updated))  # readers order by it: when the paper joined the list
    elif entry.published is not None:
        fe.published(_utc(entry.published))  # Atom's <published>: the paper's own date
    names = [clean(a) for a in entry.authors if clean(a).strip()]
    if names:
        if fmt == "atom":
            fe.author([{"name": n} for n in names[:50]])
        else:  # RSS <author> must be an email address; Dublin Core names people
            fe.dc.dc_creator(names[:50])
    for cat in entry.categories:
        if clean(cat).strip():
            fe.category(term=clean(cat), scheme="https://arxiv.org/archive/")


def entries_from_items(items: Iterable[Any]) -> list[FeedEntry]:
    """Entries from `feed.FeedItem`s (featured lists): updated = when it was featured."""
    return [
        FeedEntry(
            paper_id=item.paper_id,
            title=item.title,
            abstract=item.abstract,
            authors=[a.name for a in item.authors],
            updated=item.submitted_at,
            published=item.published_at,
            categories=list(item.categories or []),
        )
        for item in items
    ]


def entries_from_rows(rows: Sequence[Any]) -> list[FeedEntry]:
    """Entries from paper rows (dicts or row mappings of the `papers` table)."""
    out = []
    for r in rows:
        updated = r.get("updated_at") or r.get("published_at") or r.get("indexed_at") or EPOCH
        out.append(
            FeedEntry(
                paper_id=r["id"],
                title=r["title"],
                abstract=r["abstract"],
                authors=[a.get("name", "") for a in (r.get("authors") or [])],
                updated=updated,
                published=r.get("published_at"),
                categories=list(r.get("categories") or []),
            )
        )
    return out
