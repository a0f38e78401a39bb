"""keyword index vocabulary

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

An fts5vocab table over papers_fts (SQLite only): per-term document counts, read by keyword
search to leave out words that occur in most papers (they cost the most and rank the least).
It stores nothing itself; it reads the FTS index.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS papers_fts_vocab")
