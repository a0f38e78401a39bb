"""The database side of `paperfeed export` / `import`: which tables move and how, streaming
reads in one snapshot, idempotent batched upserts, and the fix-ups a database needs after
rows arrive with their ids (PostgreSQL sequences).

Every table of `schema.metadata` must have a policy here (tests/ops/test_transfer.py fails
otherwise, and also when a migration creates a table that is neither in `schema.py` nor listed
as derived below), so a feature that adds a table decides in one line whether an instance
move carries it:

- `copy`: every row, every column (columns in `secret_columns` are emptied unless the export
  is made `--with-secrets`);
- `secret`: the whole table only `--with-secrets` (token hashes and nonces: with them, API
  tokens and private feed URLs keep working after the move, given the same secret key);
- `skip`: never (short-lived state: sessions, sign-in links, leases, rate-limit windows).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    Engine,
    LargeBinary,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.storage.schema import metadata

Mode = Literal["copy", "secret", "skip"]


@dataclass(frozen=True)
class TablePolicy:
    mode: Mode
    secret_columns: tuple[str, ...] = ()
    reason: str = ""


POLICIES: dict[str, TablePolicy] = {
    "papers": TablePolicy("copy"),
    "paper_authors": TablePolicy("copy"),
    "paper_orgs": TablePolicy("copy"),
    "embeddings": TablePolicy("copy", reason="vectors; `--no-embeddings` leaves them out"),
    "featured": TablePolicy("copy"),
    "users": TablePolicy("copy", secret_columns=("password_hash",)),
    "votes": TablePolicy("copy"),
    "comments": TablePolicy("copy"),
    "moderation_log": TablePolicy("copy"),
    "subscriptions": TablePolicy("copy"),
    "deliveries": TablePolicy("copy", reason="so a moved instance never re-sends an edition"),
    "collections": TablePolicy("copy"),
    "collection_items": TablePolicy("copy"),
    "read_marks": TablePolicy("copy"),
    "recommend_profiles": TablePolicy("copy"),
    "recommend_feedback": TablePolicy("copy"),
    "job_state": TablePolicy("copy", reason="resumable jobs continue where they were"),
    "site_versions": TablePolicy("copy"),
    "saved_searches": TablePolicy("copy"),
    "saved_search_anchors": TablePolicy("copy"),
    "saved_search_matches": TablePolicy("copy"),
    "alert_scans": TablePolicy("copy", reason="so alerts never re-match the whole catalog"),
    "alert_deliveries": TablePolicy("copy", reason="so a moved instance never re-sends an alert"),
    "api_tokens": TablePolicy("secret", reason="token hashes"),
    "feed_tokens": TablePolicy("secret", reason="private feed URL nonces"),
    "sessions": TablePolicy("skip", reason="members sign in again"),
    "login_tokens": TablePolicy("skip", reason="sign-in links live minutes"),
    "job_leases": TablePolicy("skip", reason="held by running processes"),
    "rate_limits": TablePolicy("skip", reason="windows of the last hour"),
}

# Tables the migrations create outside schema.py: indexes of other tables, rebuilt from them.
DERIVED_TABLES = ("alembic_version", "fts_token_docs")
DERIVED_PREFIXES = ("papers_fts",)  # SQLite FTS5 index, its shadow tables, rowid map, vocab


class UnknownTable(Exception):
    """A table without a policy (a bug: add it to POLICIES)."""


def policy(name: str) -> TablePolicy:
    try:
        return POLICIES[name]
    except KeyError:
        raise UnknownTable(
            f"transfer: table {name} has no export policy; add it to storage/transfer.py"
        ) from None


def is_derived(name: str) -> bool:
    return name in DERIVED_TABLES or name.startswith(DERIVED_PREFIXES)


def database_tables(engine: Engine | Connection) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def tables_to_move(*, secrets: bool, embeddings: bool) -> list[Table]:
    """Tables an export carries, parents before children (foreign keys)."""
    out = []
    for table in metadata.sorted_tables:
        p = policy(table.name)
        if p.mode == "skip" or (p.mode == "secret" and not secrets):
            continue
        if table.name == "embeddings" and not embeddings:
            continue
        out.append(table)
    return out


# -- reading ---------------------------------------------------------------------------------


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one instant of the database (a read transaction on
    SQLite, REPEATABLE READ on PostgreSQL), so an export taken while the site serves is
    consistent across tables."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def stream_rows(conn: Connection, table: Table, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every row of `table` in primary-key order, `batch` at a time from the database."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=batch).execute(select(table).order_by(*order))
    for row in result.mappings():
        yield {str(k): v for k, v in row.items()}  # plain str: orjson refuses str subclasses


def count_rows(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def encode_value(table: Table, column: str, value: Any) -> Any:
    """A column value as JSON: dates and times in ISO form, bytes in base64."""
    if value is None:
        return None
    kind = table.c[column].type
    if isinstance(kind, LargeBinary):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(kind, DateTime | Date):
        return value.isoformat()
    return value


def decode_value(table: Table, column: str, value: Any) -> Any:
    if value is None:
        return None
    kind = table.c[column].type
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, JSON):
        return value
    return value


# -- writing ---------------------------------------------------------------------------------


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert `rows`, replacing rows with the same primary key (so importing the same export
    twice, or resuming an interrupted import, ends in the same state). Returns len(rows)."""
    if not rows:
        return 0
    insert: Any = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    keys = [c.name for c in table.primary_key.columns]
    columns = list(rows[0])
    stmt = insert(table).values(list(rows))
    others = [c for c in columns if c not in keys]
    if others:
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(stmt.excluded, c) for c in others}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt)
    return len(rows)


def reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL: move each serial id's sequence past the highest imported id, so the next
    row the site inserts does not collide (SQLite needs nothing: it uses max(rowid)+1)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not keys[0].autoincrement or keys[0].type.python_type is not int:
            continue
        name, col = table.name, keys[0].name
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": name, "c": col}).scalar()
        if seq:
            conn.execute(text(
                f'SELECT setval(:s, COALESCE((SELECT max("{col}") FROM "{name}"), 0) + 1, false)'
            ), {"s": seq})


def row_count(engine: Engine | Connection, name: str) -> int:
    table = metadata.tables[name]
    if isinstance(engine, Connection):
        return count_rows(engine, table)
    with engine.connect() as conn:
        return count_rows(conn, table)
