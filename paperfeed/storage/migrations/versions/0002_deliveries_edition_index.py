"""deliveries: index on (edition, status, claimed_by)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Every claim batch of a digest run looks up one edition's rows by state and claimer (this
sender's claims, stale claims to take over). The primary key (subscription_id, edition)
cannot serve those lookups, and the table grows by one row per subscriber per edition, so
without this index each batch would scan every delivery ever made.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_edition_status",
        "deliveries",
        ["edition", "status", "claimed_by"],
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_edition_status", table_name="deliveries")
