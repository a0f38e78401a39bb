"""The arXiv API (`export.arxiv.org/api/query`, Atom): query building, a pure feed parser, and
paged fetching by category + date range or by id list.

Both response formats seen in real captures are read: the current one (2025-11: no `rel`
on links, arxiv: elements under a root namespace declaration) and the legacy one (2025-08:
per-element namespace declarations, empty placeholder entries for ids that do not exist).
XML goes through defusedxml, so DTDs, entity expansion ("billion laughs") and external
entities (XXE) are refused instead of processed.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import BadRequest, SourceError
from paperfeed.models import Author, IngestSummary, Paper, parse_arxiv_id
from paperfeed.sources.http import Fetcher
from paperfeed.sources.pipeline import Batch, store_batches
from paperfeed.sources.text import clean_optional, clean_text, parse_timestamp
from paperfeed.sources.xml import parse_xml
from paperfeed.storage.jobs import get_state

log = logging.getLogger(__name__)

SOURCE = "arxiv"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
PAGE_SIZE = 200
IDS_PER_REQUEST = 100
MAX_BYTES = 50 * 1024 * 1024
# arXiv categories (cs.CL, hep-th, math.AP); MSC/ACM classes ("35", "I.2.7") are left out.
CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")


@dataclass(slots=True)
class FeedPage:
    """One API answer: papers, arXiv's error messages, and the paging numbers."""

    papers: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    total: int = 0
    start: int = 0
    entries: int = 0  # entries seen, including placeholders without an id


def _text(elem: ET.Element | None) -> str | None:
    return elem.text if elem is not None and elem.text else None


def _int(elem: ET.Element | None, default: int) -> int:
    try:
        return int((_text(elem) or "").strip())
    except ValueError:
        return default


def entry_id(raw: str) -> tuple[str, int | None]:
    """`http://arxiv.org/abs/2401.01234v2` -> ("2401.01234", 2). Raises BadRequest."""
    return parse_arxiv_id(raw)


def parse_entry(entry: ET.Element) -> Paper | None:
    """One Atom <entry> as a Paper; None for a placeholder entry without an id."""
    raw_id = _text(entry.find(f"{ATOM}id"))
    if not raw_id or not raw_id.strip():
        return None
    pid, version = entry_id(raw_id)
    title = clean_text(_text(entry.find(f"{ATOM}title")))
    if not title:
        raise ValueError(f"{pid}: no title")
    categories = [
        term
        for c in entry.findall(f"{ATOM}category")
        if CATEGORY.match(term := (c.get("term") or "").strip())
    ]
    primary = entry.find(f"{ARXIV}primary_category")
    primary_term = (primary.get("term") or "").strip() if primary is not None else ""
    doi = clean_optional(_text(entry.find(f"{ARXIV}doi")))
    return Paper(
        id=pid,
        version=version,
        title=title,
        abstract=clean_text(_text(entry.find(f"{ATOM}summary"))),
        authors=[
            Author(name=name)
            for a in entry.findall(f"{ATOM}author")
            if (name := clean_text(_text(a.find(f"{ATOM}name"))))
        ],
        categories=list(dict.fromkeys(categories)),
        primary_category=primary_term or (categories[0] if categories else None),
        published_at=parse_timestamp(_text(entry.find(f"{ATOM}published"))),
        updated_at=parse_timestamp(_text(entry.find(f"{ATOM}updated"))),
        comment=clean_optional(_text(entry.find(f"{ARXIV}comment"))),
        journal_ref=clean_optional(_text(entry.find(f"{ARXIV}journal_ref"))),
        doi=doi,
        source=SOURCE,
    )


def parse_feed(data: bytes) -> FeedPage:
    """Parse an API response (pure). Raises ParseError for non-Atom or unsafe XML; arXiv's
    error entries (e.g. 'incorrect id format for ...') and bad entries land in `errors`."""
    root = parse_xml(
        data, component="arxiv", root_tag=f"{ATOM}feed", what="an Atom feed", max_bytes=MAX_BYTES
    )
    page = FeedPage(
        total=_int(root.find(f"{OPENSEARCH}totalResults"), 0),
        start=_int(root.find(f"{OPENSEARCH}startIndex"), 0),
    )
    for entry in root.findall(f"{ATOM}entry"):
        page.entries += 1
        raw_id = (_text(entry.find(f"{ATOM}id")) or "").strip()
        if "/api/errors" in raw_id:
            message = clean_text(_text(entry.find(f"{ATOM}summary"))) or raw_id
            page.errors.append(f"arxiv: {message}")
            continue
        try:
            paper = parse_entry(entry)
        except (BadRequest, ValueError) as exc:
            page.errors.append(f"arxiv: entry {page.entries}: {exc}; skipped")
            continue
        if paper is not None:
            page.papers.append(paper)
    return page


