""""For you": per-member recommendation profiles and feedback

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

`recommend_profiles` holds one row per member: the fitted personal model (a float32 query
vector over the paper embeddings, a keyword profile, the positive papers it explains itself
with) and the member's cold-start choices. `recommend_feedback` records "more like this",
"not interested", active-learning thumbs, seed papers and imported papers. Both go with the
member (ON DELETE CASCADE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommend_profiles",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("model_id", sa.String(128), nullable=True),
        sa.Column("dim", sa.Integer, nullable=True),
        sa.Column("weights", sa.LargeBinary, nullable=True),
        sa.Column("keywords", sa.JSON, nullable=True),
        sa.Column("anchors", sa.JSON, nullable=True),
        sa.Column("positives", sa.Integer, nullable=False, server_default="0"),
        sa.Column("negatives", sa.Integer, nullable=False, server_default="0"),
        sa.Column("categories", sa.JSON, nullable=True),
        sa.Column("popularity", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fitted_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "recommend_feedback",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_recommend_feedback_user", "recommend_feedback",
                    ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_recommend_feedback_user", table_name="recommend_feedback")
    op.drop_table("recommend_feedback")
    op.drop_table("recommend_profiles")
