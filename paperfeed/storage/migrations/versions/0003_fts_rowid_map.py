"""Keyword index: find a paper's FTS5 row by rowid instead of scanning the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

`papers_fts.paper_id` is UNINDEXED, so the update/delete triggers of 0001
(`DELETE FROM papers_fts WHERE paper_id = old.id`) scanned the whole index on every text change:
fine at a few thousand papers, linear at a million. A small map `paper_id -> FTS rowid` (filled by
the insert trigger from last_insert_rowid()) turns that into two primary-key lookups. papers'
own rowid is not used: without an INTEGER PRIMARY KEY, VACUUM may renumber it.
SQLite only; PostgreSQL's generated tsvector column needs nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UP = [
    "DROP TRIGGER IF EXISTS papers_fts_ai",
    "DROP TRIGGER IF EXISTS papers_fts_ad",
    "DROP TRIGGER IF EXISTS papers_fts_au",
    "CREATE TABLE papers_fts_rowid (paper_id TEXT PRIMARY KEY, fts_rowid INTEGER NOT NULL) "
    "WITHOUT ROWID",
    "INSERT INTO papers_fts_rowid (paper_id, fts_rowid) SELECT paper_id, rowid FROM papers_fts",
    "CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN "
    "INSERT INTO papers_fts(paper_id, title, authors, abstract) "
    "VALUES (new.id, new.title, new.authors_text, new.abstract); "
    "INSERT OR REPLACE INTO papers_fts_rowid (paper_id, fts_rowid) "
    "VALUES (new.id, last_insert_rowid()); END",
    "CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN "
    "DELETE FROM papers_fts WHERE rowid = "
    "(SELECT fts_rowid FROM papers_fts_rowid WHERE paper_id = old.id); "
    "DELETE FROM papers_fts_rowid WHERE paper_id = old.id; END",
    "CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, authors_text, abstract ON papers BEGIN "
    "UPDATE papers_fts SET title = new.title, authors = new.authors_text, "
    "abstract = new.abstract WHERE rowid = "
    "(SELECT fts_rowid FROM papers_fts_rowid WHERE paper_id = old.id); END",
]

DOWN = [
    "DROP TRIGGER IF EXISTS papers_fts_ai",
    "DROP TRIGGER IF EXISTS papers_fts_ad",
    "DROP TRIGGER IF EXISTS papers_fts_au",
    "DROP TABLE IF EXISTS papers_fts_rowid",
    "CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN "
    "INSERT INTO papers_fts(paper_id, title, authors, abstract) "
    "VALUES (new.id, new.title, new.authors_text, new.abstract); END",
    "CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN "
    "DELETE FROM papers_fts WHERE paper_id = old.id; END",
    "CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, authors_text, abstract ON papers BEGIN "
    "DELETE FROM papers_fts WHERE paper_id = old.id; "
    "INSERT INTO papers_fts(paper_id, title, authors, abstract) "
    "VALUES (new.id, new.title, new.authors_text, new.abstract); END",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for sql in UP:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for sql in DOWN:
            op.execute(sql)
