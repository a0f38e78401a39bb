"""Alembic environment: runs migrations on the engine passed in by `storage.db` (no ini file)."""

from __future__ import annotations

from alembic import context

from paperfeed.storage.schema import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
