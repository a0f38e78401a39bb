"""One rule for comment counts: the count is this site's visible comments, everywhere (cards,
the paper header, search results, `numComments` in the API); a count imported from Hugging
Face is shown apart, as theirs, linking to their discussion.

On e641f96 a paper imported with one Hugging Face comment said "1 comment" on its card and
header while its page said "No comments yet", and "2 comments" after one local comment.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.storage import comments as comment_store
from paperfeed.storage import users
from paperfeed.storage.db import write
from tests.feed_factories import feature, paper

PID = "2506.01111"
HF_LINK = f'href="https://huggingface.co/papers/{PID}#community"'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"page_cache_seconds": 0, "api_cache_seconds": 0})  # comments added via storage


def _card(page: str) -> str:
    m = re.search(r'<article class="paper-card".*?</article>', page, re.S)
    assert m, page
    return m.group(0)


def _header(page: str) -> str:
    m = re.search(r'<header class="paper-header">.*?</header>', page, re.S)
    assert m, page
    return m.group(0)


def _counts(client: TestClient) -> tuple[str, str, str, int, int]:
    home = _card(client.get("/").text)
    page = client.get(f"/papers/{PID}").text
    comments = page[page.index('<section id="comments"'):]
    daily = client.get("/api/daily_papers", params={"date": "2025-06-16"}).json()
    info = client.get(f"/api/papers/{PID}").json()
    return home, _header(page), comments, daily[0]["numComments"], info["numComments"]


def test_comment_counts_are_local_and_the_hugging_face_count_is_shown_apart(
    client: TestClient, engine: Engine
) -> None:
    feature(engine, [paper(PID, comments=3)], date(2025, 6, 16))  # 3 comments on HF
    card, header, section, daily_n, info_n = _counts(client)
    assert "3 comments on Hugging Face" in card and HF_LINK in card
    assert not re.search(r">\d+ comments?</a>", card)  # no local count: there is none
    assert '<a href="#comments">0 comments</a>' in header
    assert "3 comments on Hugging Face" in header and HF_LINK in header
    assert "No comments yet." in section and HF_LINK in section
    assert daily_n == info_n == 0

    with write(engine) as conn:
        member = users.create_user(conn, email="ada@example.org", now=utcnow())
        comment_store.add_comment(conn, paper_id=PID, user_id=member.id, body="Nice.",
                                  now=utcnow())
    card, header, section, daily_n, info_n = _counts(client)
    assert f'<a class="comments" href="/papers/{PID}#comments">1 comment</a>' in card
    assert "3 comments on Hugging Face" in card
    assert '<a href="#comments">1 comment</a>' in header
    assert section.count('class="comment"') == 1
    assert daily_n == info_n == 1


def test_search_results_count_local_comments_too(client: TestClient, engine: Engine) -> None:
    feature(engine, [paper(PID, title="Frobnicated widgets for comment counting", comments=2)],
            date(2025, 6, 16))
    page = client.get("/search", params={"q": "frobnicated widgets"}).text
    card = _card(page)
    assert "2 comments on Hugging Face" in card
    assert 'class="comments"' not in card
    hit = client.get("/api/papers/search", params={"q": "frobnicated widgets"}).json()
    assert hit[0]["numComments"] == 0
