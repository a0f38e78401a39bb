"""Author and organisation lookups: `paper_authors` / `paper_orgs` kept in step with papers.

`sync(conn, rows)` rewrites the rows of the given papers from their `authors` JSON and
`organization` JSON (called by `papers.upsert_papers` for new papers and for papers whose
authors or organisation changed, and by migration 0009 for the existing catalog). The pages
read papers by author (newest first) and by organisation with one indexed query each.
"""

from __future__ import annotations

import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, false, func, inspect, select
from sqlalchemy.engine import RowMapping

from paperfeed.storage.schema import paper_authors, paper_orgs, papers

MAX_KEY = 255


def name_key(name: str) -> str:
    """'Yann  LeCun' and 'yann lecun' -> 'yann lecun' (NFKC, case-folded, single spaces)."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return " ".join(text.split())[:MAX_KEY]


def org_key(name: str) -> str:
    return " ".join((name or "").split()).lower()[:128]


def _org(value: Any) -> dict[str, str | None] | None:
    if not isinstance(value, Mapping):
        return None
    name = value.get("name")
    if not isinstance(name, str) or not org_key(name):
        return None
    fullname = value.get("fullname")
    return {"name": name[:128], "fullname": fullname[:255] if isinstance(fullname, str) else None}


_READY: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _tables_ready(conn: Connection) -> bool:
    """Whether migration 0009 has run. Code may write papers into an older schema (a test or a
    tool pinned at an earlier revision); 0009's backfill covers those papers later. Once the
    tables are seen they stay, so the check costs one lookup per engine."""
    if _READY.get(conn.engine):
        return True
    ready = inspect(conn).has_table("paper_authors")
    if ready:
        _READY[conn.engine] = True
    return ready


def sync(conn: Connection, rows: Sequence[Mapping[str, Any]] | Sequence[RowMapping]) -> None:
    """Rewrite the author and organisation rows of `rows` (each with id, authors, organization)."""
    if not rows or not _tables_ready(conn):
        return
    ids = [r["id"] for r in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(delete(paper_authors).where(paper_authors.c.paper_id.in_(chunk)))
        conn.execute(delete(paper_orgs).where(paper_orgs.c.paper_id.in_(chunk)))
    author_rows, org_rows = [], []
    for r in rows:
        seen: set[str] = set()
        for pos, author in enumerate(r.get("authors") or []):
            name = author.get("name", "") if isinstance(author, Mapping) else str(author)
            key = name_key(name)
            if key and key not in seen:
                seen.add(key)
                author_rows.append({"paper_id": r["id"], "position": pos, "name_key": key})
        org = _org(r.get("organization"))
        if org is not None:
            org_rows.append({"paper_id": r["id"], "org_key": org_key(str(org["name"])), **org})
    if author_rows:
        conn.execute(paper_authors.insert(), author_rows)
    if org_rows:
        conn.execute(paper_orgs.insert(), org_rows)


_LIST_COLS = (
    papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors, papers.c.categories,
    papers.c.primary_category, papers.c.published_at, papers.c.updated_at, papers.c.indexed_at,
    papers.c.upstream_upvotes, papers.c.member_upvotes, papers.c.upstream_comments,
    papers.c.organization, papers.c.github_repo,
)


def papers_by_author(
    conn: Connection, name: str, *, offset: int = 0, limit: int = 50
) -> tuple[list[RowMapping], int]:
    """(a page of the author's visible papers newest first, how many there are)."""
    key = name_key(name)
    where = (paper_authors.c.name_key == key, papers.c.hidden == false())
    base = paper_authors.join(papers, papers.c.id == paper_authors.c.paper_id)
    total = conn.execute(select(func.count()).select_from(base).where(*where)).scalar_one()
    rows = conn.execute(
        select(*_LIST_COLS).select_from(base).where(*where)
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .offset(offset).limit(limit)
    ).mappings().all()
    return list(rows), int(total)


def papers_by_org(
    conn: Connection, name: str, *, offset: int = 0, limit: int = 50
) -> tuple[list[RowMapping], int]:
    key = org_key(name)
    where = (paper_orgs.c.org_key == key, papers.c.hidden == false())
    base = paper_orgs.join(papers, papers.c.id == paper_orgs.c.paper_id)
    total = conn.execute(select(func.count()).select_from(base).where(*where)).scalar_one()
    rows = conn.execute(
        select(*_LIST_COLS).select_from(base).where(*where)
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .offset(offset).limit(limit)
    ).mappings().all()
    return list(rows), int(total)


def org_info(conn: Connection, name: str) -> dict[str, Any] | None:
    """{"name", "fullname"} of an organisation as its papers name it (most recent), or None."""
    row = conn.execute(
        select(paper_orgs.c.name, paper_orgs.c.fullname)
        .select_from(paper_orgs.join(papers, papers.c.id == paper_orgs.c.paper_id))
        .where(paper_orgs.c.org_key == org_key(name))
        .order_by(papers.c.published_at.desc().nulls_last())
        .limit(1)
    ).first()
    return {"name": row.name, "fullname": row.fullname} if row is not None else None


def top_orgs(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """Organisations with the most visible papers: [{"name", "fullname", "papers"}]."""
    rows = conn.execute(
        select(paper_orgs.c.org_key, func.max(paper_orgs.c.name), func.max(paper_orgs.c.fullname),
               func.count().label("n"))
        .select_from(paper_orgs.join(papers, papers.c.id == paper_orgs.c.paper_id))
        .where(papers.c.hidden == false())
        .group_by(paper_orgs.c.org_key)
        .order_by(func.count().desc(), paper_orgs.c.org_key)
        .limit(limit)
    ).all()
    return [{"name": r[1], "fullname": r[2], "papers": int(r[3])} for r in rows]


def backfill(conn: Connection, *, batch: int = 2000) -> int:
    """Fill both tables from every paper (migration 0009); returns papers done."""
    done, after = 0, ""
    while True:
        chunk: Iterable[RowMapping] = conn.execute(
            select(papers.c.id, papers.c.authors, papers.c.organization)
            .where(papers.c.id > after).order_by(papers.c.id).limit(batch)
        ).mappings().all()
        rows = list(chunk)
        if not rows:
            return done
        sync(conn, rows)
        done += len(rows)
        after = rows[-1]["id"]
