"""An instance fed from arXiv alone: after `paperfeed ingest jsonl` of real arXiv listings the
home page shows the newest day's papers, labelled "New on arXiv", not the empty-site page.

On e641f96 `/` said "No papers yet" after importing 5,000 papers: lists showed featured papers
only, and nothing features a paper until a member submits it or a rule is configured.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.models import Featured, utcnow
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import add_featured
from paperfeed.storage.schema import papers
from paperfeed.web.app import create_app
from tests.conftest import shared_data

CARD = re.compile(r'<article class="paper-card"')


def _ingest(settings: Settings, file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paperfeed init` then `paperfeed ingest jsonl FILE`, as the README says."""
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    assert runner.invoke(cli_app, ["init"]).exit_code == 0
    result = runner.invoke(cli_app, ["ingest", "jsonl", str(file), "--no-index", "--no-progress"])
    assert result.exit_code == 0, result.output


def _day_count(engine: Engine, day: date) -> int:
    start = datetime.combine(day, datetime.min.time())
    with engine.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(papers).where(
                papers.c.published_at >= start,
                papers.c.published_at < datetime.combine(day, datetime.max.time()))
        ).scalar_one())


def _heading_day(page: str) -> str:
    m = re.search(r'<link rel="canonical" href="[^"]*/papers/date/(\d{4}-\d\d-\d\d)', page)
    assert m, page[:2000]
    return m.group(1)


@pytest.fixture(scope="module")
def arxiv_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Engine]]:
    """The real 5,000-paper arXiv sample, ingested once for the module."""
    sample = shared_data("arxiv-cs/sample_5000.jsonl.gz")
    root = tmp_path_factory.mktemp("arxiv-only")
    settings = Settings(data_dir=root / "data", environment="development",
                        secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                        base_url="http://testserver", page_cache_seconds=0)
    with pytest.MonkeyPatch.context() as mp:
        _ingest(settings, sample, mp)
    engine = connect(settings)
    with TestClient(create_app(settings)) as client:
        yield client, engine
    engine.dispose()


def test_home_of_an_arxiv_only_instance_shows_the_newest_days_papers_labelled(
    arxiv_site: tuple[TestClient, Engine],
) -> None:
    client, engine = arxiv_site
    page = client.get("/").text
    assert "No papers yet" not in page
    assert "<title>New on arXiv:" in page and "<strong>New on arXiv.</strong>" in page
    day = date.fromisoformat(_heading_day(page))
    n = _day_count(engine, day)
    assert n > 0 and len(CARD.findall(page)) == min(n, 50)
    assert f"these are the {n} papers that appeared on arXiv that day" in page
    assert re.search(r"in the categories this site follows \(cs\.\w+", page)
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(papers.c.published_at))).scalar_one()
    assert day == newest.date()  # the newest day (the sample ends before today)


def test_arxiv_only_days_weeks_and_sorts_navigate(arxiv_site: tuple[TestClient, Engine]) -> None:
    client, engine = arxiv_site
    home = client.get("/").text
    prev = re.search(r'<a class="nav-prev" href="(/papers/date/[\d-]+)"', home)
    assert prev, "no link to the previous day"
    earlier = client.get(prev.group(1)).text
    assert "<strong>New on arXiv.</strong>" in earlier
    assert len(CARD.findall(earlier)) == min(
        _day_count(engine, date.fromisoformat(prev.group(1).rsplit("/", 1)[1])), 50)
    newest = client.get(prev.group(1), params={"sort": "publishedAt"}).text
    assert "newest first" in newest and len(CARD.findall(newest)) == len(CARD.findall(earlier))
    week = client.get("/papers/week/2025-W27").text
    assert "<strong>New on arXiv.</strong>" in week and "in this week" not in week
    assert len(CARD.findall(week)) == 50 and "Next page" in week
    # A day with nothing at all still says so.
    assert "No papers were featured on this day" in client.get("/papers/date/2020-01-01").text
    _last_periods_answer(client)


def _last_periods_answer(client: TestClient) -> None:
    """The last day, week and month of the calendar are empty periods, not a 500: the new
    papers' query used to add a day past 9999-12-31 (OverflowError)."""
    for path in ("/papers/date/9999-12-31", "/papers/week/9999-W52", "/papers/month/9999-12",
                 "/papers/date/9999-12-31?sort=publishedAt", "/papers/date/9999-12-31.rss",
                 "/papers/date/0001-01-01", "/papers/week/0001-W01", "/papers/month/0001-01",
                 "/calendar/9999-12", "/calendar/0001-01"):
        response = client.get(path)
        assert response.status_code < 500, (path, response.text[:300])


