"""JSON-lines snapshot files (plain or .gz) -> papers, line by line.

Two real shapes are recognised per line:
- arxiv-cs daily crawls: `id, title, authors [names], categories [list], primary_category,
  abstract, comment, listing_date, abs_url, pdf_url`;
- Kaggle's `arxiv-metadata-oai-snapshot.json`: `id, submitter, authors` (one string),
  `authors_parsed [[last, first, suffix]], title, comments, journal-ref, doi, categories`
  (space-separated), `abstract, versions [{version, created}], update_date`.
A malformed line is reported with its line number and skipped; good lines are kept.

Published date for arxiv-cs lines: the crawl only knows `listing_date` (the first daily listing
that carried the paper). For a new-style id whose YYMM is the listing's month or the one
before, that is the announcement day and is used; for an older id (a replacement or late
cross-list) the listing date would be years off, so the first day of the id's month is used.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine

from paperfeed.errors import BadRequest, SourceError
from paperfeed.models import Author, IngestSummary, Paper, parse_arxiv_id
from paperfeed.sources.pipeline import Batch, store_batches
from paperfeed.sources.text import (
    clean_optional,
    clean_text,
    parse_day,
    parse_rfc2822,
    split_author_names,
)

SOURCE = "snapshot"
LINES_PER_BATCH = 5000
MAX_LINE_BYTES = 10 * 1024 * 1024


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _id_month(pid: str) -> date | None:
    """First day of the submission month a new-style id encodes (2401.01234 -> 2024-01-01)."""
    if len(pid) >= 9 and pid[4] == "." and pid[:4].isdigit():
        yy, mm = int(pid[:2]), int(pid[2:4])
        if 1 <= mm <= 12:
            return date(2000 + yy if yy < 90 else 1900 + yy, mm, 1)
    return None


def _listing_published(pid: str, listing: date | None) -> datetime | None:
    month = _id_month(pid)
    if listing is None:
        return datetime(month.year, month.month, 1) if month else None
    if month is None:
        return datetime(listing.year, listing.month, listing.day)
    months_apart = (listing.year - month.year) * 12 + listing.month - month.month
    if 0 <= months_apart <= 1:
        return datetime(listing.year, listing.month, listing.day)
    return datetime(month.year, month.month, 1)


def _kaggle_authors(record: dict[str, Any]) -> list[Author]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        out = []
        for parts in parsed:
            if not isinstance(parts, list):
                continue
            last, first, suffix = ([p if isinstance(p, str) else "" for p in parts] + [""] * 3)[:3]
            name = clean_text(" ".join(p for p in (first, last, suffix) if p))
            if name:
                out.append(Author(name=name))
        return out
    return [Author(name=n) for n in split_author_names(_str(record.get("authors")))]


def parse_record(record: Any) -> Paper:
    """One decoded line as a Paper (pure). Raises ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("no 'id'")
    try:
        pid, version = parse_arxiv_id(raw_id)
    except BadRequest:
        raise ValueError(f"id {raw_id[:40]!r} is not an arXiv id") from None
    title = clean_text(_str(record.get("title")))
    if not title:
        raise ValueError(f"{pid}: no title")
    abstract = clean_text(_str(record.get("abstract")))
    raw_categories = record.get("categories")
    if isinstance(raw_categories, str):
        categories = raw_categories.split()
    elif isinstance(raw_categories, list):
        categories = [c for c in raw_categories if isinstance(c, str) and c]
    else:
        categories = []
    authors_field = record.get("authors")
    if isinstance(authors_field, list):  # arxiv-cs shape
        authors = [Author(name=n) for a in authors_field if (n := clean_text(_str(a)))]
        published = _listing_published(pid, parse_day(record.get("listing_date")))
        updated = None
    else:  # Kaggle snapshot shape
        authors = _kaggle_authors(record)
        versions = [v for v in record.get("versions") or [] if isinstance(v, dict)]
        published = parse_rfc2822(versions[0].get("created")) if versions else None
        updated = parse_rfc2822(versions[-1].get("created")) if versions else None
        if versions and version is None:
            last = _str(versions[-1].get("version")) or ""
            version = int(last[1:]) if last[1:].isdigit() else len(versions)
    primary = _str(record.get("primary_category"))
    return Paper(
        id=pid,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=list(dict.fromkeys(categories)),
        primary_category=primary or (categories[0] if categories else None),
        published_at=published,
        updated_at=updated,
        comment=clean_optional(_str(record.get("comment")) or _str(record.get("comments"))),
        journal_ref=clean_optional(_str(record.get("journal-ref"))),
        doi=clean_optional(_str(record.get("doi"))),
        source=SOURCE,
    )


def parse_line(line: bytes) -> Paper:
    """One JSON line as a Paper (pure). Raises ValueError with the reason."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line of {len(line)} bytes is too long")
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    return parse_record(record)


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_batches(path: Path, *, size: int = LINES_PER_BATCH) -> Iterator[Batch]:
    """Parsed lines in batches; bad lines become 'FILE line N: reason' errors."""
    if not path.is_file():
        raise SourceError(f"ingest: {path} is not a readable file")
    batch = Batch()
    try:
        with _open(path) as raw:
            for number, line in enumerate(raw, start=1):
                batch.units += 1
                if line.strip():
                    try:
                        batch.papers.append(parse_line(line))
                    except ValueError as exc:
                        batch.errors.append(f"jsonl: {path.name} line {number}: {exc}; skipped")
                if batch.units >= size:
                    yield batch
                    batch = Batch()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        batch.errors.append(f"jsonl: {path.name}: reading stopped early ({exc})")
    yield batch


def count_lines(path: Path) -> int | None:
    """Lines in a plain file (for the progress bar); None for compressed files."""
    if path.suffix == ".gz":
        return None
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def import_file(
    engine: Engine, path: Path, *, progress: bool = False, batch_size: int = LINES_PER_BATCH
) -> IngestSummary:
    """Import a JSON-lines snapshot, committing every `batch_size` lines. Idempotent."""
    path = Path(path)
    total = count_lines(path) if path.is_file() else None
    return store_batches(
        engine,
        iter_batches(path, size=batch_size),
        progress=progress,
        total=total,
        unit="line",
        desc="jsonl",
    )
