"""The database side of backups: a consistent online copy of a live SQLite database, and the
checks a copy must pass before it replaces an instance (integrity, row counts, revision).

Why the online backup API in one step: `sqlite3_backup_step(-1)` copies every page inside one
read transaction, so the copy is the database as of one instant, while WAL mode lets the
server's writers go on (they append to the WAL; the reader's snapshot is unaffected). A
stepwise backup would restart whenever another connection writes, and may never finish on a
busy site. `VACUUM INTO` would also be consistent, but rebuilds every b-tree (slower on a large
FTS index) for a smaller file we do not need.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.storage.health import sqlite_file
from paperfeed.storage.schema import metadata


def database_file(engine: Engine) -> Path | None:
    """The SQLite file behind `engine` (None on PostgreSQL)."""
    return sqlite_file(engine)


def copy_live(engine: Engine, dest: Path) -> None:
    """Copy the live SQLite database of `engine` to `dest` (a new file) as of one instant;
    the copy is a self-contained file (rollback journal mode, no -wal beside it)."""
    source = database_file(engine)
    if source is None:
        raise ValueError("copy_live: not a SQLite database")
    with closing(sqlite3.connect(source, timeout=30)) as src, \
            closing(sqlite3.connect(dest)) as dst:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # pages=-1: one step, one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()


def integrity_problems(path: Path, *, quick: bool = False) -> list[str]:
    """What SQLite's integrity check and foreign-key check find wrong in the file at `path`
    ([] when it is sound)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        pragma = "quick_check" if quick else "integrity_check"
        found = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
        problems = [] if found == ["ok"] else found[:20]
        for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchmany(20):
            problems.append(f"{table} row {rowid}: no {parent} row it refers to")
    return problems


def row_counts(path: Path) -> dict[str, int]:
    """Rows of every table the code knows (schema.py) in the SQLite file at `path`; tables a
    database of an older revision lacks are left out."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in sorted(metadata.tables) if name in present
        }


def revision_of(path: Path) -> str | None:
    """The Alembic revision recorded in the SQLite file at `path` (None: not a paperfeed
    database, or never migrated)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            return None
    return None if row is None else str(row[0])


def upvote_mismatches(path: Path, limit: int = 20) -> list[str]:
    """Papers whose `member_upvotes` differs from their count of `votes` rows: the two are
    written in one transaction, so any mismatch in a copy means it is not one instant."""
    query = (
        "SELECT p.id, p.member_upvotes, count(v.user_id) FROM papers p "
        "LEFT JOIN votes v ON v.paper_id = p.id GROUP BY p.id "
        "HAVING p.member_upvotes != count(v.user_id) LIMIT ?"
    )
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [f"{pid}: member_upvotes {a} but {b} votes"
                for pid, a, b in conn.execute(query, (limit,))]
