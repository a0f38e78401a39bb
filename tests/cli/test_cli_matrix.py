"""Every CLI command end to end, as a user runs them, on SQLite, on PostgreSQL with pgvector
and on PostgreSQL without it (`PAPERFEED_VECTOR_BACKEND=files`).

One story per backend, in the order an operator meets the commands: init, migrate, config,
init --demo (the one demo load of the backend), ingest from each kind of file and from each
network source (recorded answers on loopback-free mocks), index, index --import, search in
every mode, user ..., subscribers ..., rules apply, digest preview / send (to a real SMTP
server, then to the outbox without one), outbox, eval retrieval. Each step runs the Typer app with the backend's environment
variables and must exit 0 with no traceback, so the next method missing on one backend fails
here. The steps share one database, so they are one test per backend (xdist cannot split
them) rather than tests that depend on each other's order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.search.embed import model_info
from paperfeed.search.indexing import export_vectors
from paperfeed.storage.db import connect
from tests.conftest import FIXTURES, pg_database
from tests.digests.smtp_sink import Sink, SinkServer

BACKENDS = [
    "sqlite",
    pytest.param("postgres-pgvector", marks=pytest.mark.postgres),
    pytest.param("postgres-files", marks=pytest.mark.postgres),
]
DEMO_DAY = "2026-08-20"  # a day of the bundled demo corpus


@dataclass
class Shell:
    """A user's terminal: environment variables and the commands typed so far."""

    env: dict[str, str]
    data_dir: Path
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, fails: bool = False, **extra_env: str) -> Any:
        result = CliRunner().invoke(app, list(args), env={**self.env, **extra_env})
        shown = f"$ paperfeed {' '.join(args)}\n{result.output}"
        self.log.append(shown)
        assert "Traceback" not in result.output, shown
        if fails:
            assert result.exit_code == 1, shown
            lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), shown
        else:
            assert result.exit_code == 0, f"{shown}\n{result.exception!r}"
        return result

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.env.get("PAPERFEED_DATABASE_URL"),
            environment="development",
            secret_key=self.env["PAPERFEED_SECRET_KEY"],  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Sink, int]]:
    with SinkServer() as server:
        yield server.sink, server.port


@pytest.fixture(params=BACKENDS)
def shell(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Sink, int]
) -> Iterator[Shell]:
    env = {
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_ENVIRONMENT": "development",
        "PAPERFEED_SECRET_KEY": "cli-matrix-secret-key-0123456789abcdef",
        "PAPERFEED_ARXIV_DELAY_SECONDS": "0",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(smtp[1]),
        "PAPERFEED_MAIL_FROM": "paperfeed@example.org",
        "PAPERFEED_AUTO_FEATURE_RULES": '[{"category": "cs.CV", "max_age_days": 100000}]',
    }
    with ExitStack() as stack:
        if request.param.startswith("postgres"):
            server = request.getfixturevalue("pg_server_url")
            env["PAPERFEED_DATABASE_URL"] = stack.enter_context(pg_database(server))
            env["PAPERFEED_VECTOR_BACKEND"] = (
                "files" if request.param == "postgres-files" else "pgvector"
            )
        shell = Shell(env=env, data_dir=tmp_path / "data")
        yield shell
        for engine_url in [env.get("PAPERFEED_DATABASE_URL")]:
            if engine_url:  # close what the commands left pooled before the drop
                connect(shell.settings()).dispose()


def _last(result: Any) -> str:
    return result.stdout.strip().splitlines()[-1]


def _summary(result: Any) -> str:
    """An ingest's `N new, N updated, N unchanged, N rejected` line."""
    return next(ln for ln in result.stdout.splitlines() if re.match(r"\d+ new, ", ln))


def test_every_cli_command_works_end_to_end(
    shell: Shell, smtp: tuple[Sink, int], tmp_path: Path
) -> None:
    setup(shell)
    ingest_each_kind(shell)
    index_and_import(shell, tmp_path)
    search_every_mode(shell)
    members(shell)
    digests(shell, smtp[0])
    alerts(shell, smtp[0], tmp_path)
    rules_and_eval(shell, tmp_path)


def setup(sh: Shell) -> None:
    assert "database ready at revision" in sh.run("init").stdout
    assert "schema already at" in sh.run("migrate").stdout
    config = sh.run("config").stdout
    assert "PAPERFEED_SECRET_KEY=***" in config or "SECRET_KEY=" in config
    assert "cli-matrix-secret-key" not in config  # redacted
    demo = sh.run("init", "--demo")
    assert re.search(r"demo corpus: 2926 new", demo.stdout), demo.output
    again = sh.run("init", "--demo")  # a second run skips the import
    assert "2926 new" not in again.stdout


