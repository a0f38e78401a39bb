"""`paperfeed export` / `paperfeed import`: the demo instance with community data moves from
SQLite to PostgreSQL and back, every table compared row by row; every table the migrations
create has an export policy (so a branch that adds a table must decide); secrets stay home;
an import is idempotent, resumes after an interrupted file and refuses another instance's
database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.storage import transfer as store
from paperfeed.storage.comments import add_comment
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.schema import comments as comment_rows
from paperfeed.storage.schema import metadata
from tests.ops.conftest import SECRET, ops_settings

# Tables the demo community fills (the comparison below covers every table; these must not be
# empty, so the move is tested on real rows of each).
FILLED = ("papers", "paper_authors", "embeddings", "featured", "users", "votes", "comments",
          "moderation_log", "subscriptions", "collections", "collection_items", "read_marks",
          "recommend_feedback", "saved_searches", "saved_search_anchors", "feed_tokens")


def _env(settings: Settings) -> dict[str, str]:
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_SECRET_KEY": SECRET,
           "PAPERFEED_ENVIRONMENT": "development", "PAPERFEED_DATABASE_URL": ""}
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env


def _run(settings: Settings, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args), env=_env(settings))
    shown = f"$ paperfeed {' '.join(args)}\n{result.output}\n{result.exception!r}"
    assert result.exit_code == code, shown
    assert "Traceback" not in result.output, shown
    return result


def _norm(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(engine: Engine, name: str, *, hide_secrets: bool) -> list[tuple[Any, ...]]:
    """Every row of a table, normalised and sorted in Python (PostgreSQL's text collation
    orders keys differently from SQLite's)."""
    table = metadata.tables[name]
    hidden = set(store.policy(name).secret_columns) if hide_secrets else set()
    with engine.connect() as conn:
        rows = conn.execute(select(table)).mappings().all()
    out = [tuple(None if k in hidden else _norm(v) for k, v in sorted(row.items()))
           for row in rows]
    return sorted(out, key=repr)


def _moved_tables(*, secrets: bool) -> list[str]:
    return [t.name for t in store.tables_to_move(secrets=secrets, embeddings=True)
            if t.name != "job_state"]  # the import records itself there


def _same_tables(source: Engine, target: Engine, *, hide_secrets: bool) -> dict[str, int]:
    counts = {}
    for name in _moved_tables(secrets=not hide_secrets):
        want = _rows(source, name, hide_secrets=hide_secrets)
        got = _rows(target, name, hide_secrets=False)
        assert got == want, f"table {name} differs after the move"
        counts[name] = len(got)
    return counts


def test_every_table_has_an_export_policy() -> None:
    """A table added to schema.py without deciding whether an instance move carries it fails
    here (add it to POLICIES in storage/transfer.py)."""
    missing = sorted(set(metadata.tables) - set(store.POLICIES))
    assert not missing, f"tables without an export policy: {missing}"
    assert not set(store.POLICIES) - set(metadata.tables)


def test_every_table_of_member_data_moves_or_is_short_lived() -> None:
    """harden's registry of tables holding member data (storage/member_data.py): each moves
    with the instance (with `--with-secrets` for credentials), except sessions and sign-in
    links, which members make again by signing in."""
    from paperfeed.storage.member_data import MEMBER_TABLES

    short_lived = {"sessions", "login_tokens"}
    for entry in MEMBER_TABLES:
        mode = store.policy(entry.name).mode
        assert mode != "skip" or entry.name in short_lived, entry.name


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_every_migrated_table_is_exported_or_derived(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    """The tables the migrations really create (not only schema.py's) on both databases:
    each is moved by policy or is an index rebuilt from moved tables."""
    settings = (request.getfixturevalue("pg_settings") if backend == "postgres"
                else ops_settings(tmp_path))
    engine = connect(settings)
    migrate(engine)
    names = store.database_tables(engine)
    engine.dispose()
    assert "papers" in names
    unknown = [n for n in names if n not in store.POLICIES and not store.is_derived(n)]
    assert not unknown, f"tables neither exported nor derived: {unknown}"


def test_demo_moves_sqlite_to_postgresql_and_back_table_by_table(
    demo_copy: Path, pg_settings: Settings, tmp_path: Path,
) -> None:
    source = ops_settings(demo_copy)
    src = connect(source)
    for name in FILLED:
        assert _rows(src, name, hide_secrets=False), f"the demo has no {name} rows"
    dump = tmp_path / "instance.jsonl.gz"
    out = _run(source, "export", str(dump))
    assert "exported" in out.output

    lines = gzip.decompress(dump.read_bytes()).splitlines()
    header, footer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == "paperfeed.export/1" and footer["end"] is True
    tables = {json.loads(ln)["table"] for ln in lines[1:-1]}
    assert {"sessions", "login_tokens", "api_tokens", "feed_tokens"}.isdisjoint(tables)
    member_rows = [json.loads(ln)["row"] for ln in lines[1:-1]
                   if json.loads(ln)["table"] == "users"]
    assert member_rows and all(r["password_hash"] is None for r in member_rows)

    _run(pg_settings, "import", str(dump))
    pg = connect(pg_settings)
    counts = _same_tables(src, pg, hide_secrets=True)
    assert counts["papers"] > 1000 and counts["votes"] > 0

    # The moved instance works: search in every mode, and new rows get fresh ids.
    found = _run(pg_settings, "search", "diffusion models", "--mode", "semantic", "--json")
    home = _run(source, "search", "diffusion models", "--mode", "semantic", "--json")
    # the same vectors, now in pgvector: the same nearest paper as at home
    assert json.loads(found.output.splitlines()[0])["id"] == json.loads(
        home.output.splitlines()[0])["id"]
    with write(pg) as conn:
        top = conn.execute(select(func.max(comment_rows.c.id))).scalar_one()
        first = conn.execute(select(comment_rows).limit(1)).mappings().one()
        new_id = add_comment(conn, paper_id=first["paper_id"], user_id=first["user_id"],
                             body="after the move", now=first["created_at"])
    assert new_id > top  # the sequence moved past the imported ids
    with write(pg) as conn:
        conn.execute(comment_rows.delete().where(comment_rows.c.id == new_id))

    # Importing the same file again changes nothing; another export is refused.
    again = _run(pg_settings, "import", str(dump), "--no-index")
    assert "imported" in again.output
    assert _same_tables(src, pg, hide_secrets=True) == counts
    other = tmp_path / "other.jsonl"
    _run(source, "export", str(other), "--no-embeddings")
    refused = _run(pg_settings, "import", str(other), code=1)
    assert "already holds papers or members" in refused.output

    # And back: PostgreSQL's export into a new SQLite instance equals the original.
    back_dump = tmp_path / "back.jsonl"
    _run(pg_settings, "export", str(back_dump))
    back = ops_settings(tmp_path / "back")
    _run(back, "import", str(back_dump), "--no-index")
    back_engine = connect(back)
    assert _same_tables(src, back_engine, hide_secrets=True) == counts
    for engine in (src, pg, back_engine):
        engine.dispose()


def test_export_with_secrets_carries_tokens_and_an_interrupted_import_resumes(
    demo_copy: Path, tmp_path: Path,
) -> None:
    source = ops_settings(demo_copy)
    dump = tmp_path / "secrets.jsonl"
    _run(source, "export", str(dump), "--with-secrets", "--no-embeddings")
    lines = dump.read_bytes().splitlines()
    rows = [orjson.loads(ln) for ln in lines[1:-1]]
    assert any(r["table"] == "feed_tokens" for r in rows)
    assert any(r["table"] == "users" and r["row"]["password_hash"] for r in rows)
    assert not any(r["table"] in ("sessions", "login_tokens") for r in rows)

    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    target = ops_settings(tmp_path / "target")
    failed = _run(target, "import", str(cut), "--no-index", code=1)
    assert "incomplete" in failed.output
    _run(target, "import", str(dump), "--no-index")  # same export: resumes, not refused
    src, dst = connect(source), connect(target)
    for name in _moved_tables(secrets=True):
        if name != "embeddings":
            assert _rows(dst, name, hide_secrets=False) == _rows(src, name, hide_secrets=False)
    src.dispose()
    dst.dispose()


@pytest.mark.parametrize("damage, message", [
    (lambda lines: [b'{"format": "something else"}', *lines[1:]], "not a paperfeed export"),
    (lambda lines: [lines[0], b"{not json", *lines[1:]], "is not JSON"),
    (lambda lines: [lines[0], b'{"table": "sessions", "row": {}}', *lines[1:]],
     "unknown table"),
    (lambda lines: [lines[0], *lines[1:-1], b'{"end": true, "counts": {"papers": 1}}'],
     "differ from the export's count"),
])
def test_import_refuses_a_damaged_file_in_one_line(
    demo_copy: Path, tmp_path: Path, damage: Any, message: str,
) -> None:
    source = ops_settings(demo_copy)
    dump = tmp_path / "x.jsonl"
    _run(source, "export", str(dump), "--no-embeddings")
    dump.write_bytes(b"\n".join(damage(dump.read_bytes().splitlines())) + b"\n")
    failed = _run(ops_settings(tmp_path / "t"), "import", str(dump), "--no-index", code=1)
    assert message in failed.output
    assert len([ln for ln in failed.output.splitlines() if ln.startswith("error:")]) == 1


@pytest.mark.parametrize("content", [None, b"not an export\n", b""])
def test_import_of_a_missing_or_foreign_file_creates_no_instance(
    tmp_path: Path, content: bytes | None
) -> None:
    """A mistyped path must not leave an empty database behind: later commands would use it
    instead of the demo (they fall back to the demo only while no instance exists)."""
    dump = tmp_path / "export.jsonl"
    if content is not None:
        dump.write_bytes(content)
    target = ops_settings(tmp_path / "t")
    failed = _run(target, "import", str(dump), "--no-index", code=1)
    assert failed.output.startswith("error: import: ")
    assert not target.data_dir.exists()


def test_import_of_a_cut_gzip_export_says_the_file_is_damaged(
    demo_copy: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "x.jsonl.gz"
    _run(ops_settings(demo_copy), "export", str(dump), "--no-embeddings")
    whole = dump.read_bytes()
    for cut in (b"\x1f\x8bgarbage", whole[: len(whole) // 2]):  # the header's or the rows'
        dump.write_bytes(cut)
        failed = _run(ops_settings(tmp_path / "t"), "import", str(dump), "--no-index", code=1)
        assert failed.output.startswith("error: import: ") and "damaged gzip" in failed.output
        assert "a bug in paperfeed" not in failed.output
