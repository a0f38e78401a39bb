"""Stored document vectors (table `embeddings`): the truth the vector index files are built from.

One row per paper: its vector (float32 little-endian bytes), the model that made it and a hash
of the exact text embedded, so a model change or an edited title/abstract makes the paper due
for re-embedding. Every write bumps a version stamp in `job_state`, which lets each web worker
notice (with one cheap read) that its vector index is behind the table. On PostgreSQL with
pgvector (migration 0005) each write also fills `embeddings.embedding`, the column
`storage.pgvector` searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.storage import pgvector
from paperfeed.storage.jobs import get_state, set_state
from paperfeed.storage.schema import embeddings, papers

VERSION_KEY = "embeddings.version"
CHUNK = 500


@dataclass(frozen=True, slots=True)
class PaperEmbeddingState:
    """A paper's text and what is stored for it (model_id/content_hash None: no vector)."""

    paper_id: str
    title: str
    abstract: str
    model_id: str | None
    content_hash: str | None


def to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    vec = np.frombuffer(data, dtype="<f4")
    if vec.shape[0] != dim:
        raise ValueError(f"stored vector has {vec.shape[0]} values, expected {dim}")
    return vec.astype(np.float32)


def embeddings_version(conn: Connection) -> str | None:
    """The current version stamp (changes on every write to `embeddings`)."""
    value = get_state(conn, VERSION_KEY)
    return None if value is None else str(value)


def bump_version(conn: Connection, *, now: datetime) -> str:
    """Record that `embeddings` changed; call inside the write transaction that changed it."""
    stamp = uuid.uuid4().hex
    set_state(conn, VERSION_KEY, stamp, now=now)
    return stamp


def scan_papers(
    conn: Connection, *, after: str | None = None, limit: int = 2000
) -> list[PaperEmbeddingState]:
    """Papers in id order after `after`, with their stored embedding's model and hash."""
    query = (
        select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            embeddings.c.model_id,
            embeddings.c.content_hash,
        )
        .select_from(papers.outerjoin(embeddings, embeddings.c.paper_id == papers.c.id))
        .order_by(papers.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(papers.c.id > after)
    return [PaperEmbeddingState(*row) for row in conn.execute(query)]


def paper_texts(conn: Connection, paper_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) of the given papers that exist."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        rows = conn.execute(
            select(papers.c.id, papers.c.title, papers.c.abstract).where(papers.c.id.in_(chunk))
        )
        out.update({pid: (title, abstract) for pid, title, abstract in rows})
    return out


def store_embeddings(
    conn: Connection,
    *,
    model_id: str,
    paper_ids: Sequence[str],
    content_hashes: Sequence[str],
    vectors: np.ndarray,
    now: datetime,
) -> str | None:
    """Insert or replace the vectors of `paper_ids` (call inside a write transaction).

    Returns the new version stamp (None when nothing was stored)."""
    if len(paper_ids) != len(content_hashes) or len(paper_ids) != len(vectors):
        raise ValueError("store_embeddings: ids, hashes and vectors differ in length")
    if not paper_ids:
        return None
    dim = int(vectors.shape[1])
    rows: list[dict[str, Any]] = [
        {
            "paper_id": pid,
            "model_id": model_id,
            "content_hash": chash,
            "dim": dim,
            "vector": to_bytes(vec),
            "created_at": now,
        }
        for pid, chash, vec in zip(paper_ids, content_hashes, vectors, strict=True)
    ]
    target: Any = embeddings
    columns = ["model_id", "content_hash", "dim", "vector", "created_at"]
    if conn.dialect.name == "sqlite":
        insert: Any = sqlite.insert
    else:
        insert = postgresql.insert
        if pgvector.has_column(conn):  # keep the pgvector column in step (migration 0005)
            target = pgvector.EMBEDDINGS_PG
            columns.append("embedding")
            for row, vec in zip(rows, vectors, strict=True):
                row["embedding"] = pgvector.vector_text(vec)
    for i in range(0, len(rows), CHUNK):
        stmt = insert(target).values(rows[i : i + CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=["paper_id"],
            set_={name: getattr(stmt.excluded, name) for name in columns},
        )
        conn.execute(stmt)
    return bump_version(conn, now=now)


def delete_embeddings(conn: Connection, paper_ids: Sequence[str], *, now: datetime) -> int:
    """Delete the vectors of `paper_ids` (e.g. papers removed from the catalog)."""
    removed = 0
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        removed += conn.execute(
            delete(embeddings).where(embeddings.c.paper_id.in_(chunk))
        ).rowcount or 0
    if removed:
        bump_version(conn, now=now)
    return removed


def delete_orphans(conn: Connection, *, now: datetime) -> int:
    """Delete vectors whose paper no longer exists (foreign keys off, or older databases)."""
    orphan = ~select(papers.c.id).where(papers.c.id == embeddings.c.paper_id).exists()
    removed = conn.execute(delete(embeddings).where(orphan)).rowcount or 0
    if removed:
        bump_version(conn, now=now)
    return removed


def count_embeddings(conn: Connection, model_id: str | None = None) -> int:
    query = select(func.count()).select_from(embeddings)
    if model_id is not None:
        query = query.where(embeddings.c.model_id == model_id)
    return int(conn.execute(query).scalar_one())


def stored_hashes(
    conn: Connection, model_id: str, paper_ids: Sequence[str] | None = None
) -> dict[str, str]:
    """paper_id -> content_hash of every vector made by `model_id` (or of those papers')."""
    query = select(embeddings.c.paper_id, embeddings.c.content_hash).where(
        embeddings.c.model_id == model_id
    )
    if paper_ids is None:
        return {r[0]: r[1] for r in conn.execute(query)}
    out: dict[str, str] = {}
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        out.update({r[0]: r[1] for r in conn.execute(
            query.where(embeddings.c.paper_id.in_(chunk)))})
    return out


def load_vectors(
    conn: Connection, model_id: str, paper_ids: Sequence[str], dim: int
) -> tuple[list[str], list[str], np.ndarray]:
    """(ids, hashes, matrix) of the stored `model_id` vectors among `paper_ids` (others skipped)."""
    ids: list[str] = []
    hashes: list[str] = []
    vecs: list[np.ndarray] = []
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        rows = conn.execute(
            select(embeddings.c.paper_id, embeddings.c.content_hash, embeddings.c.vector).where(
                embeddings.c.paper_id.in_(chunk), embeddings.c.model_id == model_id
            )
        )
        for pid, chash, data in rows:
            ids.append(pid)
            hashes.append(chash)
            vecs.append(from_bytes(data, dim))
    matrix = np.stack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32)
    return ids, hashes, matrix


def iter_vectors(
    conn: Connection, model_id: str, dim: int, *, batch: int = 5000
) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
    """All `model_id` vectors in id order, `batch` at a time: (ids, hashes, matrix)."""
    after: str | None = None
    while True:
        query = (
            select(embeddings.c.paper_id, embeddings.c.content_hash, embeddings.c.vector)
            .where(embeddings.c.model_id == model_id)
            .order_by(embeddings.c.paper_id)
            .limit(batch)
        )
        if after is not None:
            query = query.where(embeddings.c.paper_id > after)
        rows = list(conn.execute(query))
        if not rows:
            return
        after = rows[-1][0]
        yield (
            [r[0] for r in rows],
            [r[1] for r in rows],
            np.stack([from_bytes(r[2], dim) for r in rows]),
        )
