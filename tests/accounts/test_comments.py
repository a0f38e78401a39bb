from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.accounts.comments import add_comment, render_body
from paperfeed.config import Settings
from paperfeed.storage import comments as comment_store
from paperfeed.web.app import create_app
from tests.members_support import Inbox, add_member, add_paper, csrf, sign_in

PID = "2506.01234"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("see https://example.org/a?b=1&c=2.",
         'see <a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener ugc">'
         "https://example.org/a?b=1&amp;c=2</a>."),
        ('x https://e.org/"onmouseover="alert(1) y',
         'x <a href="https://e.org/" rel="nofollow noopener ugc">https://e.org/</a>'
         "&#34;onmouseover=&#34;alert(1) y"),
        ("javascript:alert(1) and ftp://x.org stay text",
         "javascript:alert(1) and ftp://x.org stay text"),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))",
         '(<a href="https://en.wikipedia.org/wiki/Foo_(bar)" rel="nofollow noopener ugc">'
         "https://en.wikipedia.org/wiki/Foo_(bar)</a>)"),
    ],
)
def test_comment_body_is_escaped_and_only_http_links_become_links(text: str, html: str) -> None:
    assert str(render_body(text)) == html


@pytest.mark.parametrize("text, href", [
    ("see https://evil.example/\u202egro.elpmaxe", "https://evil.example/"),
    ("see https://evil.example/\u2066x\u2069.org", "https://evil.example/"),
    ("see https://goo\u200bgle.com/login", "https://goo"),
    ("see https://example.org/\u200fpath", "https://example.org/"),
])
def test_bidi_and_invisible_characters_end_a_link_and_are_not_shown(text: str, href: str) -> None:
    """A right-to-left override (or any invisible format character) inside a URL made the
    link's text read as another address than its target: the link ends before it, and the
    controls are dropped from the shown text (the stored body keeps them).
    Joiners inside words (emoji sequences, Persian) are kept."""
    html = str(render_body(text))
    # the character that cut the link shows as a visible mark, so the text after it cannot
    # read as the rest of the address
    assert f'<a href="{href}" rel="nofollow noopener ugc">{href}</a>\ufffd' in html
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u200b":
        assert control not in html
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert str(render_body(family)) == family


