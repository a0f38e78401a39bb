"""Nearest-vector SQL on PostgreSQL with the pgvector extension: the `embeddings.embedding` column.

Why in the database: on PostgreSQL several stateless web workers (on several machines) share one
catalog, and per-machine index files would make each of them hold, sync and search its own copy
of every vector. With pgvector the vectors and their HNSW graph live in the database, next to the
filters, so a filtered semantic search is one query that admits exactly what the filters allow.

Layout (migration 0005, only when the `vector` extension could be created):

- `embeddings.embedding vector` (no fixed width: the model is a setting) beside the canonical
  float32 bytes of `embeddings.vector`, written by `storage.embeddings.store_embeddings`;
  stored MAIN (kept in the heap row; the bytes go EXTERNAL), so scans need not detoast it;
- per model, a partial HNSW index on the expression `(embedding::vector(DIM))` with
  `vector_cosine_ops`, `WHERE model_id = '<model id>'`, created by the indexing job
  (`ensure_hnsw_index`).

The model id and width appear as SQL literals (quoted here), not as bound parameters: a partial
index is only usable when the planner can prove its predicate, which it cannot do for a
parameter once a prepared statement switches to a generic plan.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Float,
    String,
    all_,
    any_,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from paperfeed.storage.embeddings import (
    PgVectorInfo,
    Vector,
    has_column,
    has_other_model,
    info,
    parse_vector,
    vector_text,
)
from paperfeed.storage.schema import papers
from paperfeed.storage.search.filters import SearchFilters, filter_clauses

__all__ = ["PgVectorInfo", "Vector", "has_column", "info", "parse_vector", "vector_text"]

log = logging.getLogger(__name__)

HNSW_M = 16  # graph degree (pgvector's default)
HNSW_EF_CONSTRUCTION = 128  # build-time candidate list (default 64; recall: bench/README.md)
EF_SEARCH_MIN = 200  # hnsw.ef_search floor (default 40; recall vs latency: bench/README.md)
EF_SEARCH_MAX = 1000  # pgvector's upper bound for hnsw.ef_search
BACKFILL_BATCH = 2000


def enable(conn: Connection) -> bool:
    """Make pgvector usable when the server offers it (what migration 0005 does, for servers
    that got the extension later): CREATE EXTENSION inside a SAVEPOINT, so a refusal (no
    privilege) rolls back alone, then add `embeddings.embedding`. Call in a write
    transaction. Returns whether the column exists afterwards."""
    if conn.dialect.name != "postgresql":
        return False
    found = info(conn)
    if found.column:
        return True
    if found.version is None:
        if not conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        ).first():
            return False
        savepoint = conn.begin_nested()
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except DBAPIError as exc:
            savepoint.rollback()
            log.info("pgvector: CREATE EXTENSION vector refused (%s); keeping index files",
                     exc.orig)
            return False
        savepoint.commit()
    conn.execute(text("ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS embedding vector"))
    conn.execute(text("ALTER TABLE embeddings ALTER COLUMN embedding SET STORAGE MAIN"))
    conn.execute(text("ALTER TABLE embeddings ALTER COLUMN vector SET STORAGE EXTERNAL"))
    log.info("pgvector: added embeddings.embedding")
    return True


def literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings: only quotes need doubling)."""
    if "\x00" in value:
        raise ValueError("pgvector: NUL in a model id")
    return "'" + value.replace("'", "''") + "'"


