"""embeddings.embedding: a pgvector column (PostgreSQL with the `vector` extension only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

On PostgreSQL, semantic search can run in the database (pgvector) instead of per-machine index
files, so web workers hold no vector state. This adds `embeddings.embedding vector` (no fixed
width: the embedding model is a setting), stored in the row itself (the float32 bytes move out
of line), and fills it from the bytes of existing rows.
The per-model HNSW indexes are created by the indexing job (`storage.pgvector`), which knows the
model's width.

Nothing happens on SQLite, on a server without pgvector, or when CREATE EXTENSION is refused
(a role without the privilege): the extension attempt runs inside a SAVEPOINT, so a refusal is
rolled back alone and the deployment keeps the index files, exactly as before. Self-contained on
purpose (no imports from the application, whose code moves on).
"""

from __future__ import annotations

import logging

import numpy as np
from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
BATCH = 2000


def _enable_extension() -> bool:
    bind = op.get_bind()
    if bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first():
        return True
    if not bind.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).first():
        log.info("pgvector is not installed on this server; vector search keeps index files")
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    except DBAPIError as exc:
        savepoint.rollback()
        log.warning("CREATE EXTENSION vector failed (%s); vector search keeps index files. "
                    "Have a superuser run it, then downgrade to 0004 and upgrade again.",
                    exc.orig)
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _enable_extension():
        return
    op.execute("ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS embedding vector")
    # Keep the searched column in the heap row and move the bytes out of line instead: with
    # both (~3 KB at 384 dims) PostgreSQL would TOAST one of them, and an exact scan that
    # detoasts every `embedding` took twice as long (bench/README.md).
    op.execute("ALTER TABLE embeddings ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute("ALTER TABLE embeddings ALTER COLUMN vector SET STORAGE EXTERNAL")
    while True:  # existing rows: float32 little-endian bytes -> pgvector text form
        rows = bind.execute(
            text("SELECT paper_id, vector FROM embeddings WHERE embedding IS NULL "
                 "ORDER BY paper_id LIMIT :n"), {"n": BATCH}
        ).all()
        if not rows:
            break
        bind.execute(
            text("UPDATE embeddings SET embedding = CAST(:v AS vector) WHERE paper_id = :p"),
            [{"p": pid, "v": "[" + ",".join(format(float(x), ".9g")
                                            for x in np.frombuffer(data, dtype="<f4")) + "]"}
             for pid, data in rows],
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE embeddings DROP COLUMN IF EXISTS embedding")  # and its indexes