def _post_comment(client: TestClient, body: str) -> int:
    r = client.post(f"/papers/{PID}/comments",
                    data={"body": body, "csrf_token": csrf(client, f"/papers/{PID}")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.search(r"#comment-(\d+)$", r.headers["location"])
    assert m
    return int(m.group(1))


def test_hostile_comment_is_shown_escaped_on_the_paper_page(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    _post_comment(client, '<img src=x onerror=alert(1)> read https://ok.example/p')
    page = client.get(f"/papers/{PID}").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<a href="https://ok.example/p" rel="nofollow noopener ugc">' in page
    assert "1 comment" in page


def test_comment_counts_in_the_api_num_comments(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    _post_comment(client, "first")
    _post_comment(client, "second")
    assert client.get(f"/api/papers/{PID}").json()["numComments"] == 2


def test_member_edits_and_deletes_own_comment(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    cid = _post_comment(client, "typo teh")
    form = client.get(f"/comments/{cid}/edit")
    assert form.status_code == 200 and "typo teh" in form.text
    token = csrf(client, f"/comments/{cid}/edit")
    r = client.post(f"/comments/{cid}/edit", data={"body": "typo fixed", "csrf_token": token})
    assert r.status_code == 200
    page = client.get(f"/papers/{PID}").text
    assert "typo fixed" in page and "edited" in page
    client.post(f"/comments/{cid}/delete", data={"csrf_token": token})
    assert "typo fixed" not in client.get(f"/papers/{PID}").text


def test_another_members_comment_cannot_be_edited_or_deleted(
    client: TestClient, inbox: Inbox, engine: Engine, settings: Settings, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    cid = _post_comment(client, "mine")
    with TestClient(create_app(settings)) as mallory:
        sign_in(mallory, inbox, "mallory@example.org")
        token = csrf(mallory, f"/papers/{PID}")
        assert mallory.get(f"/comments/{cid}/edit").status_code == 403
        r = mallory.post(f"/comments/{cid}/edit", data={"body": "pwned", "csrf_token": token})
        assert r.status_code == 403
        assert mallory.post(f"/comments/{cid}/delete", data={"csrf_token": token}).status_code == 403
    page = client.get(f"/papers/{PID}").text
    assert "mine" in page and "pwned" not in page


def test_moderator_hides_a_comment_and_it_leaves_count_and_page(
    client: TestClient, inbox: Inbox, engine: Engine, settings: Settings, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    add_member(engine, "mod@example.org", role="moderator")
    sign_in(client, inbox, "ada@example.org")
    cid = _post_comment(client, "spam spam spam")
    # A member cannot hide comments.
    r = client.post(f"/comments/{cid}/hide", data={"csrf_token": csrf(client, f"/papers/{PID}")})
    assert r.status_code == 403
    with TestClient(create_app(settings)) as mod:
        sign_in(mod, inbox, "mod@example.org")
        r = mod.post(f"/comments/{cid}/hide", data={
            "hidden": "1", "reason": "spam", "csrf_token": csrf(mod, f"/papers/{PID}")})
        assert r.status_code == 200
        assert "hidden by moderators" in mod.get(f"/papers/{PID}").text  # moderators still see it
    assert "spam spam spam" not in client.get(f"/papers/{PID}").text
    assert client.get(f"/api/papers/{PID}").json()["numComments"] == 0


def test_comment_without_csrf_token_is_rejected(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    r = client.post(f"/papers/{PID}/comments", data={"body": "hi"})
    assert r.status_code == 403
    assert "hi</div>" not in client.get(f"/papers/{PID}").text


def test_empty_comment_is_refused(
    client: TestClient, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    add_paper(engine, PID, published_at=now)
    sign_in(client, inbox, "ada@example.org")
    r = client.post(f"/papers/{PID}/comments",
                    data={"body": "   ", "csrf_token": csrf(client, f"/papers/{PID}")})
    assert r.status_code == 400


def test_comments_are_rate_limited_per_account(
    settings: Settings, inbox: Inbox, engine: Engine, now: datetime
) -> None:
    settings.comment_limit_per_hour = 2
    add_paper(engine, PID, published_at=now)
    with TestClient(create_app(settings)) as c:
        sign_in(c, inbox, "ada@example.org")
        token = csrf(c, f"/papers/{PID}")
        codes = [c.post(f"/papers/{PID}/comments", data={"body": f"c{i}", "csrf_token": token},
                        follow_redirects=False).status_code for i in range(3)]
        assert codes == [303, 303, 429]


def test_a_double_submitted_comment_is_posted_once_on_both_engines(
    both: tuple[Settings, Engine], now: datetime
) -> None:
    """A double click (or a reload that re-sends the form) sent the same comment twice, at
    once: it is stored once and both answers point at it. The same words later, or other
    words at once, are new comments."""
    settings, engine = both
    add_paper(engine, PID, published_at=now)
    ada = add_member(engine, "ada@example.org")

    def post(body: str, at: datetime) -> int:
        return add_comment(engine, settings, ada, PID, body, ip="127.0.0.1", now=at)

    barrier = threading.Barrier(4)

    def twice(i: int) -> int:
        barrier.wait()
        return post("Same words", now)

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(twice, range(4)))
    assert len(set(ids)) == 1
    assert post("Other words", now) != ids[0]
    assert post("Same words", now + timedelta(minutes=5)) != ids[0]
    with engine.connect() as conn:
        bodies = [c.body for c in comment_store.list_comments(conn, PID)]
    assert bodies == ["Same words", "Other words", "Same words"]
