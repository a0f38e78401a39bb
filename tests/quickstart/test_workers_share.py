"""`paperfeed serve` with two workers (the quick start's default): the workers are forked from
a supervisor that loaded the code and the query model once (web/preload.py), so that memory
is shared between them, and each still answers semantic searches with it."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.quickstart.conftest import DemoServer, csrf_token

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _workers(pid: int) -> list[int]:
    return [c for c in _children(pid)
            if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _shared_anon_mb(pid: int) -> float:
    """Anonymous memory (heap, the model's tensors, Python objects) this process shares with
    another: copy-on-write pages from the fork. A spawned worker shares none of its own."""
    kb, anon = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and ":" not in head[0]:
            anon = len(head) < 6 or head[5] in ("[heap]", "[anon]")
        elif anon and head[0] in ("Shared_Clean:", "Shared_Dirty:"):
            kb += int(head[1])
    return kb / 1024


def test_two_workers_are_forked_and_share_the_model(demo_server: DemoServer) -> None:
    workers = _workers(demo_server.proc.pid)
    assert len(workers) == 2, demo_server.log()
    for pid in workers:  # forked: the supervisor's command line, not multiprocessing's spawn
        assert b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # Enough searches that both workers embed queries with the preloaded model.
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for k in range(12):
            r = client.get("/api/papers/search", params={"q": f"diffusion models for images {k}"})
            assert r.status_code == 200 and r.json(), r.text
    for pid in workers:
        # code and the ONNX model (~55 MB of tensors) stay shared after serving searches
        assert _shared_anon_mb(pid) > 60, _shared_anon_mb(pid)


def test_both_workers_find_a_paper_ingested_by_another_process(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    """A paper embedded by `paperfeed ingest` in another shell reaches the forked workers'
    vector index (appended rows merged into its id map) and is found by meaning on each."""
    paper = {
        "id": "2011.99991", "title": "Beekeeping schedules learned from hive acoustics",
        "authors": ["A. Apiarist"], "categories": ["cs.SD"], "primary_category": "cs.SD",
        "abstract": "We listen to honeybee colonies with cheap microphones and learn when a "
                    "beekeeper should inspect, feed or split a hive from the sound alone.",
        "listing_date": "2020-11-30",
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(paper) + "\n", "utf-8")
    demo_server.cli("ingest", "jsonl", str(path))
    assert len(_workers(demo_server.proc.pid)) == 2
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for _ in range(12):  # new connections, spread over both workers
            # its similar papers come from its row in the worker's vector index
            page = client.get(f"/papers/{paper['id']}", headers={"Connection": "close"})
            assert page.status_code == 200 and "Similar papers" in page.text
            r = client.get("/api/papers/search", headers={"Connection": "close"},
                           params={"q": "beekeepers listening to honeybee hives"})
            assert paper["id"] in [hit["paper"]["id"] for hit in r.json()][:3], r.text[:300]


def _inputs(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    form = html[html.index(f'action="{action}"'):]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def _first_card_vote(html: str) -> tuple[str, bool, int]:
    m = re.search(r'<form method="post" action="(/papers/[^"]+/upvote)" '
                  r'class="upvote-form( voted)?".*?<span class="upvote-count">(\d+)</span>',
                  html, re.S)
    assert m, html[:500]
    return m.group(1), bool(m.group(2)), int(m.group(3))


def test_a_vote_shows_at_once_on_both_workers(demo_server: DemoServer) -> None:
    """Each worker keeps its own page cache: after a member votes through one worker, every
    page the member gets from either worker shows the vote and the new count (the content
    version is read per signed-in request), and anonymous visitors see the count too."""
    seen = demo_server.outbox_size()
    with httpx.Client(base_url=demo_server.url, timeout=30) as c:
        c.post("/signin", data={"email": "two-workers@example.org",
                                "csrf_token": csrf_token(c, "/signin")})
        mail = demo_server.mail_to("two-workers@example.org", after=seen)
        [link] = [u for u in mail.links if "/signin/link?token=" in u]
        page = c.get(link.removeprefix(demo_server.url)).text
        r = c.post("/signin/link", data=_inputs(page, "/signin/link"))
        assert r.status_code == 303 and "pf_session" in str(c.cookies), r.text[:300]
        cookies = dict(c.cookies)

    def home(cookie: dict[str, str] | None) -> str:
        # a new connection each: the two workers share the listening socket
        r = httpx.get(demo_server.url + "/", cookies=cookie, headers={"Connection": "close"},
                      timeout=30)
        assert r.status_code == 200
        return r.text

    for _ in range(8):  # both workers render and cache the home page (as nobody, and filled)
        home(cookies), home(None)
    action, voted, count = _first_card_vote(home(cookies))
    assert not voted
    with httpx.Client(base_url=demo_server.url, timeout=30, cookies=cookies) as c:
        html = c.get("/").text
        r = c.post(action, data=_inputs(html, action))
        assert r.status_code == 303, r.text[:300]
    for _ in range(12):
        assert _first_card_vote(home(cookies)) == (action, True, count + 1)
    deadline = time.monotonic() + 10  # anonymous requests trust the version for up to 1 s
    while _first_card_vote(home(None))[2] != count + 1:
        assert time.monotonic() < deadline, "anonymous visitors never saw the vote"
    for _ in range(12):
        assert _first_card_vote(home(None)) == (action, False, count + 1)
