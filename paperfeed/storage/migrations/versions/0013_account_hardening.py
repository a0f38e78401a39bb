"""account hardening: case-insensitive usernames, sign-in links for addresses without an
account, deleted accounts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

- `uq_users_username_lower`: a unique index on lower(username). Existing names that differ
  only by case are renamed first (every one but the oldest gets `-<id>` appended), so the
  index can be built on any database.
- `login_tokens.email` and a nullable `login_tokens.user_id`: a sign-in request for an unknown
  address no longer creates a member; the account is created when the link is used.
- `users.deleted_at`: set when a member deletes their account (the row is emptied of personal
  data and kept for the anonymous votes and comments that point to it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _login_tokens() -> sa.Table:
    """login_tokens as 0001 made it: batch mode copies from this instead of reflecting (which
    would warn about the expression index on `users`)."""
    return sa.Table(
        "login_tokens", sa.MetaData(),
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
    )


def upgrade() -> None:
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    seen: set[str] = set()
    for user_id, username in rows:
        key = username.lower()
        if key in seen:
            conn.execute(
                users.update().where(users.c.id == user_id).values(username=f"{username}-{user_id}")
            )
        seen.add(key)
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    # A plain ADD COLUMN: a batch (copy-and-rename) of `users` on SQLite would cascade
    # deletes into every table that references it.
    op.add_column("users", sa.Column("deleted_at", sa.DateTime(), nullable=True))
    # nothing references login_tokens, so copying it is safe
    with op.batch_alter_table("login_tokens", copy_from=_login_tokens()) as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM login_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("login_tokens") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("email")
    op.drop_column("users", "deleted_at")  # SQLite >= 3.35
    op.drop_index("uq_users_username_lower", table_name="users")
