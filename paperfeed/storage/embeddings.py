"""Stored document vectors (table `embeddings`): the truth the vector index files are built from.

One row per paper: its vector (float32 little-endian bytes), the model that made it and a hash
of the exact text embedded, so a model change or an edited title/abstract makes the paper due
for re-embedding. Every write bumps a version stamp in `job_state`, which lets each web worker
notice (with one cheap read) that its vector index is behind the table. On PostgreSQL with
pgvector (migration 0005) each write also fills `embeddings.embedding`, the column
`storage.search.pgvector` searches; that column's type and state are described at the end of
this module (`PgVectorInfo`, `Vector`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, cast, column, delete, func, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import UserDefinedType

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
        if has_column(conn):  # keep the pgvector column in step (migration 0005)
            target = EMBEDDINGS_PG
            columns.append("embedding")
            for row, vec in zip(rows, vectors, strict=True):
                row["embedding"] = vector_text(vec)
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


def other_models(conn: Connection, model_id: str) -> dict[str, int]:
    """{model id: vectors} of the models other than `model_id` that stored vectors here, {} when
    there are none. The usual case costs two index seeks (the nearest id below and above; a
    `model_id <> :m` probe scans the whole table on both engines when every row is `m`)."""
    if not has_other_model(conn, model_id):
        return {}
    rows = conn.execute(
        select(embeddings.c.model_id, func.count())
        .where(embeddings.c.model_id != model_id)
        .group_by(embeddings.c.model_id)
    )
    return {str(m): int(n) for m, n in rows}


def has_other_model(conn: Connection, model_id: str) -> bool:
    """Whether any vector was made by a model other than `model_id`: two index seeks, the
    nearest model id below and above (see `other_models`)."""
    col = embeddings.c.model_id
    below = select(col).where(col < model_id).order_by(col.desc()).limit(1)
    above = select(col).where(col > model_id).order_by(col).limit(1)
    return conn.execute(below).first() is not None or conn.execute(above).first() is not None


def has_model(conn: Connection, model_id: str) -> bool:
    """Whether any paper has a vector of `model_id` (one index probe)."""
    probe = select(embeddings.c.paper_id).where(embeddings.c.model_id == model_id).limit(1)
    return conn.execute(probe).first() is not None


def stored_hashes(
    conn: Connection, model_id: str, paper_ids: Sequence[str] | None = None
) -> dict[str, str]:
    """paper_id -> content_hash of every vector made by `model_id` (or of those papers')."""
    query = select(embeddings.c.paper_id, embeddings.c.content_hash).where(
        embeddings.c.model_id == model_id
    )
    if paper_ids is None:
        return {r[0]: r[1] for r in conn.execute(query)}
    # By primary key, the model compared here: with the model in the WHERE clause SQLite
    # (no ANALYZE statistics) walks ix_embeddings_model, i.e. every vector of the model.
    by_id = select(embeddings.c.paper_id, embeddings.c.content_hash, embeddings.c.model_id)
    out: dict[str, str] = {}
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        out.update({r[0]: r[1] for r in conn.execute(
            by_id.where(embeddings.c.paper_id.in_(chunk))) if r[2] == model_id})
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
        # By primary key, the model compared here (see `stored_hashes`): 0.1 ms per 200
        # vectors instead of a walk over every vector of the model (~50 ms at 80k papers).
        rows = conn.execute(
            select(embeddings.c.paper_id, embeddings.c.content_hash, embeddings.c.vector,
                   embeddings.c.model_id).where(embeddings.c.paper_id.in_(chunk))
        )
        for pid, chash, data, model in rows:
            if model != model_id:
                continue
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


# -- the pgvector column (PostgreSQL with migration 0005) ----------------------------------
@dataclass(frozen=True, slots=True)
class PgVectorInfo:
    """What the database offers: the extension's version and whether the column exists."""

    version: str | None  # installed extension version, e.g. "0.6.2"
    column: bool  # embeddings.embedding exists

    @property
    def usable(self) -> bool:
        return self.version is not None and self.column

    @property
    def iterative_scan(self) -> bool:
        """pgvector 0.8 added `hnsw.iterative_scan`: filtered index scans keep going until
        enough rows pass, instead of stopping after ef_search candidates."""
        return _version_tuple(self.version) >= (0, 8, 0)


def _version_tuple(version: str | None) -> tuple[int, ...]:
    if not version:
        return (0,)
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def info(conn: Connection) -> PgVectorInfo:
    """The pgvector state of this database (both False/None on SQLite)."""
    if conn.dialect.name != "postgresql":
        return PgVectorInfo(None, False)
    version = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    ).scalar_one_or_none()
    column = conn.execute(
        text(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'embeddings' AND column_name = 'embedding'"
        )
    ).first()
    return PgVectorInfo(None if version is None else str(version), column is not None)


def has_column(conn: Connection) -> bool:
    """True when `embeddings.embedding` exists (PostgreSQL with migration 0005 applied)."""
    return info(conn).column


def vector_text(vec: np.ndarray) -> str:
    """pgvector's text form of a vector; 9 significant digits round-trip float32 exactly."""
    return "[" + ",".join(format(float(x), ".9g") for x in np.asarray(vec, np.float32)) + "]"


def parse_vector(value: object) -> np.ndarray:
    """A vector read back as text ('[1,2,3]') into float32."""
    return np.array(str(value).strip("[]").split(","), dtype=np.float32)


class Vector(UserDefinedType[str]):
    """pgvector's `vector` / `vector(DIM)` type, for casts of bound text values."""

    cache_ok = True

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def get_col_spec(self, **_kw: object) -> str:
        return "vector" if self.dim is None else f"vector({int(self.dim)})"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)  # values are sent as text: '[0.1,0.2,...]'


# `embeddings` with the pgvector column, for writes on PostgreSQL (schema.py's Table describes
# the columns every database has).
EMBEDDINGS_PG = table(
    "embeddings",
    column("paper_id"),
    column("model_id"),
    column("content_hash"),
    column("dim"),
    column("vector"),
    column("created_at"),
    column("embedding", Vector()),
)
