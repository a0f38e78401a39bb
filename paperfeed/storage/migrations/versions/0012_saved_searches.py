"""saved searches and alerts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

`saved_searches` (words/filters and/or a paper to find papers like, with a delivery choice),
`saved_search_anchors` (the inverted index the matcher looks candidates up in: a search can
only match a paper that holds one of its anchor tokens), `saved_search_matches` (new papers
that matched, stamped with the edition of the mail that carried them), `alert_scans` (which
new papers were matched, by words and by meaning) and `alert_deliveries` (the exactly-once
claims of alert mail, as `deliveries` for digests).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("like_paper_id", sa.String(length=64), nullable=True),
        sa.Column("semantic", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("model_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_match_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["like_paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_searches_user", "saved_searches", ["user_id"])
    op.create_table(
        "saved_search_anchors",
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["search_id"], ["saved_searches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token", "search_id"),
    )
    op.create_index("ix_saved_search_anchors_search", "saved_search_anchors", ["search_id"])
    op.create_table(
        "saved_search_matches",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("matched_at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("edition", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["search_id"], ["saved_searches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("search_id", "paper_id"),
    )
    op.create_index(
        "ix_saved_search_matches_recent", "saved_search_matches", ["search_id", "matched_at"]
    )
    op.create_index("ix_saved_search_matches_edition", "saved_search_matches", ["edition"])
    op.create_table(
        "alert_scans",
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.Column("words_at", sa.DateTime(), nullable=False),
        sa.Column("meaning_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id"),
    )
    op.create_index("ix_alert_scans_pending", "alert_scans", ["meaning_at", "indexed_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("edition", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "edition"),
    )
    op.create_index(
        "ix_alert_deliveries_edition_status",
        "alert_deliveries",
        ["edition", "status", "claimed_by"],
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alert_scans_pending", table_name="alert_scans")
    op.drop_table("alert_scans")
    op.drop_index("ix_saved_search_matches_edition", table_name="saved_search_matches")
    op.drop_index("ix_saved_search_matches_recent", table_name="saved_search_matches")
    op.drop_table("saved_search_matches")
    op.drop_index("ix_saved_search_anchors_search", table_name="saved_search_anchors")
    op.drop_table("saved_search_anchors")
    op.drop_index("ix_saved_searches_user", table_name="saved_searches")
    op.drop_table("saved_searches")
