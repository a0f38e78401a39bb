"""PostgreSQL: each paper's length in words, for BM25 ranking of keyword search

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

BM25 normalises a word's frequency by the document's length relative to the catalog's average
(SQLite's FTS5 keeps those lengths itself). On PostgreSQL, `papers.search_length` holds the
number of word positions of title + authors + abstract (stopwords count, as in FTS5), as a
generated column so it never drifts from the text; `paperfeed_tsvector_words(tsvector)` gives
the last position of a tsvector (its length in words). Adding the column rewrites `papers` once
(~1 minute per million papers). Nothing to do on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FUNCTION = (
    "CREATE OR REPLACE FUNCTION paperfeed_tsvector_words(v tsvector) RETURNS integer "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
    "$$ SELECT coalesce(max(p), 0)::integer FROM unnest(v) AS u, unnest(u.positions) AS p $$"
)
COLUMN = (
    "ALTER TABLE papers ADD COLUMN search_length integer GENERATED ALWAYS AS ("
    "paperfeed_tsvector_words(to_tsvector('english', coalesce(title, ''))) + "
    "paperfeed_tsvector_words(to_tsvector('simple', coalesce(authors_text, ''))) + "
    "paperfeed_tsvector_words(to_tsvector('english', coalesce(abstract, '')))) STORED"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(COLUMN)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_length")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_tsvector_words(tsvector)")