def ingest_each_kind(sh: Shell) -> None:
    hf = sh.run("ingest", "hf-daily", "--from", str(FIXTURES / "hf" / "2024-05-27.json"),
                "--no-progress")
    assert _summary(hf).startswith("13 new"), hf.output
    assert "index:" in hf.stderr  # the post-ingest step embedded them
    sample = sh.run("ingest", "jsonl", str(FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl"),
                    "--no-progress", "--no-index")
    assert re.match(r"\d+ new", _summary(sample)), sample.output
    kaggle = sh.run("ingest", "jsonl", str(FIXTURES / "snapshot" / "kaggle_snapshot_sample.json"),
                    "--no-progress", "--no-index")
    assert "rejected" in _summary(kaggle)
    import respx

    with respx.mock:
        respx.get("https://huggingface.co/api/daily_papers").mock(
            return_value=httpx.Response(200, content=(FIXTURES / "hf" / "2025-06-16.json").read_bytes())
        )
        respx.get("https://export.arxiv.org/api/query").mock(
            return_value=httpx.Response(200, content=(FIXTURES / "arxiv" / "query_doc.xml").read_bytes())
        )
        respx.get("https://oaipmh.arxiv.org/oai").mock(
            return_value=httpx.Response(200, content=(FIXTURES / "oai" / "list_records_arxivraw.xml").read_bytes())
        )
        live = sh.run("ingest", "hf-daily", "--since", "2025-06-16", "--no-progress", "--no-index")
        assert _summary(live).startswith("9 new"), live.output
        arxiv = sh.run("ingest", "arxiv", "--id", "2206.06921", "--no-progress", "--no-index")
        assert _summary(arxiv).startswith("1 new"), arxiv.output
        oai = sh.run("ingest", "oai", "--set", "physics:nucl-ex", "--format", "arXivRaw",
                     "--no-progress", "--no-index")
        assert re.match(r"[1-9]\d* new", _summary(oai)), oai.output


def index_and_import(sh: Shell, tmp_path: Path) -> None:
    done = sh.run("index", "--no-progress")  # embeds what the --no-index ingests left
    assert re.search(r"\d+ embedded", _last(done)), done.output
    assert re.search(r", 0 embedded", _last(sh.run("index", "--no-progress")))  # resumable
    settings = sh.settings()
    info = model_info(settings.embedding_model)
    engine = connect(settings)
    try:
        ids, matrix = export_vectors(engine, info.model_id, matrix_dim(info), ["2206.06921"])
    finally:
        engine.dispose()
    assert ids == ["2206.06921"] and matrix.shape[0] == 1
    np.save(tmp_path / "vectors.npy", matrix)
    (tmp_path / "ids.txt").write_text("2206.06921\n", encoding="utf-8")
    (tmp_path / "model.txt").write_text(info.model_id, encoding="utf-8")
    imported = sh.run("index", "--import", str(tmp_path / "vectors.npy"),
                      "--ids", str(tmp_path / "ids.txt"), "--no-progress")
    assert "1 vectors imported" in imported.stdout, imported.output
    (tmp_path / "ids.txt").write_text("2299.99999\n", encoding="utf-8")
    bad = sh.run("index", "--import", str(tmp_path / "vectors.npy"), "--ids",
                 str(tmp_path / "ids.txt"), "--no-progress", fails=True)
    assert "not in the catalog" in bad.stderr


def matrix_dim(info: Any) -> int:
    return int(info.dim or 384)


def search_every_mode(sh: Shell) -> None:
    title = "AutoCoder: Enhancing Code Large Language Model with AIEV-Instruct"
    for mode in ("hybrid", "keyword", "semantic"):
        found = sh.run("search", "code generation with large language models",
                       "--mode", mode, "--limit", "5")
        assert f"({mode} search)" in found.stderr, found.output
        assert len(found.stdout.strip().splitlines()) == 5
    exact = sh.run("search", title, "--json", "--limit", "3")
    first = json.loads(exact.stdout.splitlines()[0])
    assert first["id"] == "2405.14906" and first["rank"] == 1
    # a paper ingested above from a file is found by meaning (it was embedded on ingest)
    semantic = sh.run("search", "automatic programming assistant trained on verified code",
                      "--mode", "semantic", "--json", "--limit", "10")
    assert "2405.14906" in {json.loads(x)["id"] for x in semantic.stdout.splitlines()}
    assert sh.run("search", "x", "--mode", "nonsense", fails=True)


def members(sh: Shell) -> None:
    created = sh.run("user", "create", "ada@example.org", "--username", "ada")
    assert "created member ada <ada@example.org>" in created.stdout
    sh.run("user", "create", "root@example.org", "--admin")
    assert "is now moderator" in sh.run("user", "set-role", "ada@example.org", "moderator").stdout
    token = sh.run("user", "token", "ada@example.org").stdout.strip()
    assert len(token) >= 20
    assert "banned" in sh.run("user", "ban", "ada", "--reason", "spam").stdout
    assert "unbanned" in sh.run("user", "ban", "ada", "--reason", "ok", "--unban").stdout
    sh.run("user", "set-role", "nobody@example.org", "admin", fails=True)
    sh.run("subscribers", "add", "reader@example.org", "--confirmed")
    sh.run("subscribers", "add", "weekly@example.org", "--frequency", "weekly")
    listed = sh.run("subscribers", "list").stdout
    assert "reader@example.org\tdaily\tconfirmed" in listed
    assert "weekly@example.org\tweekly\tpending" in listed
    assert "removed weekly@example.org" in sh.run("subscribers", "remove", "weekly@example.org").stdout


def digests(sh: Shell, sink: Sink) -> None:
    html = sh.run("digest", "preview", "--edition", DEMO_DAY).stdout
    assert "<html" in html.lower() and "/papers/" in html
    before = len(sink.messages)
    sent = sh.run("digest", "send", "--frequency", "daily", "--edition", DEMO_DAY)
    mine = [m for m in sink.messages[before:] if "reader@example.org" in m.rcpt]
    assert len(mine) == 1, sent.output
    sh.run("digest", "send", "--frequency", "daily", "--edition", DEMO_DAY)  # exactly once
    assert len([m for m in sink.messages[before:] if "reader@example.org" in m.rcpt]) == 1
    # without an SMTP server (development) mail goes to the outbox, which `outbox` reads
    sh.run("digest", "send", "--frequency", "daily", "--edition", "2026-08-19",
           PAPERFEED_SMTP_HOST="")
    listed = sh.run("outbox", "--to", "reader@example.org", PAPERFEED_SMTP_HOST="")
    assert "reader@example.org" in listed.stdout and "19 August 2026" in listed.stdout
    links = sh.run("outbox", "--to", "reader@example.org", "--links", PAPERFEED_SMTP_HOST="")
    assert any("/unsubscribe" in link for link in links.stdout.splitlines())


def alerts(sh: Shell, sink: Sink, tmp_path: Path) -> None:
    """A saved search (made through the service: the CLI has no command for it) gets the new
    paper an ingest brings, by `alerts send`, once."""
    from paperfeed.alerts.searches import create_search
    from paperfeed.models import utcnow
    from paperfeed.storage.users import get_by_email

    sh.run("user", "create", "alice@example.org", "--username", "alice")
    settings = sh.settings()
    engine = connect(settings)
    try:
        with engine.connect() as conn:
            alice = get_by_email(conn, "alice@example.org")
        assert alice is not None
        create_search(engine, settings, alice, query='"gaussian splatting" cat:cs.CV', now=utcnow())
    finally:
        engine.dispose()
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "2607.00001", "title": "Gaussian splatting for cats", "abstract": "Fur.",
         "authors": ["A. B."], "categories": ["cs.CV"], "listing_date": "2026-07-01"},
        {"id": "2607.00002", "title": "Gaussian processes", "abstract": "No splatting here.",
         "authors": ["C. D."], "categories": ["cs.LG"], "listing_date": "2026-07-01"},
    ]))
    ingested = sh.run("ingest", "jsonl", str(new), "--no-progress", "--no-index")
    assert "alerts: 2 new papers matched against saved searches" in ingested.stderr
    listed = sh.run("alerts", "list", "alice@example.org").stdout
    assert "\tdaily\t1 matches\t" in listed, listed
    before = len(sink.messages)
    sh.run("alerts", "send", "--frequency", "daily", "--edition", DEMO_DAY)
    sh.run("alerts", "send", "--frequency", "daily", "--edition", DEMO_DAY)  # exactly once
    mine = [m for m in sink.messages[before:] if "alice@example.org" in m.rcpt]
    assert len(mine) == 1 and b"2607.00001" in mine[0].data and b"2607.00002" not in mine[0].data
    assert "0 new matches" in sh.run("alerts", "match").stdout


