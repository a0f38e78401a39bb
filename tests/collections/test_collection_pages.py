"""Collection pages and forms through the real app in-process (no JavaScript): save from a card
and from the paper page, notes, move buttons, read marks, sharing, privacy, escaping, CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine

from paperfeed.accounts.signin import SESSION_COOKIE, start_session
from paperfeed.config import Settings
from paperfeed.models import Member, utcnow
from paperfeed.web.app import create_app
from tests.collections.conftest import new_member
from tests.feed_factories import feature, paper

DAY = date(2025, 6, 16)
IDS = ["2506.10001", "2506.10002", "2506.10003"]
EVIL = '<script>alert("x")</script> & "quotes"'
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app_client(backend: Settings, db: Engine) -> Iterator[TestClient]:
    feature(db, [paper(pid, title=f"Paper {pid} on graphs") for pid in IDS], DAY)
    with TestClient(create_app(backend)) as c:
        yield c


def as_member(app_client: TestClient, backend: Settings, db: Engine) -> tuple[TestClient, Member]:
    m = new_member(db, "web")
    c = TestClient(app_client.app)
    c.cookies.set(SESSION_COOKIE, start_session(db, backend, m, now=utcnow()))
    return c, m


def csrf(c: TestClient, path: str) -> str:
    page = c.get(path)
    assert page.status_code == 200, page.text
    m = CSRF_RE.search(page.text)
    assert m, path
    return m.group(1)


def post(c: TestClient, path: str, data: dict[str, object], *, page: str = "/") -> object:
    return c.post(path, data={**data, "csrf_token": csrf(c, page)}, follow_redirects=False)


def cid_of(location: str) -> int:
    m = re.match(r"^/collections/(\d+)", location)
    assert m, location
    return int(m.group(1))


def test_card_save_button_saves_to_reading_list_and_returns_to_the_list(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = as_member(app_client, backend, db)
    day = c.get(f"/papers/date/{DAY}")
    assert f'action="/papers/{IDS[0]}/save"' in day.text
    r = post(c, f"/papers/{IDS[0]}/save", {"next": f"/papers/date/{DAY}"}, page=f"/papers/date/{DAY}")
    assert r.status_code == 303 and r.headers["location"] == f"/papers/date/{DAY}#paper-{IDS[0]}"
    day = c.get(f"/papers/date/{DAY}")
    assert f'href="/papers/{IDS[0]}#save" title="In your collections: change">Saved' in day.text
    mine = c.get("/collections")
    assert "Reading list" in mine.text and "1 paper" in mine.text
    # Anonymous visitors get a sign-in link instead of a form.
    anon = TestClient(app_client.app).get(f"/papers/date/{DAY}")
    assert f'action="/papers/{IDS[0]}/save"' not in anon.text
    assert "/signin?next=" in anon.text


def test_paper_page_saves_to_new_collection_with_note_and_lists_public_ones(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, m = as_member(app_client, backend, db)
    r = post(
        c, f"/papers/{IDS[1]}/save",
        {"collection": "new", "new_collection": EVIL, "note": "see <b>Fig. 2</b>",
         "next": f"/papers/{IDS[1]}#save"},
        page=f"/papers/{IDS[1]}",
    )
    assert r.status_code == 303
    page = c.get(f"/papers/{IDS[1]}")
    assert "In your collections:" in page.text
    assert "<script>alert" not in page.text and str(escape(EVIL)) in page.text
    cid = int(re.search(r'href="/collections/(\d+)#item-', page.text).group(1))  # type: ignore[union-attr]
    view = c.get(f"/collections/{cid}")
    assert "see &lt;b&gt;Fig. 2&lt;/b&gt;" in view.text and "<b>Fig" not in view.text
    # Private: anonymous and other members see a 404, and the paper page lists nothing.
    assert TestClient(app_client.app).get(f"/collections/{cid}").status_code == 404
    other, _ = as_member(app_client, backend, db)
    assert other.get(f"/collections/{cid}").status_code == 404
    assert f'href="/collections/{cid}"' not in TestClient(app_client.app).get(f"/papers/{IDS[1]}").text
    # Made public: shared URL works for everyone and the paper page lists it with its owner.
    r = post(c, f"/collections/{cid}/edit", {"name": "Graph reading", "description": "", "public": "1"},
             page=f"/collections/{cid}")
    assert r.status_code == 303
    assert f"http://testserver/collections/{cid}" in c.get(f"/collections/{cid}").text
    public = TestClient(app_client.app).get(f"/collections/{cid}")
    assert public.status_code == 200 and "Graph reading" in public.text
    assert 'action="/collections/' not in public.text  # no owner controls for visitors
    paper_page = TestClient(app_client.app).get(f"/papers/{IDS[1]}")
    assert f'<a href="/collections/{cid}">Graph reading</a>' in paper_page.text
    assert m.username in paper_page.text


def test_move_buttons_note_remove_and_read_marks_without_javascript(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = as_member(app_client, backend, db)
    r = post(c, "/collections", {"name": "Queue"}, page="/collections")
    cid = cid_of(r.headers["location"])  # type: ignore[attr-defined]
    for pid in IDS:
        post(c, f"/papers/{pid}/save", {"collection": str(cid)}, page=f"/papers/{pid}")
    view = f"/collections/{cid}"

    def order() -> list[str]:
        return re.findall(r'id="item-([^"]+)"', c.get(view).text)

    assert order() == IDS
    r = post(c, f"{view}/move", {"paper": IDS[2], "direction": "up"}, page=view)
    assert r.headers["location"] == f"{view}#item-{IDS[2]}"  # type: ignore[attr-defined]
    assert order() == [IDS[0], IDS[2], IDS[1]]
    post(c, f"{view}/note", {"paper": IDS[0], "note": "start here"}, page=view)
    assert "start here" in c.get(view).text
    post(c, f"/papers/{IDS[0]}/read", {"read": "1", "next": view}, page=view)
    text = c.get(view).text
    assert order() == [IDS[2], IDS[1]] and "1 read paper hidden" in text
    assert re.findall(r'id="item-([^"]+)"', c.get(f"{view}?show=read").text) == [IDS[0], IDS[2], IDS[1]]
    post(c, f"{view}/remove", {"paper": IDS[1]}, page=view)
    assert order() == [IDS[2]]
    r = post(c, f"{view}/delete", {}, page=view)
    assert r.headers["location"] == "/collections"  # type: ignore[attr-defined]
    assert c.get(view).status_code == 404


def test_forms_without_csrf_or_session_are_refused(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = as_member(app_client, backend, db)
    r = c.post(f"/papers/{IDS[0]}/save", data={}, follow_redirects=False)
    assert r.status_code == 403
    anon = TestClient(app_client.app)
    r = post(anon, f"/papers/{IDS[0]}/save", {}, page=f"/papers/{IDS[0]}")
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert anon.get("/collections").status_code == 401


def test_hostile_ids_and_order_posts_answer_4xx(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = as_member(app_client, backend, db)
    for path, data in [
        ("/collections/99999999999999999999/move", {"paper": IDS[0], "direction": "up"}),
        ("/collections/abc/remove", {"paper": IDS[0]}),
        (f"/papers/{IDS[0]}/save", {"collection": "12abc"}),
        (f"/papers/{IDS[0]}/save", {"collection": "999999"}),
        ("/papers/..%2F..%2Fetc/save", {}),
        ("/collections/1/order", {}),
    ]:
        r = post(c, path, data, page="/collections")
        assert 400 <= r.status_code < 500, (path, r.status_code)  # type: ignore[attr-defined]


def test_drag_reorder_endpoint_answers_json(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    c, _ = as_member(app_client, backend, db)
    cid = cid_of(post(c, "/collections", {"name": "Drag"}, page="/collections").headers["location"])  # type: ignore[attr-defined]
    for pid in IDS:
        post(c, f"/papers/{pid}/save", {"collection": str(cid)}, page=f"/papers/{pid}")
    token = csrf(c, f"/collections/{cid}")
    r = c.post(
        f"/collections/{cid}/order",
        data={"csrf_token": token, "paper": list(reversed(IDS))},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json()["order"] == list(reversed(IDS))


def test_old_style_ids_save_and_show(app_client: TestClient, backend: Settings, db: Engine) -> None:
    from paperfeed.storage.db import write
    from paperfeed.storage.papers import upsert_papers

    with write(db) as conn:
        upsert_papers(conn, [paper("math.GT/0309136", title="Old-style paper")], now=datetime(2025, 1, 1))
    c, _ = as_member(app_client, backend, db)
    r = post(c, "/papers/math.GT/0309136/save", {"next": "/papers/math.GT/0309136"},
             page="/papers/math.GT/0309136")
    assert r.status_code == 303  # type: ignore[attr-defined]
    cid = re.search(r'href="/collections/(\d+)#item-math', c.get("/papers/math.GT/0309136").text)
    assert cid
    assert 'href="/papers/math.GT/0309136"' in c.get(f"/collections/{cid.group(1)}").text


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_public_collection_feed_parses_with_notes_and_private_one_is_404(
    app_client: TestClient, backend: Settings, db: Engine, fmt: str
) -> None:
    import feedparser

    c, _ = as_member(app_client, backend, db)
    cid = cid_of(post(c, "/collections", {"name": EVIL}, page="/collections").headers["location"])  # type: ignore[attr-defined]
    for pid in IDS[:2]:
        post(c, f"/papers/{pid}/save", {"collection": str(cid), "note": f"why {pid} <b>"},
             page=f"/papers/{pid}")
    anon = TestClient(app_client.app)
    assert anon.get(f"/collections/{cid}.{fmt}").status_code == 404  # private
    post(c, f"/collections/{cid}/edit", {"name": EVIL, "public": "1"}, page=f"/collections/{cid}")
    r = anon.get(f"/collections/{cid}.{fmt}")
    assert r.status_code == 200
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert EVIL in parsed.feed.title
    assert parsed.feed.link == f"http://testserver/collections/{cid}"
    assert {e.link for e in parsed.entries} == {f"http://testserver/papers/{p}" for p in IDS[:2]}
    assert any(f"why {IDS[0]} <b>" in html_text(e.summary, fmt) for e in parsed.entries)
    page = anon.get(f"/collections/{cid}")
    assert f'rel="alternate" type="application/{fmt}+xml"' in page.text
    again = anon.get(f"/collections/{cid}.{fmt}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def html_text(summary: str, fmt: str) -> str:
    import html as html_module

    return summary if fmt == "atom" else html_module.unescape(re.sub(r"<[^>]+>", "", summary))


def test_private_collection_feed_url_works_until_revoked(
    app_client: TestClient, backend: Settings, db: Engine
) -> None:
    import feedparser

    c, _ = as_member(app_client, backend, db)
    cid = cid_of(post(c, "/collections", {"name": "Quiet"}, page="/collections").headers["location"])  # type: ignore[attr-defined]
    post(c, f"/papers/{IDS[2]}/save", {"collection": str(cid)}, page=f"/papers/{IDS[2]}")
    r = post(c, f"/collections/{cid}/feed", {}, page=f"/collections/{cid}")
    assert r.headers["location"] == f"/collections/{cid}#feed"  # type: ignore[attr-defined]
    url = re.search(r'href="http://testserver(/feeds/private/[^"]+\.atom)"', c.get(f"/collections/{cid}").text)
    assert url
    anon = TestClient(app_client.app)
    parsed = feedparser.parse(anon.get(url.group(1)).content)
    assert [e.link for e in parsed.entries] == [f"http://testserver/papers/{IDS[2]}"]
    settings_page = c.get("/settings").text
    token_id = re.search(r'action="/settings/feeds/(\d+)/revoke"', settings_page)
    assert token_id
    post(c, f"/settings/feeds/{token_id.group(1)}/revoke", {}, page="/settings")
    assert anon.get(url.group(1)).status_code == 404
