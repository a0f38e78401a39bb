"""arXiv OAI-PMH 2.0 harvesting: ListRecords in the `arXiv` or `arXivRaw` metadata format.

Protocol (openarchives.org OAI-PMH v2.0): the first request names metadataPrefix, set, from,
until; each answer may end with a resumptionToken, and the next request carries only that
token (it is exclusive). An empty token ends the list. The error `noRecordsMatch` means an
empty result, not a failure; other errors (badArgument, badResumptionToken, ...) stop the
harvest with their code. A 503 with Retry-After (OAI flow control) is waited out by Fetcher.

Resumable: the token for the next page is saved in job_state in the same transaction as the
page's papers, so a re-run after a crash or Ctrl-C continues from the last committed page.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import BadRequest, ParseError, SourceError
from paperfeed.models import Author, IngestSummary, Paper, parse_arxiv_id
from paperfeed.sources.http import Fetcher
from paperfeed.sources.pipeline import Batch, store_batches
from paperfeed.sources.text import (
    clean_optional,
    clean_text,
    parse_rfc2822,
    split_author_names,
    start_of_day,
)
from paperfeed.sources.xml import parse_xml
from paperfeed.storage.jobs import get_state

log = logging.getLogger(__name__)

SOURCE = "oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
FORMATS = {
    "arXiv": "{http://arxiv.org/OAI/arXiv/}",
    "arXivRaw": "{http://arxiv.org/OAI/arXivRaw/}",
}
MAX_BYTES = 100 * 1024 * 1024


@dataclass(slots=True)
class OaiPage:
    """One ListRecords answer."""

    papers: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deleted: int = 0
    token: str | None = None  # None: the list is complete
    complete_size: int | None = None


def _find_text(elem: ET.Element, tag: str) -> str | None:
    child = elem.find(tag)
    return child.text if child is not None and child.text else None


def _arxiv_record(meta: ET.Element, ns: str) -> Paper:
    pid, version = parse_arxiv_id(_find_text(meta, f"{ns}id") or "")
    authors = []
    for a in meta.findall(f"{ns}authors/{ns}author"):
        parts = [
            _find_text(a, f"{ns}forenames"),
            _find_text(a, f"{ns}keyname"),
            _find_text(a, f"{ns}suffix"),
        ]
        name = clean_text(" ".join(p for p in parts if p))
        if name:
            authors.append(Author(name=name))
    categories = (_find_text(meta, f"{ns}categories") or "").split()
    return Paper(
        id=pid,
        version=version,
        title=clean_text(_find_text(meta, f"{ns}title")),
        abstract=clean_text(_find_text(meta, f"{ns}abstract")),
        authors=authors,
        categories=list(dict.fromkeys(categories)),
        primary_category=categories[0] if categories else None,
        published_at=start_of_day(_find_text(meta, f"{ns}created")),
        updated_at=start_of_day(_find_text(meta, f"{ns}updated")),
        comment=clean_optional(_find_text(meta, f"{ns}comments")),
        journal_ref=clean_optional(_find_text(meta, f"{ns}journal-ref")),
        doi=clean_optional(_find_text(meta, f"{ns}doi")),
        source=SOURCE,
    )


def _arxiv_raw_record(meta: ET.Element, ns: str) -> Paper:
    pid, version = parse_arxiv_id(_find_text(meta, f"{ns}id") or "")
    versions = []
    for v in meta.findall(f"{ns}version"):
        label = (v.get("version") or "").lstrip("v")
        versions.append((int(label) if label.isdigit() else 0, _find_text(v, f"{ns}date")))
    versions.sort(key=lambda item: item[0])
    categories = (_find_text(meta, f"{ns}categories") or "").split()
    return Paper(
        id=pid,
        version=version or (versions[-1][0] if versions and versions[-1][0] else None),
        title=clean_text(_find_text(meta, f"{ns}title")),
        abstract=clean_text(_find_text(meta, f"{ns}abstract")),
        authors=[Author(name=n) for n in split_author_names(_find_text(meta, f"{ns}authors"))],
        categories=list(dict.fromkeys(categories)),
        primary_category=categories[0] if categories else None,
        published_at=parse_rfc2822(versions[0][1]) if versions else None,
        updated_at=parse_rfc2822(versions[-1][1]) if versions else None,
        comment=clean_optional(_find_text(meta, f"{ns}comments")),
        journal_ref=clean_optional(_find_text(meta, f"{ns}journal-ref")),
        doi=clean_optional(_find_text(meta, f"{ns}doi")),
        source=SOURCE,
    )


def parse_list_records(data: bytes, metadata_prefix: str) -> OaiPage:
    """Parse a ListRecords answer (pure). noRecordsMatch -> empty page; any other OAI error
    -> SourceError naming its code; unsafe or non-OAI XML -> ParseError."""
    ns = FORMATS.get(metadata_prefix)
    if ns is None:
        raise BadRequest(f"ingest: OAI format must be one of {', '.join(FORMATS)}")
    root = parse_xml(
        data,
        component="oai",
        root_tag=f"{OAI}OAI-PMH",
        what="an OAI-PMH response",
        max_bytes=MAX_BYTES,
    )
    page = OaiPage()
    errors = root.findall(f"{OAI}error")
    if errors:
        codes = [e.get("code") or "unknown" for e in errors]
        if codes == ["noRecordsMatch"]:
            return page
        detail = "; ".join(f"{c}: {clean_text(e.text)}" for c, e in zip(codes, errors, strict=True))
        hint = ""
        if "badResumptionToken" in codes:
            hint = " (the token expired: re-run with --restart)"
        raise SourceError(f"ingest: arXiv OAI-PMH answered {detail}{hint}")
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise ParseError("oai: answer has neither ListRecords nor an error")
    for number, record in enumerate(listing.findall(f"{OAI}record"), start=1):
        header = record.find(f"{OAI}header")
        if header is not None and header.get("status") == "deleted":
            page.deleted += 1
            continue
        meta = record.find(f"{OAI}metadata/{ns}{metadata_prefix}")
        ident = (_find_text(header, f"{OAI}identifier") if header is not None else None) or "?"
        if meta is None:
            page.errors.append(f"oai: record {number} ({ident}): no {metadata_prefix} metadata")
            continue
        try:
            paper = (_arxiv_record if metadata_prefix == "arXiv" else _arxiv_raw_record)(meta, ns)
        except (BadRequest, ValueError) as exc:
            page.errors.append(f"oai: record {number} ({ident}): {exc}; skipped")
            continue
        if not paper.title:
            page.errors.append(f"oai: record {number} ({ident}): no title; skipped")
            continue
        page.papers.append(paper)
    token = listing.find(f"{OAI}resumptionToken")
    if token is not None:
        page.token = (token.text or "").strip() or None
        size = token.get("completeListSize")
        page.complete_size = int(size) if size and size.isdigit() else None
    return page


def job_key(prefix: str, set_spec: str | None, from_day: date | None, until: date | None) -> str:
    return f"oai:{prefix}:{set_spec or '*'}:{from_day or '*'}:{until or '*'}"


def first_params(
    prefix: str, set_spec: str | None, from_day: date | None, until: date | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"verb": "ListRecords", "metadataPrefix": prefix}
    if set_spec:
        params["set"] = set_spec
    if from_day:
        params["from"] = from_day.isoformat()
    if until:
        params["until"] = until.isoformat()
    return params


def iter_pages(
    settings: Settings,
    metadata_prefix: str,
    params: dict[str, Any],
    *,
    client: httpx.Client | None = None,
) -> Iterator[OaiPage]:
    """Follow resumption tokens from the request `params` until the list is complete."""
    with Fetcher(
        settings, name="arXiv OAI-PMH", delay=settings.arxiv_delay_seconds, client=client
    ) as fetcher:
        while True:
            page = parse_list_records(fetcher.get(settings.arxiv_oai_url, params), metadata_prefix)
            yield page
            if page.token is None:
                return
            params = {"verb": "ListRecords", "resumptionToken": page.token}


def harvest(
    engine: Engine,
    settings: Settings,
    *,
    metadata_prefix: str = "arXiv",
    set_spec: str | None = None,
    from_day: date | None = None,
    until: date | None = None,
    restart: bool = False,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> IngestSummary:
    """Harvest ListRecords into the catalog, one committed page at a time, resuming from a
    saved resumption token unless `restart`."""
    if metadata_prefix not in FORMATS:
        raise BadRequest(f"ingest: --format must be one of {', '.join(FORMATS)}")
    if from_day and until and until < from_day:
        raise BadRequest(f"ingest: --until {until} is before --from {from_day}")
    key = job_key(metadata_prefix, set_spec, from_day, until)
    saved = None if restart else get_state(engine, key)
    if isinstance(saved, dict) and saved.get("token"):
        log.info("oai: resuming %s from a saved resumption token", key)
        params: dict[str, Any] = {"verb": "ListRecords", "resumptionToken": saved["token"]}
    else:
        params = first_params(metadata_prefix, set_spec, from_day, until)

    def batches() -> Iterator[Batch]:
        for page in iter_pages(settings, metadata_prefix, params, client=client):
            yield Batch(
                papers=page.papers,
                errors=page.errors,
                units=len(page.papers) + len(page.errors) + page.deleted,
                total=page.complete_size,
                state=(key, {"token": page.token} if page.token else None),
            )

    return store_batches(engine, batches(), progress=progress, unit="record", desc="oai")