def rules_and_eval(sh: Shell, tmp_path: Path) -> None:
    applied = sh.run("rules", "apply")
    assert re.match(r"\d+ papers featured today", applied.stdout), applied.output
    beir = FIXTURES / "beir_tiny"
    out = sh.run("eval", "retrieval", "--corpus", str(beir / "corpus.jsonl.gz"),
                 "--queries", str(beir / "queries.jsonl"), "--qrels", str(beir / "qrels.tsv"),
                 "--mode", "keyword", "--json", "--cache-dir", str(tmp_path / "cache"))
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert metrics["ndcg@10"] > 0


def test_cli_turns_an_unexpected_exception_into_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import paperfeed.cli.admin as admin

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("'PgVectorIndex' object has no attribute 'bulk'")

    monkeypatch.setattr(admin, "migrate", broken)
    sh = Shell(env={"PAPERFEED_DATA_DIR": str(tmp_path / "d"),
                    "PAPERFEED_SECRET_KEY": "x" * 40}, data_dir=tmp_path / "d")
    result = sh.run("migrate", fails=True)
    assert "AttributeError" in result.stderr and "PAPERFEED_TRACEBACK=1" in result.stderr
    monkeypatch.undo()
    # an unreachable database is an error message, not a traceback either
    down = sh.run("migrate", fails=True,
                  PAPERFEED_DATABASE_URL="postgresql+psycopg://u@/nodb?host=/nonexistent")
    assert "PAPERFEED_DATABASE_URL" in down.stderr
