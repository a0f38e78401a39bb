"""Backups of a live instance: taken while writers write, restored after every check (files,
revision, integrity, counts), refused when damaged or from a newer paperfeed, migrated when
older; the scheduled job with its retention; PostgreSQL points at pg_dump."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed import backup
from paperfeed.backup import BackupError, prune, restore_backup, take_backup
from paperfeed.storage import backup as store
from paperfeed.storage import comments, votes
from paperfeed.storage.db import alembic_config, connect, head_revision, migrate, write
from paperfeed.storage.schema import comments as comment_rows
from paperfeed.storage.schema import featured, users
from paperfeed.web.app import create_app
from tests.conftest import REPO_ROOT
from tests.ops.conftest import ops_settings


def _writers(engine, stop: threading.Event, done: list[int]) -> list[threading.Thread]:
    """Two threads voting, unvoting and commenting until `stop` (acknowledged writes counted)."""
    with engine.connect() as conn:
        ids = list(conn.execute(select(featured.c.paper_id).limit(40)).scalars())
        members = list(conn.execute(select(users.c.id).where(users.c.email.is_not(None)))
                       .scalars())

    def run(offset: int) -> None:
        i = offset
        while not stop.is_set():
            pid, uid = ids[i % len(ids)], members[i % len(members)]
            with write(engine) as conn:
                if not votes.add_vote(conn, user_id=uid, paper_id=pid, now=datetime.now())[0]:
                    votes.remove_vote(conn, user_id=uid, paper_id=pid)
                comments.add_comment(conn, paper_id=pid, user_id=uid, body=f"c{i}",
                                     now=datetime.now())
            done.append(i)
            i += 2

    return [threading.Thread(target=run, args=(k,), daemon=True) for k in range(2)]


def test_backup_during_concurrent_writes_restores_to_a_consistent_instance(
    demo_copy: Path, tmp_path: Path,
) -> None:
    settings = ops_settings(demo_copy)
    engine = connect(settings)
    stop, done = threading.Event(), []
    threads = _writers(engine, stop, done)
    for t in threads:
        t.start()
    try:
        while len(done) < 20:  # writes are flowing before and during the copy
            threading.Event().wait(0.01)
        with engine.connect() as conn:
            acknowledged = conn.execute(select(func.count()).select_from(comment_rows)
                                        ).scalar_one()
        result = take_backup(settings, tmp_path / "backup", engine=engine)
        during = len(done)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(done) > during or during >= 20
    assert result.counts["papers"] == 2926 and result.vectors > 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["schema_revision"] == head_revision(engine)
    assert set(manifest["files"]) >= {"paperfeed.db"}
    assert any(name.startswith("vectors/") for name in manifest["files"])

    fresh = ops_settings(tmp_path / "restored")
    restored = restore_backup(fresh, tmp_path / "backup")
    db = fresh.data_dir / "paperfeed.db"
    assert store.integrity_problems(db) == []
    assert store.upvote_mismatches(db) == []  # one instant: votes and counts agree
    assert store.row_counts(db) == manifest["counts"]
    assert manifest["counts"]["comments"] >= acknowledged  # no write acknowledged before is lost
    assert restored.vectors == result.vectors
    with TestClient(create_app(fresh)) as client:  # the restored instance serves, searches
        assert client.get("/readyz").status_code == 200
        hits = client.get("/api/papers/search", params={"q": "diffusion language model"})
        assert hits.status_code == 200 and len(hits.json()) > 0
    engine.dispose()


def test_backup_and_restore_from_the_command_line(demo_copy: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(PYTHONPATH=str(REPO_ROOT), PAPERFEED_DATA_DIR=str(demo_copy),
               PAPERFEED_ENVIRONMENT="development")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paperfeed", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    made = cli("backup", str(tmp_path / "b1"))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"backup written to {tmp_path / 'b1'}: schema ")
    again = cli("backup", str(tmp_path / "b1"))
    assert again.returncode == 1 and "not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    refused = cli("restore", str(tmp_path / "b1"))
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = cli("restore", str(tmp_path / "b1"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "restored" in forced.stdout and ".before-restore-" in forced.stdout
    assert any(p.name.startswith("paperfeed.db.before-restore-") for p in demo_copy.iterdir())


def test_restore_refuses_a_damaged_backup(demo_copy: Path, tmp_path: Path) -> None:
    take_backup(ops_settings(demo_copy), tmp_path / "b")
    db = tmp_path / "b" / "paperfeed.db"
    with db.open("r+b") as fh:
        fh.seek(db.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BackupError, match="does not match its checksum"):
        restore_backup(ops_settings(tmp_path / "target"), tmp_path / "b")
    assert not (tmp_path / "target" / "paperfeed.db").exists() or \
        (tmp_path / "target" / "paperfeed.db").stat().st_size == 0


def test_restore_refuses_a_backup_from_a_newer_schema(demo_copy: Path, tmp_path: Path) -> None:
    take_backup(ops_settings(demo_copy), tmp_path / "b")
    manifest_path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["schema_revision"] = "9999"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="newer than this paperfeed knows"):
        restore_backup(ops_settings(tmp_path / "target"), tmp_path / "b")


def test_restore_migrates_a_backup_of_an_older_schema(tmp_path: Path) -> None:
    old = ops_settings(tmp_path / "old")
    old.data_dir.mkdir()
    engine = connect(old)
    command.upgrade(alembic_config(engine), "0006")
    engine.dispose()
    result = take_backup(old, tmp_path / "b")
    assert result.revision == "0006"
    fresh = ops_settings(tmp_path / "new")
    restored = restore_backup(fresh, tmp_path / "b")
    assert restored.revision_before == "0006"
    engine = connect(fresh)
    assert restored.revision_after == head_revision(engine)
    engine.dispose()


def test_restore_refuses_while_another_process_has_the_database_open(
    demo_copy: Path, tmp_path: Path,
) -> None:
    take_backup(ops_settings(demo_copy), tmp_path / "b")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
         "c.execute('select 1'); print('open', flush=True); sys.stdin.read()",
         str(demo_copy / "paperfeed.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(BackupError, match=f"open in process {holder.pid}"):
            restore_backup(ops_settings(demo_copy), tmp_path / "b", force=True)
    finally:
        holder.communicate("", timeout=30)


def test_backup_on_postgres_names_pg_dump(pg_settings) -> None:  # type: ignore[no-untyped-def]
    engine = connect(pg_settings)
    migrate(engine)
    engine.dispose()
    with pytest.raises(BackupError, match="pg_dump"):
        take_backup(pg_settings, Path("/nonexistent/never-written"))
    with pytest.raises(BackupError, match="pg_restore"):
        restore_backup(pg_settings, Path("/nonexistent/never-read"))


def test_prune_keeps_the_newest_days_and_the_newest_backup_of_recent_weeks(
    tmp_path: Path,
) -> None:
    start = date(2026, 1, 1)
    for n in range(60):
        d = tmp_path / f"paperfeed-{(start + timedelta(days=n)).isoformat()}"
        d.mkdir()
        (d / "manifest.json").write_text("{}")
    (tmp_path / "unrelated").mkdir()
    (tmp_path / "paperfeed-2026-03-30").mkdir()  # no manifest: not a finished backup
    removed = prune(tmp_path, keep_daily=7, keep_weekly=4)
    left = sorted(p.name for p in tmp_path.iterdir() if (p / "manifest.json").exists())
    newest = [(start + timedelta(days=n)).isoformat() for n in range(53, 60)]
    assert [f"paperfeed-{d}" for d in newest] == left[-7:]
    # the newest backup of each of the four newest ISO weeks: 2026-03-01 (a Sunday, among the
    # daily ones), then the three Sundays before it
    assert left[:-7] == ["paperfeed-2026-02-08", "paperfeed-2026-02-15", "paperfeed-2026-02-22"]
    assert len(removed) == 60 - len(left)
    assert (tmp_path / "unrelated").exists() and (tmp_path / "paperfeed-2026-03-30").exists()


def test_scheduled_backup_job_runs_under_the_scheduler(demo_copy: Path, tmp_path: Path) -> None:
    from paperfeed.jobs import Scheduler, default_jobs

    settings = ops_settings(demo_copy, backup_dir=tmp_path / "backups", backup_hour=3)
    engine = connect(settings)
    jobs = [j for j in default_jobs(engine, settings) if j.name == "backup"]
    assert jobs, "backup_dir set: the backup job is scheduled"
    scheduler = Scheduler(engine, settings, jobs)
    assert scheduler.tick(datetime(2026, 8, 21, 2, 0)) == []  # before the backup hour
    assert scheduler.tick(datetime(2026, 8, 21, 3, 30)) == ["backup"]
    assert scheduler.tick(datetime(2026, 8, 21, 9, 0)) == []  # once a day
    made = tmp_path / "backups" / "paperfeed-2026-08-21"
    assert (made / "manifest.json").is_file()
    backup.verify_backup(made, engine)
    engine.dispose()


@pytest.mark.parametrize("where", ["a-file", "under-a-file/b"])
def test_backup_to_a_path_that_cannot_be_a_directory_is_one_line(
    demo_copy: Path, tmp_path: Path, where: str
) -> None:
    """`paperfeed backup FILE` was 'failed unexpectedly: NotADirectoryError (a bug in
    paperfeed)': the destination is the operator's to fix, and nothing is left behind."""
    from typer.testing import CliRunner

    from paperfeed.cli import app

    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    (tmp_path / "under-a-file").write_text("x", encoding="utf-8")
    env = {"PAPERFEED_DATA_DIR": str(demo_copy), "PAPERFEED_ENVIRONMENT": "development"}
    done = CliRunner().invoke(app, ["backup", str(tmp_path / where)], env=env)
    assert done.exit_code == 1, done.output
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: backup: "), done.stderr
    assert "a bug in paperfeed" not in lines[0] and "directory" in lines[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial left
