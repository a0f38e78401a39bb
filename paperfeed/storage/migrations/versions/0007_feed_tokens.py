"""private feed tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

`feed_tokens`: one row per private feed a member has asked for (their upvotes, "for you", a
saved search, a private collection). The URL carries the row id and an HMAC of its random
nonce, so nothing secret is stored in a form usable on its own, and deleting the row revokes
the URL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("arg", sa.String(255), nullable=False, server_default=""),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("user_id", "kind", "arg", name="uq_feed_tokens_user_kind_arg"),
    )


def downgrade() -> None:
    op.drop_table("feed_tokens")
