"""`paperfeed backup` / `restore` and the scheduled backup job: a live SQLite instance copied
without stopping it, with a manifest that `restore` checks before anything is replaced.

A backup is a directory:

- `paperfeed.db`: the database as of one instant (`storage.backup.copy_live`);
- `vectors/<model>/...`: the vector-index files, copied under each index's writer lock (they
  are derived from the `embeddings` table, which is in the database: a restore without them,
  or with files a little behind the database, catches up through the index's own sync);
- `manifest.json`: format, time, paperfeed version, schema revision, row counts of every
  table, and the size and SHA-256 of every file.

It is written under a temporary name and renamed when complete, so a directory with a
manifest is a whole backup. `restore` verifies the checksums, the revision (a backup from a
newer paperfeed is refused; an older one is migrated after it is in place), SQLite's
integrity check and the row counts, then swaps the database in, keeping the one it replaces
beside it. PostgreSQL instances are backed up with `pg_dump` (docs/operations.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import utcnow
from paperfeed.storage import backup as store
from paperfeed.storage.db import alembic_config, connect, head_revision, migrate

log = logging.getLogger(__name__)
FORMAT = "paperfeed.backup/1"
MANIFEST = "manifest.json"
DB_NAME = "paperfeed.db"
SCHEDULED = re.compile(r"^paperfeed-(\d{4}-\d{2}-\d{2})$")

PG_BACKUP = (
    "this instance runs on PostgreSQL: back it up with pg_dump, e.g. `pg_dump --format=custom "
    "--file=paperfeed.dump \"$DATABASE_URL\"` (docs/operations.md); `paperfeed export` also "
    "writes a portable copy"
)
PG_RESTORE = (
    "this instance runs on PostgreSQL: restore a pg_dump file with `pg_restore --clean "
    "--if-exists --no-owner --dbname=\"$DATABASE_URL\" paperfeed.dump`, then `paperfeed "
    "migrate` (docs/operations.md); `paperfeed import` reads a `paperfeed export` file"
)


class BackupError(PaperfeedError):
    """A backup could not be taken, or a backup is unfit to restore."""


@dataclass
class BackupResult:
    path: Path
    revision: str | None
    counts: dict[str, int]
    bytes: int
    seconds: float
    vectors: int  # files copied

    def line(self) -> str:
        return (
            f"backup written to {self.path}: schema {self.revision}, "
            f"{self.counts.get('papers', 0)} papers, {self.counts.get('users', 0)} members, "
            f"{self.vectors} vector files, {self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s"
        )


@dataclass
class RestoreResult:
    database: Path
    revision_before: str | None
    revision_after: str | None
    kept: Path | None
    vectors: int
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"restored {self.database} at schema {self.revision_after}"
               + (f" (migrated from {self.revision_before})"
                  if self.revision_before != self.revision_after else "")]
        if self.kept is not None:
            out.append(f"the database it replaced is kept as {self.kept}")
        return out + self.notes


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_path(settings: Settings, engine: Engine, pg_message: str) -> Path:
    path = store.database_file(engine)
    if path is None:
        raise BackupError(f"backup: {pg_message}", status=400)
    return path


def take_backup(
    settings: Settings, dest: Path, *, engine: Engine | None = None, vectors: bool = True
) -> BackupResult:
    """Write a backup of the live instance to the directory `dest` (which must not exist)."""
    start = time.perf_counter()
    own = engine is None
    engine = engine or connect(settings)
    try:
        source = _sqlite_path(settings, engine, PG_BACKUP)
        if not source.is_file():
            raise BackupError(f"backup: no database at {source}; nothing to back up")
        dest = dest.expanduser().resolve()
        if dest.exists() and not dest.is_dir():
            raise BackupError(f"backup: {dest} is a file; give a directory (a new one or an "
                              "empty one)")
        if dest.exists() and any(dest.iterdir()):
            raise BackupError(f"backup: {dest} exists and is not empty; choose a new directory",
                              status=409)
        work = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
        except OSError as exc:  # a file on the way, no permission, a read-only disk
            raise BackupError(f"backup: cannot create the directory {dest} "
                              f"({exc.strerror or exc}); choose another place") from None
        try:
            store.copy_live(engine, work / DB_NAME)
            copied = _copy_vectors(settings.data_dir / "vectors", work / "vectors") if vectors \
                else 0
            revision = store.revision_of(work / DB_NAME)
            counts = store.row_counts(work / DB_NAME)
            files = {
                str(p.relative_to(work)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                for p in sorted(work.rglob("*")) if p.is_file()
            }
            manifest = {
                "format": FORMAT,
                "created_at": utcnow().isoformat(timespec="seconds") + "Z",
                "paperfeed_version": __version__,
                "schema_revision": revision,
                "database": DB_NAME,
                "counts": counts,
                "files": files,
                "vectors": "included" if vectors else
                "omitted: rebuilt from the embeddings table (`paperfeed index`)",
            }
            (work / MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
            if dest.exists():
                dest.rmdir()
            os.replace(work, dest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        size = sum(int(f["bytes"]) for f in files.values())  # type: ignore[call-overload]
        return BackupResult(dest, revision, counts, size, time.perf_counter() - start, copied)
    finally:
        if own:
            engine.dispose()


def _copy_vectors(source: Path, dest: Path) -> int:
    """Copy each model's index directory while holding its writer lock (the file lock every
    index writer takes), so no append, compaction or graph save happens mid-copy."""
    if not source.is_dir():
        return 0
    copied = 0
    for directory in sorted(p for p in source.iterdir() if p.is_dir()):
        target = dest / directory.name
        target.mkdir(parents=True)
        lock_path = directory / "lock"
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                for item in sorted(directory.iterdir()):
                    if item.is_file() and item.name != "lock" and not item.name.endswith(".tmp"):
                        shutil.copy2(item, target / item.name)
                        copied += 1
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return copied


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.is_file():
        raise BackupError(f"restore: {path} has no {MANIFEST}; not a (complete) paperfeed backup")
    try:
        manifest = json.loads(file.read_text("utf-8"))
    except ValueError as exc:
        raise BackupError(f"restore: {file} is not valid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"restore: {file} is format {manifest.get('format')!r}, expected "
                          f"{FORMAT!r}")
    return dict(manifest)


def verify_backup(path: Path, engine: Engine) -> dict[str, Any]:
    """Check a backup before it is used: every file's size and checksum, the schema revision
    (known to this code), SQLite's integrity and foreign-key checks, and the row counts.
    Returns the manifest; raises BackupError naming the first problem."""
    manifest = read_manifest(path)
    for name, facts in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise BackupError(f"restore: {name} is listed in the manifest but missing")
        if file.stat().st_size != facts["bytes"] or _sha256(file) != facts["sha256"]:
            raise BackupError(f"restore: {name} does not match its checksum in the manifest "
                              "(damaged or modified); nothing was restored")
    revision = manifest.get("schema_revision")
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config(engine))
             .walk_revisions()}
    if revision not in known:
        raise BackupError(
            f"restore: the backup's schema {revision} is newer than this paperfeed knows (its "
            f"newest is {head_revision(engine)}); install the paperfeed that made it "
            f"({manifest.get('paperfeed_version')}) or newer", status=409)
    db = path / manifest.get("database", DB_NAME)
    if store.revision_of(db) != revision:
        raise BackupError(f"restore: {db.name} is at schema {store.revision_of(db)}, the "
                          f"manifest says {revision}")
    problems = store.integrity_problems(db)
    if problems:
        raise BackupError("restore: the backed-up database fails SQLite's integrity check: "
                          + "; ".join(problems[:3]))
    counts = store.row_counts(db)
    if counts != manifest.get("counts"):
        diff = {k: (manifest.get("counts", {}).get(k), v) for k, v in counts.items()
                if manifest.get("counts", {}).get(k) != v}
        raise BackupError(f"restore: row counts differ from the manifest: {diff}")
    return manifest


def restore_backup(settings: Settings, path: Path, *, force: bool = False) -> RestoreResult:
    """Put the backup at `path` in place of the configured instance (see the module doc)."""
    path = path.expanduser().resolve()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    try:
        target = _sqlite_path(settings, engine, PG_RESTORE)
        manifest = verify_backup(path, engine)
    finally:
        engine.dispose()
    if target.exists() and target.stat().st_size > 0:
        users = _open_by_others(target)
        if users:
            raise BackupError(
                f"restore: {target} is open in process {', '.join(map(str, users))} (a running "
                "paperfeed?); stop it first", status=409)
        if not force:
            raise BackupError(
                f"restore: an instance exists at {target}; pass --force to replace it (it is "
                "kept beside it as a .before-restore file)", status=409)
    staged = target.with_name(target.name + ".restoring")
    shutil.copy2(path / manifest.get("database", DB_NAME), staged)
    kept: Path | None = None
    if target.exists():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        kept = target.with_name(f"{target.name}.before-restore-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            side = Path(str(target) + suffix)
            if side.exists():
                os.replace(side, Path(str(kept) + suffix))
    os.replace(staged, target)
    vectors = _restore_vectors(path / "vectors", settings.data_dir / "vectors")
    engine = connect(settings)
    try:
        before, after = migrate(engine)
    finally:
        engine.dispose()
    notes = []
    if not vectors:
        notes.append("the backup has no vector files: `paperfeed index` (or the first search) "
                     "rebuilds them from the embeddings table")
    return RestoreResult(target, before, after, kept, vectors, notes)


def _restore_vectors(source: Path, dest: Path) -> int:
    """Replace the instance's vector files by the backup's (the old ones describe the old
    database)."""
    if dest.exists():
        shutil.rmtree(dest)
    if not source.is_dir():
        return 0
    shutil.copytree(source, dest)
    return sum(1 for p in dest.rglob("*") if p.is_file())


def _open_by_others(path: Path) -> list[int]:
    """Processes other than this one holding `path` open (Linux /proc; [] elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    wanted = str(path.resolve())
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == wanted:
                    found.append(int(entry.name))
                    break
        except OSError:
            continue
    return found


# -- the scheduled job -------------------------------------------------------------------


def scheduled_backup(settings: Settings, engine: Engine, *, today: date) -> str:
    """The daily job of `serve --with-jobs`: a backup into `backup_dir/paperfeed-<date>`,
    then retention (`prune`)."""
    assert settings.backup_dir is not None
    root = settings.backup_dir.expanduser()
    dest = root / f"paperfeed-{today.isoformat()}"
    if (dest / MANIFEST).exists():
        result_line = f"backup {dest} exists already"
    else:
        if dest.exists():
            shutil.rmtree(dest)  # an incomplete directory of the same name
        result_line = take_backup(settings, dest, engine=engine).line()
    removed = prune(root, keep_daily=settings.backup_keep_daily,
                    keep_weekly=settings.backup_keep_weekly)
    return result_line + (f"; removed {len(removed)} old backups" if removed else "")


def prune(root: Path, *, keep_daily: int, keep_weekly: int) -> list[Path]:
    """Delete scheduled backups (`paperfeed-YYYY-MM-DD` directories with a manifest) beyond
    the newest `keep_daily` days and the newest backup of each of the newest `keep_weekly`
    ISO weeks; also leftovers of interrupted backups older than a day. Returns what went."""
    backups: list[tuple[date, Path]] = []
    for entry in root.iterdir() if root.is_dir() else []:
        m = SCHEDULED.match(entry.name)
        if m and (entry / MANIFEST).is_file():
            try:
                backups.append((date.fromisoformat(m.group(1)), entry))
            except ValueError:
                continue
    backups.sort(reverse=True)
    keep = {p for _, p in backups[:keep_daily]}
    weeks: dict[tuple[int, int], Path] = {}
    for day, p in backups:  # newest first: the first seen of a week is its newest
        week = day.isocalendar()[:2]
        if week not in weeks:
            weeks[week] = p
    keep |= set(list(weeks.values())[:keep_weekly])
    removed = []
    for _, p in backups:
        if p not in keep:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    stale = time.time() - timedelta(days=1).total_seconds()
    for entry in root.iterdir() if root.is_dir() else []:
        if ".partial-" in entry.name and entry.stat().st_mtime < stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
