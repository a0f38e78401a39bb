from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from paperfeed.config import Settings
from paperfeed.errors import SchemaOutOfDate
from paperfeed.storage.db import check_schema, connect, migrate


def test_migrate_creates_wal_sqlite_file_at_head(settings: Settings) -> None:
    engine = connect(settings)
    with pytest.raises(SchemaOutOfDate, match="paperfeed migrate"):
        check_schema(engine)
    before, after = migrate(engine)
    assert before is None and after is not None
    check_schema(engine)
    assert (settings.data_dir / "paperfeed.db").exists()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    before, after = migrate(engine)
    assert before == after


def test_keyword_index_follows_paper_rows_through_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO papers (id, title, abstract, authors, authors_text, categories,"
                " upstream_upvotes, member_upvotes, upstream_comments, hidden, source,"
                " content_hash, indexed_at, modified_at) VALUES ('2401.00001', 'Graph kernels',"
                " 'About nodes', '[]', 'Ada Lovelace', '[]', 0, 0, 0, 0, 't', 'h',"
                " '2024-01-01', '2024-01-01')"
            )
        )
        hits = conn.execute(text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH 'lovelace'"))
        assert hits.scalars().all() == ["2401.00001"]
        conn.execute(text("UPDATE papers SET title = 'Tree kernels' WHERE id = '2401.00001'"))
        assert conn.execute(text("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'graph'")).scalar() == 0
        conn.execute(text("DELETE FROM papers"))
        assert conn.execute(text("SELECT count(*) FROM papers_fts")).scalar() == 0


def test_keyword_index_rows_are_found_by_rowid_map_not_by_scan(engine: Engine) -> None:
    insert = text(
        "INSERT INTO papers (id, title, abstract, authors, authors_text, categories,"
        " upstream_upvotes, member_upvotes, upstream_comments, hidden, source,"
        " content_hash, indexed_at, modified_at) VALUES (:id, :t, 'x', '[]', '', '[]', 0, 0, 0,"
        " 0, 't', 'h', '2024-01-01', '2024-01-01')"
    )
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(insert, {"id": f"2401.0000{i}", "t": f"title{i}"})
        conn.execute(text("UPDATE papers SET title = 'renamed' WHERE id = '2401.00003'"))
        conn.execute(text("DELETE FROM papers WHERE id = '2401.00001'"))
        rows = conn.execute(
            text(
                "SELECT m.paper_id, f.paper_id, f.title FROM papers_fts_rowid m"
                " JOIN papers_fts f ON f.rowid = m.fts_rowid ORDER BY m.paper_id"
            )
        ).all()
        assert [(a, b) for a, b, _ in rows] == [
            (f"2401.0000{i}", f"2401.0000{i}") for i in (0, 2, 3, 4)
        ]
        assert dict((a, t) for a, _, t in rows)["2401.00003"] == "renamed"
        assert conn.execute(text("SELECT count(*) FROM papers_fts")).scalar() == 4


def test_upgrade_from_0001_maps_existing_index_rows(settings: Settings) -> None:
    from alembic import command

    from paperfeed.storage.db import alembic_config

    eng = connect(settings)
    command.upgrade(alembic_config(eng), "0001")
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO papers (id, title, abstract, authors, authors_text, categories,"
                " upstream_upvotes, member_upvotes, upstream_comments, hidden, source,"
                " content_hash, indexed_at, modified_at) VALUES ('2401.00009', 'old', 'x', '[]',"
                " '', '[]', 0, 0, 0, 0, 't', 'h', '2024-01-01', '2024-01-01')"
            )
        )
    migrate(eng)
    with eng.begin() as conn:
        conn.execute(text("UPDATE papers SET title = 'fresh' WHERE id = '2401.00009'"))
        assert conn.execute(
            text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH 'fresh'")
        ).scalars().all() == ["2401.00009"]
        assert conn.execute(text("SELECT count(*) FROM papers_fts")).scalar() == 1


def test_migrations_form_one_line_with_unique_revision_ids() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from paperfeed.storage.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    revisions = [r.revision for r in script.walk_revisions()]
    assert len(revisions) == len(set(revisions)) == len(files)


def test_migrating_a_catalog_with_members_and_their_sessions(settings) -> None:  # type: ignore[no-untyped-def]
    """Migrations run on a database in use: users referred to by sessions and featured rows
    (0009 once copied and dropped the users table, which SQLite refuses with foreign keys on)."""
    from alembic import command
    from sqlalchemy import text

    from paperfeed.storage.db import alembic_config, check_schema, connect, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    command.upgrade(alembic_config(engine), "0008")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, email, username, role, banned, external, created_at) "
            "VALUES (1, 'a@example.org', 'ada', 'member', 0, 0, '2025-06-16 00:00:00')"))
        conn.execute(text(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) "
            "VALUES ('h', 1, '2025-06-16 00:00:00', '2099-01-01 00:00:00')"))
    migrate(engine)
    check_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM users")).scalar_one() == "ada"
        assert conn.execute(text("SELECT count(*) FROM sessions")).scalar_one() == 1
    engine.dispose()
