"""Saved-search alerts end to end, as an operator runs them: members save searches, real arXiv
papers are ingested with `paperfeed ingest jsonl` (embedded by the bundled model), and
`paperfeed alerts send` / `paperfeed digest send` mail a real SMTP server on loopback. Exactly
the members whose searches match get the new papers, each once; on SQLite and PostgreSQL.

The expected matches are computed here independently of the matcher: phrases and words by
regular expressions over the papers' text, categories from the records, "like this paper" by
brute-force cosine over the stored vectors.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.alerts import searches
from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.models import Member, utcnow
from paperfeed.search.neighbours import open_neighbours
from paperfeed.storage import alerts as astore
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from tests.conftest import FIXTURES
from tests.digests.smtp_sink import SinkServer
from tests.feed_factories import feature, paper

SAMPLE = FIXTURES / "snapshot" / "arxiv_cs_sample.jsonl"
DAY = date(2025, 6, 16)  # a Monday
WEEK = "2025-W25"
PAPER_LINK = re.compile(r"/papers/(\d{4}\.\d{4,5})")


def records() -> list[dict[str, object]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def text_of(r: dict[str, object]) -> str:
    return " ".join([str(r["title"]), str(r["abstract"]), " ".join(r["authors"])])  # type: ignore[arg-type]


@pytest.fixture
def smtp() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def instance(
    request: pytest.FixtureRequest, settings: Settings, smtp: SinkServer, tmp_path: Path
) -> Iterator[tuple[Settings, Engine, dict[str, str]]]:
    base = request.getfixturevalue("pg_settings") if request.param == "postgresql" else settings
    cfg = base.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "paperfeed <a@p.test>",
        "digest_retry_backoff_seconds": 0.01,
    })
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    eng = connect(cfg)
    migrate(eng)
    env = {
        "PAPERFEED_DATA_DIR": str(cfg.data_dir),
        "PAPERFEED_DATABASE_URL": cfg.db_url,
        "PAPERFEED_ENVIRONMENT": "development",
        "PAPERFEED_SECRET_KEY": cfg.secret(),
        "PAPERFEED_BASE_URL": cfg.base_url,
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(smtp.port),
        "PAPERFEED_MAIL_FROM": cfg.mail_from,
    }
    yield cfg, eng, env
    eng.dispose()


NOW_ = datetime(2026, 8, 21, 12)


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def ingest(env: dict[str, str], rows: list[dict[str, object]], path: Path) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli(env, "ingest", "jsonl", str(path), "--no-progress")


def member(engine: Engine, name: str) -> Member:
    with write(engine) as conn:
        return users.create_user(conn, email=f"{name}@example.org", now=utcnow(), username=name)


def papers_in(sink: SinkServer, address: str) -> list[list[str]]:
    """Paper ids linked from each message to `address` (text part), in message order."""
    out = []
    for m in sink.sink.to(address):
        body = m.parse().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        out.append(sorted(set(PAPER_LINK.findall(body))))
    return out


def test_new_papers_reach_exactly_the_members_whose_searches_match_once(
    instance: tuple[Settings, Engine, dict[str, str]], smtp: SinkServer, tmp_path: Path
) -> None:
    cfg, engine, env = instance
    rows = records()
    old, new = rows[:30], rows[30:]
    ingest(env, old, tmp_path / "old.jsonl")

    liked = "2503.13176"  # DeGauss (Gaussian splatting), in the old half
    saved = {
        "ada": dict(query='"gaussian splatting"', delivery="daily"),
        "bob": dict(query="cat:cs.CL", delivery="daily"),
        "cy": dict(query="quantum", delivery="daily"),
        "dee": dict(query="biometric", delivery="weekly"),
        "eve": dict(query="backdoor", delivery="digest"),
        "fay": dict(like=liked, delivery="daily"),
        "gus": dict(query='"gaussian splatting"', delivery="daily"),  # banned below
        "ivy": dict(query='"gaussian splatting"', delivery="none"),  # feed only
    }
    people = {name: member(engine, name) for name in saved}
    for name, spec in saved.items():
        searches.create_search(engine, cfg, people[name], now=utcnow(), **spec)  # type: ignore[arg-type]
    with write(engine) as conn:
        users.set_banned(conn, people["gus"].id, True)
        sstore.add(conn, "eve@example.org", "daily", confirmed=True, now=utcnow())
    feature(engine, [paper("2501.00001", title="Something featured")], DAY)

    ingest(env, new, tmp_path / "new.jsonl")  # matches as part of the ingest
    hal = member(engine, "hal")  # saved after the papers arrived: gets none of them
    searches.create_search(engine, cfg, hal, query="diffusion", now=utcnow())

    # The independent expectations.
    splat = sorted(str(r["id"]) for r in new if re.search(r"gaussian\s+splatting", text_of(r), re.I))
    cl = sorted(str(r["id"]) for r in new if "cs.CL" in r["categories"])  # type: ignore[operator]
    bio = sorted(str(r["id"]) for r in new if re.search(r"\bbiometric", text_of(r), re.I))
    backdoor = sorted(str(r["id"]) for r in new if re.search(r"\bbackdoor", text_of(r), re.I))
    assert not [r for r in new if re.search(r"quantum", text_of(r), re.I)]
    nb = open_neighbours(cfg, engine)
    vecs = nb.vectors([liked, *(str(r["id"]) for r in new)])
    like = sorted(pid for pid, v in vecs.items() if pid != liked
                  and float(np.dot(v, vecs[liked])) >= cfg.alerts_like_threshold)
    assert splat and cl and bio and backdoor and like, (splat, cl, bio, backdoor, like)

    out = cli(env, "alerts", "send", "-f", "daily", "--edition", DAY.isoformat())
    assert out.startswith(f"alerts {DAY}: 3 sent, 0 failed"), out
    got = {name: papers_in(smtp, f"{name}@example.org") for name in saved}
    assert got["ada"] == [splat]
    assert got["bob"] == [cl]
    assert got["fay"] == [like]
    for name in ("cy", "dee", "eve", "gus", "ivy"):
        assert got[name] == [], name
    assert papers_in(smtp, "hal@example.org") == []
    first = smtp.sink.to("ada@example.org")[0].parse()
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "gaussian splatting" in first["Subject"].lower() or "1 new" in first["Subject"]

    # Re-running the edition, or the next one, sends nothing again.
    again = cli(env, "alerts", "send", "-f", "daily", "--edition", DAY.isoformat())
    assert again.startswith(f"alerts {DAY}: 0 sent"), again
    cli(env, "alerts", "send", "-f", "daily", "--edition", "2025-06-17")
    assert smtp.sink.count() == 3

    # Weekly alerts, then the digest section.
    cli(env, "alerts", "send", "-f", "weekly", "--edition", WEEK)
    assert papers_in(smtp, "dee@example.org") == [bio]
    cli(env, "digest", "send", "-f", "daily", "--edition", DAY.isoformat())
    digest = smtp.sink.to("eve@example.org")
    assert len(digest) == 1
    body = digest[0].parse().get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "YOUR SAVED SEARCHES" in body and "== backdoor" in body
    assert sorted(set(PAPER_LINK.findall(body.split("YOUR SAVED SEARCHES")[1]))) == backdoor

    # Every match is on the searches' pages (feed-only and banned members' too), once.
    with engine.connect() as conn:
        for name, expected in (("ivy", splat), ("gus", [])):
            rows_ = astore.list_for_user(conn, people[name].id)
            assert sorted(m.paper_id for m in astore.matches_of(conn, rows_[0].id, limit=100)) == expected

    # Matching again (a re-run of the ingest's step) finds nothing new.
    assert "0 new matches" in cli(env, "alerts", "match")


def test_a_double_submitted_saved_search_is_saved_once_on_both_engines(
    instance: tuple[Settings, Engine, dict[str, str]],
) -> None:
    """The "Save search" form sent twice at once (a double click) saved two identical
    searches, each then matched and listed apart: it is one. The same search later, or
    another one at once, is saved as asked."""
    cfg, engine, _env = instance
    ann = member(engine, "ann")
    barrier = threading.Barrier(3)

    def save(_: int) -> int:
        barrier.wait()
        return searches.create_search(engine, cfg, ann, query="diffusion video", now=NOW_)

    with ThreadPoolExecutor(3) as pool:
        ids = set(pool.map(save, range(3)))
    assert len(ids) == 1
    other = searches.create_search(engine, cfg, ann, query="graph networks", now=NOW_)
    later = searches.create_search(engine, cfg, ann, query="diffusion video",
                                   now=NOW_ + timedelta(minutes=5))
    assert len({*ids, other, later}) == 3
    weekly = searches.create_search(engine, cfg, ann, query="diffusion video", delivery="weekly",
                                    now=NOW_ + timedelta(minutes=5))
    assert weekly != later  # another delivery is another search
