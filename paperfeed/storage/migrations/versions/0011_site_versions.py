"""site versions (cache keys of rendered pages)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

`site_versions(name, value)` with one row, `content`: raised by each write transaction that
changes what pages show (votes, featured lists, papers, comments, moderation), so the web
workers' cached page fragments, keyed by it, are never served after a change (web/pages/cache.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "site_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"name": "content", "value": 0}])


def downgrade() -> None:
    op.drop_table("site_versions")
