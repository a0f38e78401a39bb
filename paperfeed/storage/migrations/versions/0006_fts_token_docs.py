"""stored keyword-token document counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

`fts_token_docs(token, docs)` (SQLite only, like papers_fts): how many papers hold each FTS
token, copied from papers_fts_vocab by `storage.search.refresh_token_docs` after bulk catalog
changes. Keyword search reads a query word's count here with one primary-key lookup; asking
fts5vocab walks the token's whole posting list (~27 ms per common word at 1M papers). Created
empty: until the first refresh every lookup falls back to fts5vocab, exactly as before.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TABLE fts_token_docs (token TEXT PRIMARY KEY, docs INTEGER NOT NULL) "
            "WITHOUT ROWID"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS fts_token_docs")