def index_name(model_id: str, dim: int) -> str:
    """A stable index name per (model, width), within PostgreSQL's 63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_")[:24]
    digest = hashlib.sha1(f"{model_id}\x00{dim}".encode()).hexdigest()[:10]
    return f"ix_embeddings_hnsw_{slug}_{dim}_{digest}"


def hnsw_index_exists(conn: Connection, model_id: str, dim: int) -> bool:
    row = conn.execute(
        text(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": index_name(model_id, dim)},
    ).first()
    return bool(row and row[0])


def ensure_hnsw_index(conn: Connection, model_id: str, dim: int) -> bool:
    """Create the model's partial HNSW index when it is missing (call in a write transaction).
    Returns True when it was created now. Reads go on while it builds; writes to `embeddings`
    wait (only the indexing job writes there)."""
    if hnsw_index_exists(conn, model_id, dim):
        return False
    name = index_name(model_id, dim)
    conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))  # an invalid leftover
    conn.execute(
        text(
            f'CREATE INDEX "{name}" ON embeddings USING hnsw '
            f"((embedding::vector({int(dim)})) vector_cosine_ops) "
            f"WITH (m = {int(HNSW_M)}, ef_construction = {int(HNSW_EF_CONSTRUCTION)}) "
            f"WHERE model_id = {literal(model_id)}"
        )
    )
    return True


def drop_other_hnsw_indexes(conn: Connection, model_id: str, dim: int) -> list[str]:
    """Drop the HNSW indexes of other models once no vector of another model is left (every
    paper has the configured model's vector; until then a worker still configured with the
    old model may be using its index). Returns the names dropped."""
    if has_other_model(conn, model_id):
        return []
    keep = index_name(model_id, dim)
    names = [
        str(n) for n in conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                 "AND tablename = 'embeddings' AND indexname LIKE 'ix\\_embeddings\\_hnsw\\_%'")
        ).scalars() if n != keep
    ]
    for name in names:
        conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    return names


def backfill(conn: Connection, model_id: str, dim: int, *, limit: int = BACKFILL_BATCH) -> int:
    """Fill `embedding` from the float32 bytes for up to `limit` rows of `model_id` that lack it
    (rows stored before migration 0005). Returns how many were filled."""
    rows = conn.execute(
        text(
            "SELECT paper_id, vector FROM embeddings WHERE model_id = :m AND dim = :d "
            "AND embedding IS NULL ORDER BY paper_id LIMIT :k"
        ),
        {"m": model_id, "d": int(dim), "k": limit},
    ).all()
    if not rows:
        return 0
    params = [
        {"p": pid, "v": vector_text(np.frombuffer(data, dtype="<f4"))} for pid, data in rows
    ]
    conn.execute(
        text("UPDATE embeddings SET embedding = CAST(:v AS vector) WHERE paper_id = :p"), params
    )
    return len(rows)


def count(conn: Connection, model_id: str) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM embeddings WHERE model_id = :m AND embedding IS NOT NULL"
            ),
            {"m": model_id},
        ).scalar_one()
    )


def stored_vector(conn: Connection, model_id: str, paper_id: str) -> np.ndarray | None:
    value = conn.execute(
        text(
            "SELECT embedding::text FROM embeddings WHERE paper_id = :p AND model_id = :m "
            "AND embedding IS NOT NULL"
        ),
        {"p": paper_id, "m": model_id},
    ).scalar_one_or_none()
    return None if value is None else parse_vector(value)


_IDS = ARRAY(String)  # a list of paper ids bound as one text[] parameter
_E = table("embeddings", column("paper_id"), column("model_id"), column("embedding")).alias("e")


def _set_local(conn: Connection, name: str, value: str) -> None:
    conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


def nearest(
    conn: Connection,
    model_id: str,
    dim: int,
    query: np.ndarray,
    k: int,
    *,
    filters: SearchFilters | None = None,
    ids: Sequence[str] | None = None,
    exact: bool = False,
    ef_search: int | None = None,
    iterative_scan: bool = False,
    exclude: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """(paper id, cosine similarity) of the `k` nearest stored vectors of `model_id`, best first.

    Hidden papers and papers failing `filters` are excluded in the same query; `ids` restricts
    to those papers. `exact` orders by an expression the HNSW index does not cover, so every
    admitted row is scored (the right plan for small candidate sets); otherwise the model's
    HNSW index answers (when it exists) with `hnsw.ef_search` = `ef_search` for this
    transaction, and `iterative_scan` (pgvector >= 0.8) lets a filtered scan keep going.
    Call on a connection whose transaction ends after the call (SET LOCAL scope)."""
    rows = _nearest_rows(conn, model_id, dim, query, k, filters=filters, ids=ids, exact=exact,
                         ef_search=ef_search, iterative_scan=iterative_scan, exclude=exclude,
                         with_vectors=False)
    return [(str(r[0]), float(r[1])) for r in rows]


def nearest_vectors(
    conn: Connection,
    model_id: str,
    dim: int,
    query: np.ndarray,
    k: int,
    *,
    filters: SearchFilters | None = None,
    ids: Sequence[str] | None = None,
    exact: bool = False,
    ef_search: int | None = None,
    iterative_scan: bool = False,
    exclude: Sequence[str] = (),
) -> tuple[list[tuple[str, float]], np.ndarray]:
    """`nearest`, plus the hits' stored vectors in the same query (row i = hit i): a ranking
    that rescores the candidates needs no second read. The vectors travel in pgvector's
    binary form (`vector_send`: two int16 then big-endian float4s) read from the heap row,
    not as text to parse, nor from the TOASTed bytes of `embeddings.vector`."""
    rows = _nearest_rows(conn, model_id, dim, query, k, filters=filters, ids=ids, exact=exact,
                         ef_search=ef_search, iterative_scan=iterative_scan, exclude=exclude,
                         with_vectors=True)
    hits = [(str(r[0]), float(r[1])) for r in rows]
    if not rows:
        return hits, np.zeros((0, int(dim)), dtype=np.float32)
    data = b"".join(bytes(r[2])[4:] for r in rows)
    matrix = np.frombuffer(data, dtype=">f4").reshape(len(rows), -1).astype(np.float32)
    return hits, matrix


def _nearest_rows(
    conn: Connection,
    model_id: str,
    dim: int,
    query: np.ndarray,
    k: int,
    *,
    filters: SearchFilters | None,
    ids: Sequence[str] | None,
    exact: bool,
    ef_search: int | None,
    iterative_scan: bool,
    exclude: Sequence[str],
    with_vectors: bool,
) -> Sequence[Any]:
    """The nearest-vector query (see `nearest`). The id lists are bound as one array each
    (`= ANY(:ids)`, `<> ALL(:exclude)`), so the statement text is the same whatever their
    length and PostgreSQL parses and plans it once per connection."""
    if k <= 0 or (ids is not None and not ids):
        return []
    d = int(dim)
    q: Any = bindparam("q", vector_text(query))
    if exact:
        distance = _E.c.embedding.op("<=>", return_type=Float)(cast(q, Vector()))
    else:
        indexed: Any = literal_column(f"e.embedding::vector({d})")
        distance = indexed.op("<=>", return_type=Float)(cast(q, Vector(d)))
        _set_local(conn, "hnsw.ef_search",
                   str(min(EF_SEARCH_MAX, max(ef_search or 0, EF_SEARCH_MIN, k))))
        if iterative_scan:
            _set_local(conn, "hnsw.iterative_scan", "strict_order")
    visible = exists().where(
        papers.c.id == _E.c.paper_id, *filter_clauses(conn, filters or SearchFilters())
    )
    columns: list[Any] = [_E.c.paper_id, (1 - distance).label("score")]
    if with_vectors:
        columns.append(func.vector_send(_E.c.embedding))
    stmt = (
        select(*columns)
        .where(
            _E.c.model_id == literal_column(literal(model_id)),
            _E.c.embedding.is_not(None),
            visible,
        )
        .order_by(distance)
        .limit(int(k))
    )
    if ids is not None:
        stmt = stmt.where(_E.c.paper_id == any_(bindparam("ids", list(ids), type_=_IDS)))
    if exclude:
        stmt = stmt.where(_E.c.paper_id != all_(bindparam("exclude", list(exclude), type_=_IDS)))
    try:
        return conn.execute(stmt).all()
    except DBAPIError as exc:  # e.g. a query of another width than the stored vectors
        raise ValueError(f"pgvector: nearest-vector query failed: {exc.orig}") from exc
