"""`paperfeed ingest ...` end to end: the real CLI on a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from tests.conftest import FIXTURES, REPO_ROOT


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_ENVIRONMENT": "development",
        "PAPERFEED_ARXIV_DELAY_SECONDS": "0",
        **extra,
    }


def run_cli(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env_for(settings, **extra)}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


def counts(settings: Settings) -> tuple[int, int]:
    db = sqlite3.connect(settings.data_dir / "paperfeed.db")
    try:
        return (
            db.execute("select count(*) from papers").fetchone()[0],
            db.execute("select count(*) from papers_fts").fetchone()[0],
        )
    finally:
        db.close()


def test_ingest_hf_daily_from_directory_then_rerun_changes_nothing(settings, engine) -> None:
    runner = CliRunner()
    args = ["ingest", "hf-daily", "--from", str(FIXTURES / "hf"), "--no-progress"]
    first = runner.invoke(app, args, env=env_for(settings))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1].startswith("57 new, 0 updated, 0 unchanged, 0 rejected, 57 newly")
    second = runner.invoke(app, args, env=env_for(settings))
    assert second.stdout.strip().splitlines()[-1] == (
        "0 new, 0 updated, 57 unchanged, 0 rejected, 0 newly featured"
    )


def test_ingest_jsonl_prints_rejected_lines_and_summary(settings, engine, tmp_path: Path) -> None:
    good = (FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl").read_bytes().splitlines()[:3]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join([good[0], b"{oops", *good[1:]]) + b"\n")
    result = CliRunner().invoke(app, ["ingest", "jsonl", str(path)], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "rejected: jsonl: in.jsonl line 2: not JSON" in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("3 new, 0 updated, 0 unchanged, 1 rejected")


@pytest.mark.parametrize("command, name, content", [
    ("jsonl", "papers.jsonl", b'{"garbage\n'),
    ("jsonl", "feed.xml", b"<?xml version='1.0'?><feed>not json lines</feed>\n"),
    ("hf-daily", "2026-08-20.json", b"not json at all\n"),
    ("hf-daily", "2026-08-21.json", b'{"not": "a list of daily papers"}'),
])
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_ingest_of_a_source_with_nothing_readable_fails_in_one_line(
    request: pytest.FixtureRequest, tmp_path: Path, db: str, command: str, name: str,
    content: bytes,
) -> None:
    """A malformed file (every record rejected, none read) is an error a cron job sees: exit
    1 and one line naming the file and why, not `0 new ... 1 rejected` and exit 0."""
    site = request.getfixturevalue("pg_settings" if db == "postgres" else "settings")
    if db == "sqlite":
        request.getfixturevalue("engine")  # migrated
    else:
        from paperfeed.storage.db import connect, migrate

        pg = connect(site)
        migrate(pg)
        pg.dispose()
    path = tmp_path / name
    path.write_bytes(content)
    args = ["ingest", command, *(["--from"] if command == "hf-daily" else []), str(path),
            "--no-progress", "--no-index"]
    env = env_for(site, PAPERFEED_DATABASE_URL=site.database_url or "")
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ingest: "), result.stderr
    assert name in lines[0] and "nothing" in lines[0]


def test_ingest_without_a_source_is_one_line_error_and_exit_1(settings, engine) -> None:
    done = run_cli(settings, "ingest", "hf-daily")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: ingest: give either --from PATH or --since DAY [--until DAY]"


def test_ingest_missing_file_is_one_line_error(settings, engine, tmp_path: Path) -> None:
    done = run_cli(settings, "ingest", "hf-daily", "--from", str(tmp_path / "nope"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("nope does not exist")


def test_ingest_refuses_an_unmigrated_database(settings) -> None:
    from paperfeed.storage.db import connect

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    engine.connect().close()  # an empty database file: schema not created
    engine.dispose()
    done = run_cli(settings, "ingest", "jsonl", str(FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl"))
    assert done.returncode == 1 and "paperfeed migrate" in done.stderr


def test_sigkill_mid_ingest_keeps_committed_batches_and_rerun_completes(
    settings, engine, tmp_path: Path
) -> None:
    template = json.loads((FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl").read_bytes().splitlines()[0])
    total = 4000
    path = tmp_path / "many.jsonl"
    with path.open("w") as out:
        for i in range(total):
            out.write(json.dumps({**template, "id": f"2503.{i:05d}", "title": f"Paper {i}"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env_for(settings, PAPERFEED_INGEST_BATCH_SIZE="200")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "ingest", "jsonl", str(path), "--no-progress", "--no-index"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    partial = (0, 0)
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            partial = counts(settings)
        except sqlite3.OperationalError:
            partial = (0, 0)
        if partial[0] >= 400:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("ingest finished before it could be interrupted; raise `total`")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    papers, fts = counts(settings)
    assert 400 <= papers < total and papers % 200 == 0  # whole batches only
    assert fts == papers
    again = run_cli(settings, "ingest", "jsonl", str(path), "--no-progress", "--no-index")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1].startswith(
        f"{total - papers} new, 0 updated, {papers} unchanged, 0 rejected"
    )
    assert counts(settings) == (total, total)


def test_ingest_oai_and_arxiv_ids_through_the_cli(settings, engine) -> None:
    import httpx
    import respx

    runner = CliRunner()
    with respx.mock:
        respx.get("https://oaipmh.arxiv.org/oai").mock(
            return_value=httpx.Response(200, content=(FIXTURES / "oai" / "list_records_arxivraw.xml").read_bytes())
        )
        respx.get("https://export.arxiv.org/api/query").mock(
            return_value=httpx.Response(200, content=(FIXTURES / "arxiv" / "query_missing_id.xml").read_bytes())
        )
        oai = runner.invoke(
            app, ["ingest", "oai", "--set", "physics:nucl-ex", "--format", "arXivRaw", "--no-progress"],
            env=env_for(settings),
        )
        ids = runner.invoke(
            app, ["ingest", "arxiv", "--id", "2201.13452", "--id", "2201.13455", "--no-progress"],
            env=env_for(settings),
        )
    assert oai.exit_code == 0, oai.output
    assert oai.stdout.strip().splitlines()[-1].startswith("2 new, 0 updated")
    assert ids.exit_code == 0, ids.output
    assert "rejected: arxiv: no paper with id 2201.13455" in ids.stderr
    assert ids.stdout.strip().splitlines()[-1].startswith("1 new, 0 updated, 0 unchanged, 1 rejected")
