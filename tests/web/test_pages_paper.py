"""The paper page and the 404 page through the real app."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update

from paperfeed.models import utcnow
from paperfeed.storage.db import write
from paperfeed.storage.schema import papers
from tests.feed_factories import feature, paper

D = date(2025, 6, 16)


def test_paper_page_shows_everything_a_reader_needs(client, engine):
    feature(engine, [paper(
        "2506.11924", title="Aligned Novel View Synthesis",
        abstract="We introduce a diffusion-based framework. " * 20 + "THE END.",
        authors=["Min-Seop Kwak", "Junho Kim"], upvotes=20, comments=3,
        github_repo="https://github.com/cvlab-kaist/MoAI",
        project_page="https://cvlab-kaist.github.io/MoAI/",
        published=datetime(2024, 6, 13, 16, 19),
    )], D, submitter="bracio9623", fullname="Bracio")
    r = client.get("/papers/2506.11924")
    assert r.status_code == 200
    html = r.text
    assert '<h1 id="paper-title">Aligned Novel View Synthesis</h1>' in html
    assert "THE END." in html  # full abstract, not clamped server-side
    assert '<li><a href="/authors/Min-Seop%20Kwak">Min-Seop Kwak</a></li>' in html
    assert '<li><a href="/authors/Junho%20Kim">Junho Kim</a></li>' in html
    assert "2 authors" in html
    assert 'href="https://arxiv.org/abs/2506.11924"' in html
    assert 'href="https://arxiv.org/pdf/2506.11924"' in html
    assert 'href="https://github.com/cvlab-kaist/MoAI"' in html
    assert 'href="https://cvlab-kaist.github.io/MoAI/"' in html
    assert '<li class="primary">cs.LG</li>' in html
    assert 'Featured on <a href="/papers/date/2025-06-16">' in html
    assert '<a class="submitter" href="/users/bracio9623">Bracio</a>' in html
    assert '<span class="upvote-count">20</span>' in html
    assert "3 comments" in html
    assert "Jun 13, 2024" in html


def test_paper_page_accepts_old_style_ids(client, engine):
    feature(engine, [paper("hep-th/9901001", title="Old style paper")], D)
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200 and "Old style paper" in r.text
    assert 'href="https://arxiv.org/abs/hep-th/9901001"' in r.text
    listing = client.get("/papers/date/2025-06-16").text
    assert 'href="/papers/hep-th/9901001"' in listing


def test_versioned_ids_redirect_to_the_paper(client, engine):
    feature(engine, [paper("2506.11924")], D)
    r = client.get("/papers/2506.11924v3", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/papers/2506.11924"
    r = client.get("/papers/hep-th/9901001v2", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/papers/hep-th/9901001"


def test_unknown_hidden_and_malformed_ids_get_the_404_page(client, engine):
    feature(engine, [paper("2506.00001"), paper("2506.00002")], D)
    with write(engine) as conn:
        conn.execute(update(papers).where(papers.c.id == "2506.00002").values(hidden=True))
    for url in ("/papers/2501.99999", "/papers/2506.00002", "/papers/not-an-id",
                "/papers/foo/bar", "/no/such/page"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "Page not found" in r.text
        assert 'action="/search"' in r.text and 'href="/"' in r.text


def test_unsafe_link_schemes_are_not_rendered(client, engine):
    feature(engine, [paper("2506.00001", github_repo="javascript:alert(1)",
                           project_page="data:text/html,hi")], D)
    html = client.get("/papers/2506.00001").text
    assert "javascript:" not in html and "data:text" not in html


def test_paper_page_year_rule(client, engine):
    year = utcnow().year
    feature(engine, [paper("2506.00001", published=datetime(year, 2, 20))], D)
    assert f'<time datetime="{year}-02-20">Feb 20</time>' in client.get("/papers/2506.00001").text
