""""For you": author affinity, topics, and positives still waiting for a vector

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

Three nullable columns on `recommend_profiles`: `authors` (the member's author profile,
{normalised name: weight}), `topics` (Hugging Face `ai_keywords` topics picked at cold start on
catalogs without arXiv categories) and `missing` (how many of the member's liked papers had no
vector when the model was fitted, so it is fitted again once they have one). Existing rows get
them on their next fit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy-and-DROP, which SQLite refuses once rows refer to users).
    op.add_column("recommend_profiles", sa.Column("authors", sa.JSON, nullable=True))
    op.add_column("recommend_profiles", sa.Column("topics", sa.JSON, nullable=True))
    op.add_column("recommend_profiles", sa.Column("missing", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommend_profiles") as batch:
        batch.drop_column("missing")
        batch.drop_column("topics")
        batch.drop_column("authors")