def category_query(category: str, since: date, until: date) -> str:
    """search_query for papers in `category` submitted from `since` to `until` (inclusive)."""
    if not category or any(ch in category for ch in ' :"()[]'):
        raise BadRequest(f"ingest: {category!r} is not an arXiv category (e.g. cs.CL)")
    if until < since:
        raise BadRequest(f"ingest: --until {until} is before --since {since}")
    return (
        f"cat:{category} AND submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"
    )


def _fetcher(settings: Settings, client: httpx.Client | None) -> Fetcher:
    return Fetcher(settings, name="arXiv", delay=settings.arxiv_delay_seconds, client=client)


def fetch_by_ids(
    settings: Settings, ids: list[str], client: httpx.Client | None = None
) -> list[Paper]:
    """The papers for `ids` (any form parse_arxiv_id accepts), in arXiv's order; ids arXiv
    does not know are simply absent. Raises BadRequest for a malformed id and SourceError when
    arXiv fails or reports an error."""
    wanted = list(dict.fromkeys(f"{i}v{v}" if v else i for i, v in map(parse_arxiv_id, ids)))
    papers: list[Paper] = []
    with _fetcher(settings, client) as fetcher:
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start : start + IDS_PER_REQUEST]
            data = fetcher.get(
                settings.arxiv_api_url,
                params={"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)},
            )
            page = parse_feed(data)
            if page.errors:
                raise SourceError(f"ingest: {page.errors[0]}")
            papers.extend(page.papers)
    return papers


def iter_category_pages(
    settings: Settings,
    category: str,
    since: date,
    until: date,
    *,
    start: int = 0,
    page_size: int = PAGE_SIZE,
    client: httpx.Client | None = None,
) -> Iterator[tuple[int, FeedPage]]:
    """(next start index, page) for each page of the query, oldest submissions first."""
    query = category_query(category, since, until)
    with _fetcher(settings, client) as fetcher:
        while True:
            params: dict[str, Any] = {
                "search_query": query,
                "start": start,
                "max_results": page_size,
                "sortBy": "submittedDate",
                "sortOrder": "ascending",
            }
            page = parse_feed(fetcher.get(settings.arxiv_api_url, params=params))
            start += page.entries
            yield start, page
            if page.entries == 0 or start >= page.total:
                return


def job_key(category: str, since: date, until: date) -> str:
    return f"arxiv-api:{category}:{since.isoformat()}:{until.isoformat()}"


def import_category(
    engine: Engine,
    settings: Settings,
    category: str,
    since: date,
    until: date,
    *,
    client: httpx.Client | None = None,
    progress: bool = False,
    page_size: int = PAGE_SIZE,
) -> IngestSummary:
    """Harvest a category's submissions in a date range, one committed page at a time; the
    next page index is saved in job_state with each page, so a re-run resumes where it stopped."""
    key = job_key(category, since, until)
    saved = get_state(engine, key)
    start = int(saved.get("start", 0)) if isinstance(saved, dict) else 0
    if start:
        log.info("arxiv: resuming %s at result %d", key, start)

    def batches() -> Iterator[Batch]:
        pages = iter_category_pages(
            settings, category, since, until, start=start, page_size=page_size, client=client
        )
        for next_start, page in pages:
            done = page.entries == 0 or next_start >= page.total
            yield Batch(
                papers=page.papers,
                errors=page.errors,
                units=len(page.papers),
                state=(key, None if done else {"start": next_start}),
            )

    return store_batches(engine, batches(), progress=progress, desc=f"arxiv {category}")


def import_ids(
    engine: Engine,
    settings: Settings,
    ids: list[str],
    *,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> IngestSummary:
    """Fetch and store the papers for `ids`; ids arXiv does not know are reported as rejected."""
    papers = fetch_by_ids(settings, ids, client=client)
    found = {p.id for p in papers}
    missing = [i for i in dict.fromkeys(parse_arxiv_id(x)[0] for x in ids) if i not in found]
    errors = [f"arxiv: no paper with id {i}" for i in missing]
    batch = Batch(papers=papers, errors=errors, units=len(papers))
    return store_batches(engine, [batch], progress=progress, total=len(papers), desc="arxiv ids")
