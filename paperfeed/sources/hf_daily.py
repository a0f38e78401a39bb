"""Hugging Face `/api/daily_papers?date=D`: saved or live responses -> papers + featured days.

Featured day: the `D` of the request (the file name `D.json` for saved responses), because
HF's `?date=D` lists exactly the papers featured on D. When no such date is known (a file with
another name) the wrapper's `date`, then `submittedOnDailyAt`'s date is used; in the real
archive `submittedOnDailyAt` always falls on the file's date when present (7,077 of 9,881
items; 2024 files lack it).

Formats seen in the real 580-day archive and handled here:
- a JSON list of items (the API's answer);
- 2025-01-10.json: wrapped as {"status", "date", "count", "data": [...]};
- 22 files (2024-12-11 .. 2025-01-10) whose items are Python-repr strings
  ("{'paper': {...}, 'numComments': 3}"): decoded with `ast.literal_eval`, which evaluates
  literals only (no code), with a size cap; an item that still fails is rejected by name;
- 2024 items use `mediaUrl` and lack `submittedOnDailyAt`/`submittedBy`.
Authors marked `hidden` by Hugging Face are left out, as on huggingface.co.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from tqdm import tqdm

from paperfeed.config import Settings
from paperfeed.errors import BadRequest, ParseError, SourceError
from paperfeed.models import Author, Featured, IngestSummary, Paper, Submitter, parse_arxiv_id
from paperfeed.sources.http import Fetcher
from paperfeed.sources.pipeline import chunk_papers, store_batches
from paperfeed.sources.text import clean_optional, clean_text, parse_day, parse_timestamp

log = logging.getLogger(__name__)

SOURCE = "hf"
MAX_REPR_CHARS = 2_000_000  # one item; real ones are < 20 kB
MAX_FILE_BYTES = 64 * 1024 * 1024
DAY_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})\.json$")


@dataclass(slots=True)
class DayRecords:
    """What one day's response holds: papers, their featured rows, and rejected items."""

    name: str
    day: date | None
    papers: list[Paper] = field(default_factory=list)
    featured: list[Featured] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    repr_items: int = 0


def day_from_name(name: str) -> date | None:
    m = DAY_NAME.search(name)
    return parse_day(m.group(1)) if m else None


