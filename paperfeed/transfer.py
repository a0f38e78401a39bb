"""`paperfeed export FILE` / `paperfeed import FILE`: the whole instance as JSON lines, to move
it between databases (SQLite -> PostgreSQL) or keep a portable copy.

The file (gzip-compressed when its name ends in `.gz`; `-` is stdout/stdin):

    {"format": "paperfeed.export/1", "export_id": ..., "schema_revision": ..., "tables": [...]}
    {"table": "papers", "row": {...}}          one line per row, tables parents first
    ...
    {"end": true, "counts": {"papers": 80317, ...}}

Both directions stream: the export reads each table in primary-key order from one database
snapshot (consistent while the site serves) and writes line by line; the import commits
batches of rows as it reads them. Memory stays flat whatever the catalog's size.

The import is idempotent: rows are upserted by primary key, so importing the same file again
(or resuming one that was interrupted) ends in the same state. It refuses a database that
already holds other data (papers or members not from this export), and an export of another
schema revision (export and import with the same paperfeed version; upgrade after). Member
passwords, API tokens and private-feed nonces travel only `--with-secrets`; sessions and
sign-in links never. Afterwards the post-ingest step runs as after any import (keyword counts,
vector index or pgvector column and HNSW index), unless `--no-index`.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson
from sqlalchemy import Engine, Table, func, select

from paperfeed import __version__
from paperfeed.errors import PaperfeedError
from paperfeed.models import utcnow
from paperfeed.storage import jobs as job_store
from paperfeed.storage import transfer as store
from paperfeed.storage.db import current_revision, write
from paperfeed.storage.schema import metadata, papers, users

log = logging.getLogger(__name__)
FORMAT = "paperfeed.export/1"
IMPORT_KEY = "transfer:import"
BATCH = 500


class TransferError(PaperfeedError):
    status = 400


@dataclass
class ExportSummary:
    path: str
    counts: dict[str, int]
    seconds: float

    def line(self) -> str:
        rows = sum(self.counts.values())
        return (f"exported {rows} rows of {len(self.counts)} tables to {self.path} "
                f"({self.counts.get('papers', 0)} papers, {self.counts.get('users', 0)} members) "
                f"in {self.seconds:.1f} s")


@dataclass
class ImportSummary:
    counts: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        rows = sum(self.counts.values())
        return [f"imported {rows} rows of {len(self.counts)} tables "
                f"({self.counts.get('papers', 0)} papers, {self.counts.get('users', 0)} members) "
                f"in {self.seconds:.1f} s", *self.notes]


@contextmanager
def _open_out(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path).expanduser()
    partial = target.with_name(target.name + ".partial")
    raw: IO[bytes] = partial.open("wb")
    try:
        out: IO[bytes] = raw
        if target.name.endswith(".gz"):
            out = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5))
        yield out
        if out is not raw:
            out.close()
        raw.close()
        partial.replace(target)  # complete files only under the chosen name
    except BaseException:
        raw.close()
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def _open_in(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    source = Path(path).expanduser()
    if not source.is_file():
        raise TransferError(f"import: no file {source}")
    with source.open("rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                    yield io.BufferedReader(unzipped)  # type: ignore[arg-type]
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # cut short or damaged
                raise TransferError(f"import: {source} is a damaged gzip file ({exc})") from exc
        else:
            yield raw


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def export_instance(
    engine: Engine, path: str, *, secrets: bool = False, embeddings: bool = True
) -> ExportSummary:
    """Write the instance to `path` (see the module doc); returns rows written per table."""
    start = time.perf_counter()
    tables = store.tables_to_move(secrets=secrets, embeddings=embeddings)
    counts: dict[str, int] = {}
    with _open_out(path) as out, store.snapshot(engine) as conn:
        header = {
            "format": FORMAT,
            "export_id": uuid.uuid4().hex,
            "created_at": utcnow().isoformat(timespec="seconds") + "Z",
            "paperfeed_version": __version__,
            "schema_revision": _revision(conn),
            "dialect": conn.dialect.name,
            "secrets": secrets,
            "embeddings": embeddings,
            "tables": [str(t.name) for t in tables],
        }
        out.write(_line(header))
        for table in tables:
            hidden = set() if secrets else set(store.policy(table.name).secret_columns)
            n = 0
            for row in store.stream_rows(conn, table):
                if table.name == "job_state" and row["key"] == IMPORT_KEY:
                    continue  # this instance's own import record is not data to move
                for name in hidden:
                    row[name] = None
                encoded = {k: store.encode_value(table, k, v) for k, v in row.items()}
                out.write(_line({"table": table.name, "row": encoded}))
                n += 1
            counts[str(table.name)] = n  # plain str keys: orjson refuses quoted_name
        out.write(_line({"end": True, "counts": counts}))
    return ExportSummary(path, counts, time.perf_counter() - start)


def _revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def check_export(path: str) -> None:
    """Raise `TransferError` unless `path` is a readable file starting with an export's header;
    the CLI checks this before it creates the target instance, so a mistyped path leaves no
    empty database behind (stdin, `-`, cannot be read twice and is checked while importing)."""
    if path == "-":
        return
    with _open_in(path) as source:
        _header(source.readline(), path)


def import_instance(engine: Engine, path: str) -> ImportSummary:
    """Read an export into the (migrated) database of `engine`; see the module doc."""
    start = time.perf_counter()
    counts: dict[str, int] = {}
    with _open_in(path) as source:
        lines = iter(source)
        header = _header(next(lines, b""), path)
        _check_target(engine, header)
        wanted = set(header["tables"])
        footer: dict[str, Any] | None = None
        table: Table | None = None
        batch: list[dict[str, Any]] = []
        seen: set[str] = set()

        def flush() -> None:
            if table is not None and batch:
                with write(engine) as conn:
                    store.upsert(conn, table, batch)
                counts[table.name] = counts.get(table.name, 0) + len(batch)
                batch.clear()

        for number, raw in enumerate(lines, start=2):
            if not raw.strip():
                continue
            try:
                item = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise TransferError(f"import: {path} line {number} is not JSON ({exc})") from None
            if item.get("end"):
                footer = item
                break
            name = item.get("table")
            if name not in wanted or name not in metadata.tables:
                raise TransferError(f"import: {path} line {number}: unknown table {name!r}")
            if table is None or name != table.name:
                flush()
                if name in seen:
                    raise TransferError(f"import: {path} line {number}: rows of {name} are "
                                        "not together; not a paperfeed export")
                seen.add(name)
                table = metadata.tables[name]
                counts.setdefault(name, 0)
            row = item["row"]
            try:
                batch.append({k: store.decode_value(table, k, v) for k, v in row.items()})
            except (KeyError, ValueError, TypeError) as exc:
                raise TransferError(f"import: {path} line {number}: bad {name} row ({exc})"
                                    ) from None
            if len(batch) >= BATCH:
                flush()
        flush()
    if footer is None:
        raise TransferError(
            f"import: {path} ends before its last line: the export is incomplete (the rows read "
            "so far are imported; export again and import the new file)")
    expected = {k: int(v) for k, v in footer.get("counts", {}).items()}
    got = {name: counts.get(name, 0) for name in expected}
    if got != expected:
        raise TransferError(f"import: rows per table differ from the export's count: read "
                            f"{got}, the export says {expected}")
    moved = [metadata.tables[n] for n in expected]
    with write(engine) as conn:
        store.reset_sequences(conn, moved)
        job_store.set_state(conn, IMPORT_KEY, {"export_id": header["export_id"],
                                               "done": True}, now=utcnow())
    return ImportSummary(got, time.perf_counter() - start)


def _header(first: bytes, path: str) -> dict[str, Any]:
    try:
        header = orjson.loads(first) if first.strip() else None
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TransferError(f"import: {path} is not a paperfeed export (no {FORMAT} header)")
    return header


def _check_target(engine: Engine, header: dict[str, Any]) -> None:
    """Same schema revision, and a database that is empty or holds this very export."""
    here = current_revision(engine)
    if header.get("schema_revision") != here:
        raise TransferError(
            f"import: the export is of schema {header.get('schema_revision')} (paperfeed "
            f"{header.get('paperfeed_version')}), this database is at {here}; import with the "
            "paperfeed version that exported it, then upgrade", status=409)
    with engine.connect() as conn:
        has_data = any(conn.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in (papers, users))
        state = job_store.get_state(conn, IMPORT_KEY)
    same = isinstance(state, dict) and state.get("export_id") == header.get("export_id")
    if has_data and not same:
        raise TransferError(
            "import: this database already holds papers or members; import into a new, empty "
            "database (`paperfeed migrate` on it first is fine)", status=409)
    with write(engine) as conn:  # recorded first, so an interrupted import can be re-run
        job_store.set_state(conn, IMPORT_KEY, {"export_id": header["export_id"], "done": False},
                            now=utcnow())


def describe_policies() -> list[str]:
    """One line per table: what export does with it (for `paperfeed export --help` docs)."""
    return [f"{name}: {p.mode}" + (f" ({p.reason})" if p.reason else "")
            for name, p in sorted(store.POLICIES.items())]


__all__ = ["export_instance", "import_instance", "TransferError", "json"]