def test_a_curated_list_replaces_the_new_papers_only_on_its_own_day(
    arxiv_site: tuple[TestClient, Engine], request: pytest.FixtureRequest
) -> None:
    """A member's submission weeks ago must not pin the home page to that stale day."""
    client, engine = arxiv_site
    day = date.fromisoformat(_heading_day(client.get("/").text))
    with engine.connect() as conn:
        old = conn.execute(select(papers.c.id).order_by(papers.c.published_at)).first()
    assert old is not None
    with write(engine) as conn:
        add_featured(conn, [Featured(old.id, date(2025, 5, 2), submitted_at=utcnow(),
                                     source="member")], now=utcnow())
    home = client.get("/").text
    assert _heading_day(home) == day.isoformat() and "New on arXiv" in home
    curated = client.get("/papers/date/2025-05-02").text
    assert "New on arXiv" not in curated and len(CARD.findall(curated)) == 1
    assert f"/papers/{old.id}" in curated


@pytest.fixture
def small_sample(tmp_path: Path) -> Path:
    """The first 600 papers of the real sample (a quicker load for PostgreSQL)."""
    source = shared_data("arxiv-cs/sample_5000.jsonl.gz")
    out = tmp_path / "sample_600.jsonl"
    with gzip.open(source, "rt", encoding="utf-8") as src:
        out.write_text("".join(line for _, line in zip(range(600), src, strict=False)))
    return out


def test_arxiv_only_home_on_postgresql(
    pg_settings: Settings, small_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pg_settings.model_copy(update={"page_cache_seconds": 0})
    _ingest(settings, small_sample, monkeypatch)
    engine = connect(settings)
    migrate(engine)
    try:
        with TestClient(create_app(settings)) as client:
            page = client.get("/").text
            assert "<strong>New on arXiv.</strong>" in page
            day = date.fromisoformat(_heading_day(page))
            assert len(CARD.findall(page)) == min(_day_count(engine, day), 50) > 0
            prev = re.search(r'<a class="nav-prev" href="(/papers/date/[\d-]+)"', page)
            assert prev and "New on arXiv" in client.get(prev.group(1)).text
            _last_periods_answer(client)
    finally:
        engine.dispose()


def test_arxiv_only_feeds_carry_what_the_pages_show(arxiv_site: tuple[TestClient, Engine]) -> None:
    """A feed reader following /papers.rss (found on the home page) or a day's feed gets the
    same new papers as the page, labelled as such, not an empty channel (on e641f96 and
    until this test, every list feed of an arXiv-only instance was empty)."""
    import feedparser

    client, engine = arxiv_site
    home = client.get("/").text
    day = date.fromisoformat(_heading_day(home))
    expected = min(_day_count(engine, day), 50)
    for path in ("/papers.rss", "/papers.atom", f"/papers/date/{day.isoformat()}.atom"):
        doc = feedparser.parse(client.get(path).content)
        assert not doc.bozo, (path, doc.bozo_exception)
        assert len(doc.entries) == expected, path
        assert "New on arXiv" in doc.feed.subtitle, (path, doc.feed.subtitle)
        page_ids = re.findall(r'<article class="paper-card"[^>]*>.*?href="/papers/([^"/]+)"',
                              home, flags=re.S)
        assert [e.link.rsplit("/", 1)[1] for e in doc.entries] == page_ids, path
    week = feedparser.parse(client.get("/papers/week/2025-W27.rss").content)
    assert len(week.entries) == 50 and "New on arXiv" in week.feed.subtitle
    trending = feedparser.parse(client.get("/papers/trending.atom").content)
    assert len(trending.entries) == 50
    # A day with nothing at all stays an empty feed, not an error.
    assert feedparser.parse(client.get("/papers/date/2020-01-01.rss").content).entries == []


def test_arxiv_only_digest_sends_the_new_papers_labelled(
    arxiv_site: tuple[TestClient, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The home page's subscribe box promises mail: a subscriber of an arXiv-only instance gets
    the edition's new arXiv papers, labelled as such (until this test: "no featured papers,
    nothing sent", for ever)."""
    import email
    from email import policy

    client, engine = arxiv_site
    day = date.fromisoformat(_heading_day(client.get("/").text))
    data_dir = Path(str(engine.url.database)).parent
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PAPERFEED_ENVIRONMENT", "development")
    monkeypatch.setenv("PAPERFEED_BASE_URL", "http://testserver")
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "test-secret-key-for-paperfeed-tests")
    runner = CliRunner()
    added = runner.invoke(cli_app, ["subscribers", "add", "arxiv-reader@example.org",
                                    "--frequency", "daily", "--confirmed"])
    assert added.exit_code == 0, added.output
    preview = runner.invoke(cli_app, ["digest", "preview", "--edition", day.isoformat()])
    assert preview.exit_code == 0, preview.output
    assert "New on arXiv" in preview.output
    sent = runner.invoke(cli_app, ["digest", "send", "--frequency", "daily",
                                   "--edition", day.isoformat()])
    assert sent.exit_code == 0, sent.output
    [eml] = [f for f in (data_dir / "outbox").rglob("*.eml")
             if "arxiv-reader@example.org" in f.read_text(errors="replace")]
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(message["Subject"]).startswith("New on arXiv")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "New on arXiv" in text and "trending papers" not in text
    n = _day_count(engine, day)
    assert text.count("http://testserver/papers/") >= min(n, 10)
