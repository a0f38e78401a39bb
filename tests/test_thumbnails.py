"""Thumbnails: page 1 of test PDFs (made by tests/fixtures/pdf/make_pdfs.py) rendered by the
job through the real polite HTTP client against a local server; broken or missing PDFs leave
the generated cover and the job goes on; `/thumbs/{id}` never waits for any of it."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.thumbnails import (
    RETRY_FAILED_DAYS,
    ThumbnailError,
    cover_svg,
    failed_path,
    generate,
    render_first_page,
    render_recent,
    thumb_path,
)
from tests.conftest import FIXTURES
from tests.feed_factories import feature, paper

PDFS = FIXTURES / "pdf"
GOOD = (PDFS / "paper.pdf").read_bytes()
# paper id -> the file the local "arXiv" serves for it (None: 404)
SERVED = {"2608.00001": "paper.pdf", "2608.00002": "truncated.pdf",
          "2608.00003": "not-a-pdf.pdf", "2608.00004": None,
          "2608.00005": "encrypted-garbage.pdf", "2608.00006": "paper.pdf"}


class PdfHandler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests.append(self.path)
        name = SERVED.get(self.path.rsplit("/", 1)[-1])
        if name is None:
            self.send_response(404)
            self.end_headers()
            return
        body = (PDFS / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pdf_server() -> Iterator[str]:
    handler = type("Pdfs", (PdfHandler,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pdf/{{id}}"
    server.shutdown()


def test_first_page_renders_to_a_small_webp():
    data = render_first_page(GOOD)
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP" and image.width == 240
    assert 300 <= image.height <= 320  # US letter proportions
    grey = image.convert("L")
    assert grey.getpixel((5, 5)) > 240  # white margin
    title_band = grey.crop((40, 45, 200, 60))
    assert title_band.getextrema()[0] < 80  # the black title text is there


@pytest.mark.parametrize("name", ["truncated.pdf", "not-a-pdf.pdf", "encrypted-garbage.pdf"])
def test_broken_pdfs_raise_a_clear_error(name):
    with pytest.raises(ThumbnailError, match="thumbnails: "):
        render_first_page((PDFS / name).read_bytes())
    with pytest.raises(ThumbnailError):
        render_first_page(b"")


def test_job_renders_good_pdfs_and_goes_on_past_broken_and_missing_ones(
        engine, settings, pdf_server):
    settings.thumbnail_pdf_url = pdf_server
    settings.http_retries = 0
    feature(engine, [paper(pid) for pid in SERVED], date.today())
    now = datetime.now()
    summary = render_recent(engine, settings, now=now)
    assert (summary.rendered, summary.failed, summary.skipped) == (2, 4, 0), summary.errors
    assert thumb_path(settings, "2608.00001").is_file()
    assert thumb_path(settings, "2608.00006").is_file()  # after four failures in a row
    for pid in ("2608.00002", "2608.00003", "2608.00004", "2608.00005"):
        assert not thumb_path(settings, pid).exists()
        assert failed_path(settings, pid).is_file()
    assert any("404" in e for e in summary.errors)
    # a second run asks for nothing: done ones are kept, failed ones wait RETRY_FAILED_DAYS
    again = render_recent(engine, settings, now=now)
    assert (again.rendered, again.failed, again.skipped) == (0, 0, 6)
    old = (now - timedelta(days=RETRY_FAILED_DAYS + 1)).timestamp()
    os.utime(failed_path(settings, "2608.00004"), (old, old))
    later = render_recent(engine, settings, now=now)
    assert (later.failed, later.skipped) == (1, 5)


def test_job_honours_the_polite_delay(settings):
    calls: list[float] = []

    def fetch(url: str) -> bytes:
        calls.append(time.monotonic())
        return GOOD

    summary = generate(settings, ["2608.00011", "2608.00012"], fetch, now=datetime.now(),
                       limit=1)
    assert summary.rendered == 1 and len(calls) == 1  # --limit bounds the PDFs fetched


def test_thumbs_command_on_sqlite(engine, settings, pdf_server, monkeypatch):
    feature(engine, [paper("2608.00001"), paper("2608.00003")], date.today())
    for key, value in {"PAPERFEED_DATA_DIR": str(settings.data_dir),
                       "PAPERFEED_ENVIRONMENT": "development",
                       "PAPERFEED_ARXIV_DELAY_SECONDS": "0", "PAPERFEED_HTTP_RETRIES": "0",
                       "PAPERFEED_THUMBNAIL_PDF_URL": pdf_server}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["thumbs"])
    assert result.exit_code == 0, result.output
    assert "thumbs: 1 rendered, 1 failed (cover kept), 0 skipped" in result.output


def test_thumbnail_route_serves_the_picture_or_a_cover_at_once(client, engine, settings):
    hostile = '<script>alert(1)</script> & "A $\\mathcal{O}(n)$ title"'
    feature(engine, [paper("2608.00021", title=hostile, authors=["<b>Eve</b>"]),
                     paper("2608.00022", title="Has a picture")], date.today())
    cover = client.get("/thumbs/2608.00021")
    assert cover.status_code == 200
    assert cover.headers["content-type"].startswith("image/svg+xml")
    assert "<script>" not in cover.text and "&lt;script&gt;" in cover.text
    assert "𝒪(n)" in cover.text and "&lt;b&gt;Eve&lt;/b&gt;" in cover.text
    thumb_path(settings, "2608.00022").parent.mkdir(parents=True, exist_ok=True)
    thumb_path(settings, "2608.00022").write_bytes(render_first_page(GOOD))
    picture = client.get("/thumbs/2608.00022")
    assert picture.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(picture.content)).width == 240
    assert client.get("/thumbs/2608.99999").status_code == 404
    assert client.get("/thumbs/..%2F..%2Fetc%2Fpasswd").status_code == 404
    # cards and the paper page point at it
    assert 'src="/thumbs/2608.00021"' in client.get("/papers/2608.00021").text


def test_cover_wraps_long_titles_and_escapes_everything():
    svg = cover_svg("x" * 500 + " <tag>", "A" * 300, "cs.CL<")
    assert "<tag>" not in svg and "cs.CL&lt;" in svg
    assert svg.count("<tspan") <= 6


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def thumbs_site(request, settings, pdf_server, monkeypatch):
    """Settings on either engine (migrated), with the CLI's environment pointing at them and
    at the local "arXiv" PDF server."""
    from paperfeed.storage.db import connect, migrate

    site = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    engine = connect(site)
    migrate(engine)
    for key, value in {"PAPERFEED_DATA_DIR": str(site.data_dir),
                       "PAPERFEED_DATABASE_URL": site.database_url or "",
                       "PAPERFEED_ENVIRONMENT": "development",
                       "PAPERFEED_ARXIV_DELAY_SECONDS": "0", "PAPERFEED_HTTP_RETRIES": "0",
                       "PAPERFEED_THUMBNAIL_PDF_URL": pdf_server}.items():
        monkeypatch.setenv(key, value)
    yield engine
    engine.dispose()


def test_thumbs_command_renders_featured_papers_and_named_ones_on_every_engine(thumbs_site):
    feature(thumbs_site, [paper("2608.00001"), paper("2608.00003")], date.today())
    done = CliRunner().invoke(app, ["thumbs"])
    assert done.exit_code == 0, done.output
    assert "thumbs: 1 rendered, 1 failed (cover kept), 0 skipped" in done.output
    feature(thumbs_site, [paper("2608.00006")], date.today())
    named = CliRunner().invoke(app, ["thumbs", "--id", "arXiv:2608.00006v2"])
    assert named.exit_code == 0 and "thumbs: 1 rendered" in named.output, named.output


@pytest.mark.parametrize("ref", ["0000.00000", "2608.99999", "not an id"])
def test_thumbs_of_a_paper_not_in_the_catalog_is_a_one_line_error(thumbs_site, ref):
    """A mistyped id fetches nothing from arXiv and says so, instead of trying (and retrying)
    a PDF for a paper the site does not have and exiting 0."""
    PdfHandler.requests.clear()
    done = CliRunner().invoke(app, ["thumbs", "--id", "2608.00001", "--id", ref])
    assert done.exit_code == 1, done.output
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "catalog" in lines[0] or "arXiv id" in lines[0]
    assert "Traceback" not in done.output
