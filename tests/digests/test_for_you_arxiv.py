"""The "for you" digest section on an arXiv-only edition (no curated list that day): the
member's picks come from the edition's new arXiv papers, ranked by their model, and reach
them through the real sender and a real SMTP server (aiosmtpd), on SQLite and PostgreSQL.

The store is the demo corpus (real Hugging Face papers with real vectors of the bundled
model); the arXiv-only day is made of arXiv-sourced copies of demo papers (same text, same
vector), published on a day after the archive ends, when no list is featured."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from paperfeed.accounts.voting import set_vote
from paperfeed.config import Settings
from paperfeed.demo import load_demo
from paperfeed.digests.editions import parse_edition
from paperfeed.digests.send import send_edition
from paperfeed.models import Author, Paper
from paperfeed.search.indexing import import_vectors
from paperfeed.search.neighbours import open_neighbours
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage import users
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.schema import papers
from tests.digests.smtp_sink import SinkServer

ARXIV_DAY = date(2026, 9, 8)  # after the demo archive: nothing featured
NOW = datetime(2026, 9, 8, 20, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def mail_settings(request: pytest.FixtureRequest, smtp: SinkServer) -> Iterator[Settings]:
    smtp_update = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                   "mail_from": "paperfeed <digest@papers.test>", "base_url": "http://testserver"}
    if request.param == "sqlite":
        root = Path(tempfile.mkdtemp(prefix="paperfeed-foryou-digest-"))
        yield Settings(data_dir=root / "data", environment="development",
                       secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                       **smtp_update)  # type: ignore[arg-type]
    else:
        pg: Settings = request.getfixturevalue("pg_settings")
        yield pg.model_copy(update=smtp_update)


def _copy_to_arxiv(settings: Settings, engine, sources: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """arXiv-sourced copies of `sources` (text and vector) published on ARXIV_DAY."""
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(papers.c.id, papers.c.title,
                                                     papers.c.abstract, papers.c.authors)
                                              .where(papers.c.id.in_(sources)))}
    ids = [f"2609.{i:05d}" for i in range(len(sources))]
    records = [Paper(id=new, title=rows[src].title, abstract=rows[src].abstract,
                     authors=[Author(a["name"]) for a in rows[src].authors or []],
                     published_at=datetime(2026, 9, 8, 0, 0), categories=["cs.CV"],
                     primary_category="cs.CV", source="arxiv")
               for new, src in zip(ids, sources, strict=True)]
    with write(engine) as conn:
        upsert_papers(conn, records, now=NOW)
    nb = open_neighbours(settings, engine)
    found = nb.vectors(sources)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "v.npy", np.stack([found[s] for s in sources]).astype(np.float32))
        (Path(tmp) / "ids.txt").write_text("\n".join(ids) + "\n")
        import_vectors(engine, settings, Path(tmp) / "v.npy", Path(tmp) / "ids.txt",
                       model_id=nb.model_id)
    return ids


def test_arxiv_only_edition_brings_the_member_their_picks_among_its_new_papers(
    mail_settings: Settings, smtp: SinkServer
) -> None:
    settings = mail_settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    load_demo(engine, settings=settings)
    with engine.connect() as conn:
        titled = conn.execute(select(papers.c.id, papers.c.title)
                              .order_by(papers.c.published_at.desc(), papers.c.id)).all()
    diffusion = [pid for pid, t in titled if "diffusion" in t.lower()]
    other = [pid for pid, t in titled if "diffusion" not in t.lower()
             and "image" not in t.lower() and "video" not in t.lower()]
    liked, copied = diffusion[:8], diffusion[20:30]
    new_ids = _copy_to_arxiv(settings, engine, copied + other[:60])
    copies = dict(zip(new_ids, copied + other[:60], strict=True))
    with write(engine) as conn:
        member = users.create_user(conn, email="reader@example.org", now=NOW,
                                   username="reader")
        sstore.add(conn, "reader@example.org", "daily", confirmed=True, now=NOW)
        sstore.add(conn, "guest@example.org", "daily", confirmed=True, now=NOW)  # no account
    for pid in liked:
        set_vote(engine, settings, member, pid, up=True, ip="127.0.0.1", now=NOW)

    report = send_edition(engine, settings, parse_edition(ARXIV_DAY.isoformat()),
                          clock=lambda: NOW)
    engine.dispose()
    assert report.sent == 2
    mail = smtp.sink.to("reader@example.org")[0].parse()
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "NEW ON ARXIV" in text and "FOR YOU" in text
    section = text.split("FOR YOU", 1)[1].split("NEW ON ARXIV", 1)[0]
    picked = [pid for pid in new_ids if f"/papers/{pid}" in section]
    assert len(picked) == 5, section
    # Picks are the day's new papers, and the member's taste: the diffusion copies.
    assert sum(copies[p] in copied for p in picked) >= 4, section
    guest = smtp.sink.to("guest@example.org")[0].parse()
    assert "FOR YOU" not in guest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
