"""Papers and featured days: idempotent upserts from sources, and single-paper reads.

Upserts merge: a field a source does not know (None) keeps the stored value, so the arXiv API
and the Hugging Face feed can both describe one paper. A content hash over the merged record
decides new / updated / unchanged, so re-running an ingest changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from copy import copy
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, String, func, select, tuple_
from sqlalchemy.engine import RowMapping

from paperfeed.models import Author, Featured, IngestSummary, Paper, Submitter
from paperfeed.storage import authors, versions
from paperfeed.storage.schema import featured, papers, users

# Columns a Paper record maps onto one-to-one (besides id/authors handled separately).
MERGED_FIELDS = (
    "version",
    "title",
    "abstract",
    "categories",
    "primary_category",
    "published_at",
    "updated_at",
    "comment",
    "journal_ref",
    "doi",
    "github_repo",
    "project_page",
    "github_stars",
    "ai_summary",
    "ai_keywords",
    "organization",
    "upstream_upvotes",
)
HASHED_FIELDS = ("authors", *MERGED_FIELDS, "upstream_comments")
# Length-bounded text columns (links, DOI, category): an over-long upstream value is dropped
# rather than stored, since PostgreSQL would reject the whole batch and a cut URL is useless.
BOUNDED = {
    c.name: c.type.length
    for c in papers.c
    if isinstance(c.type, String) and c.type.length and c.name in MERGED_FIELDS
}
BATCH = 500


def content_hash(row: dict[str, Any]) -> str:
    # orjson: several times faster than json.dumps here; datetimes become ISO-8601 text.
    payload = orjson.dumps([row.get(k) for k in HASHED_FIELDS], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def _authors_json(authors: Sequence[Author]) -> list[dict[str, Any]]:
    return [a.as_json() for a in authors]


def _merge(existing: RowMapping | None, paper: Paper) -> dict[str, Any]:
    """The row to store: incoming values where known, else the stored ones."""
    row: dict[str, Any] = dict(existing) if existing is not None else {}
    row["id"] = paper.id
    for name in MERGED_FIELDS:
        value = getattr(paper, name)  # shallow: asdict() deep-copies and dominated ingest time
        if isinstance(value, list | dict):
            value = copy(value)
        if value is not None and value != [] or name not in row:
            if name == "version" and value is not None and row.get("version"):
                value = max(value, row["version"])
            row[name] = value
    for name, limit in BOUNDED.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            row[name] = None
    if row.get("categories") is None:
        row["categories"] = []
    if row.get("upstream_upvotes") is None:
        row["upstream_upvotes"] = 0
    if paper.authors or "authors" not in row:
        row["authors"] = _authors_json(paper.authors)
        row["authors_text"] = "; ".join(a.name for a in paper.authors)
    if paper.num_comments is not None:
        row["upstream_comments"] = paper.num_comments
    row.setdefault("upstream_comments", 0)
    if not row.get("primary_category") and row["categories"]:
        row["primary_category"] = row["categories"][0]
    row.setdefault("source", paper.source)
    return row


def upsert_papers(conn: Connection, records: Iterable[Paper], *, now: datetime) -> IngestSummary:
    """Insert or merge `records` (call inside a write transaction). Returns the counts."""
    summary = IngestSummary()
    batch: list[Paper] = []
    for paper in records:
        batch.append(paper)
        if len(batch) >= BATCH:
            summary.merge(_upsert_batch(conn, batch, now))
            batch = []
    if batch:
        summary.merge(_upsert_batch(conn, batch, now))
    if summary.new or summary.updated:
        versions.touch(conn)
    return summary


def _upsert_batch(conn: Connection, batch: list[Paper], now: datetime) -> IngestSummary:
    summary = IngestSummary()
    # Within a batch the last record for an id wins over earlier ones, merged in order.
    ids = list(dict.fromkeys(p.id for p in batch))
    existing: dict[str, RowMapping] = {
        r["id"]: r
        for r in conn.execute(select(papers).where(papers.c.id.in_(ids))).mappings()
    }
    merged: dict[str, dict[str, Any]] = {}
    for paper in batch:
        base = merged.get(paper.id) or existing.get(paper.id)
        merged[paper.id] = _merge(base, paper)  # type: ignore[arg-type]
    inserts, updates = [], []
    for pid, row in merged.items():
        row["content_hash"] = content_hash(row)
        old = existing.get(pid)
        if old is None:
            row.update(indexed_at=now, modified_at=now, hidden=False, member_upvotes=0)
            inserts.append(row)
        elif old["content_hash"] != row["content_hash"]:
            row["modified_at"] = now
            updates.append(row)
        else:
            summary.unchanged += 1
    if inserts:
        conn.execute(papers.insert(), inserts)
        authors.sync(conn, inserts)
        summary.new += len(inserts)
    resync = []
    for row in updates:
        # Only the changed columns: the SQLite FTS trigger fires on any UPDATE naming
        # title/authors_text/abstract, and re-indexing a paper whose text did not change
        # (an upvote snapshot moved) would be wasted work.
        old = existing[row["id"]]
        values = {k: v for k, v in row.items() if k != "id" and old.get(k) != v}
        conn.execute(papers.update().where(papers.c.id == row["id"]).values(**values))
        if "authors" in values or "organization" in values:
            resync.append(row)
    authors.sync(conn, resync)  # author / organisation pages' lookup rows
    summary.updated += len(updates)
    return summary


def ensure_external_user(conn: Connection, submitter: Submitter, *, now: datetime) -> int:
    """The users row for a submitter; imported Hugging Face users get an external account
    (no email, cannot sign in) under their HF username."""
    if submitter.user_id is not None:
        return submitter.user_id
    # Only external accounts match: a local member who picked the same username must not be
    # credited with someone else's Hugging Face submissions.
    # Usernames are unique whatever their case, so matching ignores it too.
    found = conn.execute(
        select(users.c.id, users.c.external)
        .where(func.lower(users.c.username) == submitter.name.lower())
    ).first()
    username = submitter.name
    if found is not None:
        if found.external:
            return int(found.id)
        username = f"{submitter.name}@hf"
        again = conn.execute(
            select(users.c.id).where(func.lower(users.c.username) == username.lower(),
                                     users.c.external.is_(True))
        ).scalar_one_or_none()
        if again is not None:
            return int(again)
    result = conn.execute(
        users.insert().values(
            username=username,
            display_name=submitter.fullname,
            avatar_url=submitter.avatar_url,
            hf_id=submitter.hf_id,
            external=True,
            role="member",
            banned=False,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def add_featured(conn: Connection, items: Iterable[Featured], *, now: datetime) -> int:
    """Record featured days that are not yet recorded (papers must exist). Returns how many."""
    items = list(items)
    if not items:
        return 0
    keys = list({(f.paper_id, f.day) for f in items})
    present: set[tuple[str, Any]] = set()
    for i in range(0, len(keys), BATCH):
        chunk = keys[i : i + BATCH]
        rows_found = conn.execute(
            select(featured.c.paper_id, featured.c.day).where(
                tuple_(featured.c.paper_id, featured.c.day).in_(chunk)
            )
        )
        present.update((r.paper_id, r.day) for r in rows_found)
    user_ids: dict[str, int] = {}
    rows = []
    for item in items:
        if (item.paper_id, item.day) in present:
            continue
        present.add((item.paper_id, item.day))
        submitter_id = None
        if item.submitter is not None:
            key = item.submitter.name
            if key not in user_ids:
                user_ids[key] = ensure_external_user(conn, item.submitter, now=now)
            submitter_id = user_ids[key]
        rows.append(
            {
                "paper_id": item.paper_id,
                "day": item.day,
                "submitted_at": item.submitted_at or now,
                "submitter_id": submitter_id,
                "source": item.source,
                "removed": False,
            }
        )
    if rows:
        conn.execute(featured.insert(), rows)
        versions.touch(conn)
    return len(rows)


def count_papers(conn: Connection) -> int:
    """How many papers the catalog holds (hidden ones included)."""
    return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def get_paper(conn: Connection, paper_id: str) -> RowMapping | None:
    return conn.execute(select(papers).where(papers.c.id == paper_id)).mappings().first()