def _decode_document(data: bytes, name: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"hf-daily: {name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    # A whole document in Python-repr form: same safe literal evaluation as for items.
    if len(text) <= MAX_FILE_BYTES:
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    raise ParseError(f"hf-daily: {name}: neither JSON nor a Python literal; file skipped")


def _items(document: Any, name: str) -> tuple[list[Any], date | None]:
    """The item list and the wrapper's date, if any."""
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return document["data"], parse_day(document.get("date"))
    if isinstance(document, list):
        return document, None
    kind = type(document).__name__
    raise ParseError(f"hf-daily: {name}: expected a list of papers, got a JSON {kind}")


def _decode_item(item: Any) -> tuple[dict[str, Any], bool]:
    """An item as a dict; True when it came from Python-repr text."""
    if isinstance(item, dict):
        return item, False
    if isinstance(item, str):
        text = item.strip()
        try:
            value = json.loads(text)
            was_repr = False
        except (ValueError, RecursionError):
            if len(text) > MAX_REPR_CHARS:
                raise ValueError(f"repr text of {len(text)} characters is too long") from None
            try:
                value = ast.literal_eval(text)
            except (SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                raise ValueError(f"unreadable Python-repr text ({type(exc).__name__})") from None
            was_repr = True
        if isinstance(value, dict):
            return value, was_repr
    raise ValueError(f"an item must be an object, got {type(item).__name__}")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plain_json(value: Any) -> dict[str, Any] | None:
    """A dict that JSON can store (repr items may hold tuples, sets, bytes...), else None."""
    if not isinstance(value, dict):
        return None
    try:
        return json.loads(json.dumps(value, allow_nan=False))  # type: ignore[no-any-return]
    except (TypeError, ValueError, RecursionError):
        return None


def _authors(raw: Any) -> list[Author]:
    out: list[Author] = []
    if not isinstance(raw, list):
        return out
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("hidden") is True:
            continue
        name = clean_text(_str(entry.get("name")))
        if not name:
            continue
        raw_user = entry.get("user")
        user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
        out.append(
            Author(
                name=name,
                hf_user=_bounded(user.get("user"), 128),
                hf_fullname=_bounded(user.get("fullname"), 256),
                hf_avatar_url=_bounded(user.get("avatarUrl"), 512),
                hf_user_id=_bounded(user.get("_id"), 64),
                hf_is_pro=user["isPro"] if isinstance(user.get("isPro"), bool) else None,
                status=_bounded(entry.get("status"), 64),
                status_changed_at=_bounded(entry.get("statusLastChangedAt"), 40),
            )
        )
    return out


def _bounded(value: Any, limit: int) -> str | None:
    text = _str(value)
    return text if text is not None and len(text) <= limit else None


def _submitter(item: dict[str, Any], paper: dict[str, Any]) -> Submitter | None:
    """The HF user who put the paper on the list (sizes bounded as the users table is)."""
    for by, key in ((item.get("submittedBy"), "name"), (paper.get("submittedOnDailyBy"), "user")):
        if isinstance(by, dict) and (name := _bounded(by.get(key), 64)):
            fullname = _str(by.get("fullname"))
            return Submitter(
                name=name,
                fullname=fullname[:128] if fullname else None,
                avatar_url=_bounded(by.get("avatarUrl"), 512),
                hf_id=_bounded(by.get("_id"), 64),
            )
    return None


def parse_item(item: dict[str, Any], day: date | None) -> tuple[Paper, Featured]:
    """One daily-papers item as (Paper, Featured). Raises ValueError saying what is missing."""
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ValueError("no 'paper' object")
    raw_id = paper.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("no paper id")
    try:
        pid, version = parse_arxiv_id(raw_id)
    except BadRequest:
        raise ValueError(f"paper id {raw_id[:40]!r} is not an arXiv id") from None
    title = clean_text(_str(paper.get("title")) or _str(item.get("title")))
    if not title:
        raise ValueError(f"{pid}: no title")
    abstract = clean_text(_str(paper.get("summary")) or _str(item.get("summary")))
    submitted_at = parse_timestamp(paper.get("submittedOnDailyAt"))
    featured_day = day or (submitted_at.date() if submitted_at else None)
    if featured_day is None:
        raise ValueError(f"{pid}: no featured day (name the file YYYY-MM-DD.json)")
    if submitted_at is None:
        # 2024 schema: no submittedOnDailyAt; the item's own publishedAt was the time it was
        # put on the list. Otherwise the day itself (never the time of this import).
        listed = parse_timestamp(item.get("publishedAt"))
        submitted_at = (
            listed if listed and listed.date() == featured_day
            else datetime.combine(featured_day, time())
        )
    keywords = paper.get("ai_keywords")
    organization = paper.get("organization") or item.get("organization")
    record = Paper(
        id=pid,
        version=version,
        title=title,
        abstract=abstract,
        authors=_authors(paper.get("authors")),
        published_at=parse_timestamp(paper.get("publishedAt")),
        github_repo=_str(paper.get("githubRepo")),
        project_page=_str(paper.get("projectPage")),
        github_stars=_int(paper.get("githubStars")),
        ai_summary=clean_optional(_str(paper.get("ai_summary"))),
        ai_keywords=[k for k in keywords if isinstance(k, str)]
        if isinstance(keywords, list)
        else None,
        upstream_upvotes=_int(paper.get("upvotes")),
        num_comments=_int(item.get("numComments")),
        organization=_plain_json(organization),
        source=SOURCE,
    )
    feat = Featured(
        paper_id=pid,
        day=featured_day,
        submitted_at=submitted_at,
        submitter=_submitter(item, paper),
        source=SOURCE,
    )
    return record, feat


def parse_day_response(data: bytes, *, name: str, day: date | None = None) -> DayRecords:
    """Parse one `/api/daily_papers?date=` response (pure). Raises ParseError for an unusable
    file; a bad item is rejected in `errors` with the file name and item number."""
    document = _decode_document(data, name)
    items, wrapped_day = _items(document, name)
    result = DayRecords(name=name, day=day or wrapped_day)
    for number, raw in enumerate(items, start=1):
        try:
            item, was_repr = _decode_item(raw)
            paper, feat = parse_item(item, result.day)
        except ValueError as exc:
            result.errors.append(f"hf-daily: {name}: item {number}: {exc}; skipped")
            continue
        result.repr_items += was_repr
        result.papers.append(paper)
        result.featured.append(feat)
    if result.repr_items:
        log.info(
            "hf-daily: %s holds %d Python-repr items; read them as Python literals",
            name, result.repr_items,
        )
    return result


def iter_path(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each response under `path`: a file, a directory of *.json files, or a
    .tar.gz/.tgz/.tar archive read member by member (never unpacked to disk)."""
    if not path.exists():
        raise SourceError(f"ingest: {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise SourceError(f"ingest: {path} holds no *.json files")
        for file in files:
            yield file.name, file.read_bytes()
        return
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(path, "r:*") as archive:
                members = sorted(
                    (m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")),
                    key=lambda m: m.name,
                )
                for member in members:
                    handle = archive.extractfile(member)
                    if handle is not None and member.size <= MAX_FILE_BYTES:
                        yield Path(member.name).name, handle.read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"ingest: {path} is not a readable tar archive ({exc})") from None
        return
    yield path.name, path.read_bytes()


def parse_responses(responses: Iterable[tuple[str, bytes, date | None]]) -> DayRecords:
    """Parse many days into one set of records: each paper once, as its latest day describes
    it (so re-runs never flip-flop upvotes), with every featured day kept."""
    merged = DayRecords(name="*", day=None)
    latest: dict[str, tuple[date, Paper]] = {}
    for name, data, day in responses:
        try:
            records = parse_day_response(data, name=name, day=day or day_from_name(name))
        except ParseError as exc:
            merged.errors.append(str(exc))
            continue
        merged.errors.extend(records.errors)
        merged.repr_items += records.repr_items
        merged.featured.extend(records.featured)
        for paper, feat in zip(records.papers, records.featured, strict=True):
            seen = latest.get(paper.id)
            if seen is None or feat.day >= seen[0]:
                latest[paper.id] = (feat.day, paper)
    merged.papers = [paper for _, paper in latest.values()]
    return merged


def store(engine: Engine, records: DayRecords, *, progress: bool = False) -> IngestSummary:
    batches = chunk_papers(records.papers, records.featured, records.errors)
    return store_batches(
        engine, batches, progress=progress, total=len(records.papers), desc="hf-daily"
    )


def import_path(engine: Engine, path: Path, *, progress: bool = False) -> IngestSummary:
    """Import saved responses (a file, a directory of YYYY-MM-DD.json, or a .tar.gz).

    Idempotent: a second run reports 0 new, 0 updated. Raises SourceError if `path` is
    unreadable; unusable files and items are counted as rejected with a message each."""
    path = Path(path)
    files = tqdm(iter_path(path), unit="file", desc="hf-daily read", disable=not progress)
    records = parse_responses((name, data, None) for name, data in files)
    files.close()
    return store(engine, records, progress=progress)


def days_between(since: date, until: date) -> list[date]:
    if until < since:
        raise SourceError(f"ingest: --until {until} is before --since {since}")
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


def fetch_days(
    settings: Settings, days: Iterable[date], *, client: httpx.Client | None = None
) -> Iterator[tuple[str, bytes, date]]:
    """Raw responses of the live API, one request per day (HF asks for no fixed delay; we keep
    a short one)."""
    url = settings.hf_api_url.rstrip("/") + "/api/daily_papers"
    with Fetcher(
        settings, name="Hugging Face", delay=min(settings.arxiv_delay_seconds, 1.0), client=client
    ) as fetcher:
        for day in days:
            data = fetcher.get(url, params={"date": day.isoformat()})
            yield f"{day.isoformat()}.json", data, day


def import_days(
    engine: Engine,
    settings: Settings,
    since: date,
    until: date,
    *,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> IngestSummary:
    """Fetch and import the live daily lists from `since` to `until` (inclusive), committing
    each day as it arrives, so an interrupted range keeps the days already done."""
    days = days_between(since, until)
    summary = IngestSummary()
    with tqdm(total=len(days), unit="day", desc="hf-daily", disable=not progress) as bar:
        for name, data, day in fetch_days(settings, days, client=client):
            summary.merge(store(engine, parse_responses([(name, data, day)])))
            bar.update(1)
    return summary
