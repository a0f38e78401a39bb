"""One indexer at a time: two `paperfeed index` runs (or the scheduler's post-ingest embed step
and a manual run) never embed the same papers twice, on SQLite and PostgreSQL. The second run
stops at once with one line naming the run that holds the lease; a crashed run's lease is
taken over (at once on the same machine, else when it expires); papers added while a run
embeds are embedded by that run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.embed import Embedder
from paperfeed.search.indexing import INDEX_LEASE, IndexBusy, index_papers
from paperfeed.storage import leases
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from tests.search.conftest import MemoEmbedder, real_papers

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def model() -> MemoEmbedder:
    return MemoEmbedder(Embedder.load(model="minilm-l6-v2"))


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[Settings, Engine]]:
    if request.param == "postgresql":
        settings = request.getfixturevalue("pg_settings")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    with write(engine) as conn:
        upsert_papers(conn, real_papers()[:12], now=utcnow())
    yield settings, engine
    engine.dispose()


class Counting:
    """The real model, counting each paper text it embeds; `hold` makes its first call wait
    (until `go`) after saying it started, so a second run can start meanwhile."""

    def __init__(self, inner: MemoEmbedder, *, hold: bool = False,
                 during: object = None) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.texts: Counter[str] = Counter()
        self.started, self.go = threading.Event(), threading.Event()
        self.hold, self.during = hold, during

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.update(texts)
        if self.hold and not self.started.is_set():
            self.started.set()
            assert self.go.wait(60)
        if callable(self.during):
            during, self.during = self.during, None
            during()
        return self.inner.embed_documents(texts)


def test_a_second_run_stops_at_once_and_nothing_is_embedded_twice(
    store: tuple[Settings, Engine], model: MemoEmbedder,
) -> None:
    settings, engine = store
    first, second = Counting(model, hold=True), Counting(model)
    outcome: dict[str, object] = {}

    def run_first() -> None:
        try:
            outcome["first"] = index_papers(engine, settings, embedder=first, batch_size=4)
        except Exception as error:  # noqa: BLE001 - shown by the assertion below
            outcome["first"] = error

    thread = threading.Thread(target=run_first)
    thread.start()
    try:
        assert first.started.wait(60)
        with pytest.raises(IndexBusy) as busy:
            index_papers(engine, settings, embedder=second, batch_size=4)
    finally:
        first.go.set()
        thread.join(120)
    message = str(busy.value)
    assert "another index run" in message and "\n" not in message
    assert sum(second.texts.values()) == 0
    summary = outcome["first"]
    assert not isinstance(summary, Exception), summary
    assert summary.embedded == 12  # type: ignore[attr-defined]
    assert max(first.texts.values()) == 1
    # the lease is released: the next run is free (and finds nothing to do)
    assert index_papers(engine, settings, embedder=second).embedded == 0


def test_a_crashed_runs_lease_is_taken_over(
    store: tuple[Settings, Engine], model: MemoEmbedder,
) -> None:
    settings, engine = store
    now = utcnow()
    # another machine's run that died an hour ago: its lease has expired
    assert leases.acquire(engine, INDEX_LEASE, "elsewhere/1/2:4242:abc", ttl_seconds=600,
                          now=now - timedelta(hours=1))
    assert index_papers(engine, settings, embedder=Counting(model)).embedded == 12
    # a run on this machine whose process is gone: taken over at once, unexpired or not
    assert leases.acquire(engine, INDEX_LEASE, _dead_local_holder(), ttl_seconds=600, now=now)
    assert index_papers(engine, settings, embedder=Counting(model)).embedded == 0
    assert leases.lease_of(engine, INDEX_LEASE, now=utcnow()) is None


def _dead_local_holder() -> str:
    import subprocess
    import sys

    from paperfeed.digests.send import machine_key

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return f"{machine_key()}:{int(child.stdout)}:dead"


def test_papers_added_during_a_run_are_embedded_by_it(
    store: tuple[Settings, Engine], model: MemoEmbedder,
) -> None:
    settings, engine = store
    extra = real_papers()[12:15]

    def add() -> None:
        with write(engine) as conn:
            upsert_papers(conn, extra, now=utcnow())

    summary = index_papers(engine, settings, embedder=Counting(model, during=add), batch_size=4)
    assert summary.embedded == 15


def test_paperfeed_index_says_who_holds_the_lease(
    store: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, engine = store
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development"}
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert leases.acquire(engine, INDEX_LEASE, "otherhost/1/2:777:abc", ttl_seconds=600,
                          now=utcnow())
    result = CliRunner().invoke(app, ["index", "--no-progress"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: index: another index run") and "777" in lines[0]
    assert "otherhost" in lines[0]


def test_an_ingest_beside_a_running_index_stores_its_papers_and_leaves_them_to_it(
    store: tuple[Settings, Engine],
) -> None:
    """The post-ingest step of `paperfeed ingest` or the scheduler while `paperfeed index`
    runs: the papers are stored, the step says who embeds them, nothing fails."""
    from paperfeed.postingest import after_ingest

    settings, engine = store
    assert leases.acquire(engine, INDEX_LEASE, "otherhost/1/2:777:abc", ttl_seconds=600,
                          now=utcnow())
    done = after_ingest(engine, settings, alerts=False)
    assert done.embedded == 0 and not done.warnings
    assert any("another index run (process 777 on otherhost)" in line for line in done.lines)
