"""author and organisation lookup tables; members' public-upvotes choice

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

`paper_authors(paper_id, position, name_key)` and `paper_orgs(paper_id, org_key, name,
fullname)`, indexed by name, so an author's or an organisation's page is one indexed query
instead of a scan of every paper's JSON. Filled here from the existing catalog, then kept in
step by `storage.papers.upsert_papers` (via `storage.authors.sync`). `users.public_upvotes`:
whether a member's profile page lists the papers they upvoted (off unless they turn it on).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("name_key", sa.String(255), nullable=False),
    )
    op.create_index("ix_paper_authors_name_key", "paper_authors", ["name_key"])
    op.create_table(
        "paper_orgs",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("org_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("fullname", sa.String(255), nullable=True),
    )
    op.create_index("ix_paper_orgs_org_key", "paper_orgs", ["org_key"])
    # A plain ADD COLUMN (a constant default needs no table copy): batch mode would copy the
    # users table and DROP the old one, which SQLite refuses (foreign keys on) as soon as any
    # session, vote, comment or featured row refers to a user: every real installation.
    op.add_column("users", sa.Column("public_upvotes", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    from paperfeed.storage.authors import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("public_upvotes")
    op.drop_table("paper_orgs")
    op.drop_table("paper_authors")
