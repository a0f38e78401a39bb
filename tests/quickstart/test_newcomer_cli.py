"""The quick start from a terminal: `paperfeed serve --demo` (2 workers, no SMTP, no base URL,
no PAPERFEED_* variables) and the commands a newcomer types next, in another shell.

Each test here failed on e641f96: the sign-in link was logged only inside unconfigured worker
processes (never shown), links pointed at port 8000, the demo wrote into the default data
directory, and there was no outbox nor `paperfeed outbox`.
"""

from __future__ import annotations

import re

import httpx

from tests.quickstart.conftest import DemoServer, csrf_token


def test_signin_link_from_a_web_worker_lands_in_the_outbox_and_the_log(
    demo_server: DemoServer,
) -> None:
    seen = demo_server.outbox_size()
    with httpx.Client(base_url=demo_server.url) as c:
        r = c.post("/signin", data={"email": "newcomer@example.org",
                                    "csrf_token": csrf_token(c, "/signin")})
        assert r.status_code == 303
    mail = demo_server.mail_to("newcomer@example.org", after=seen)
    [link] = [u for u in mail.links if "/signin/link?token=" in u]
    assert link.startswith(demo_server.url + "/signin/link?token=")  # the port we run on
    # ...and the worker that sent it logged the link at WARNING (its logging is configured).
    assert " WARNING paperfeed.mail: " in demo_server.log_line(link)
    # `paperfeed outbox` in another shell, with nothing set, shows it.
    out = demo_server.cli("outbox", "--to", "newcomer@example.org", "--last", "1").stdout
    assert "Sign in to paperfeed" in out and link in out


def test_serve_says_where_mail_and_links_go(demo_server: DemoServer) -> None:
    log = demo_server.log()
    assert "demo corpus: 2926 new" in log
    assert f"demo data in {demo_server.data_dir}" in log
    assert f"mail goes to the outbox {demo_server.data_dir / 'outbox'}" in log
    assert "paperfeed outbox" in log
    assert f"links use {demo_server.url}" in log


def test_demo_answers_with_the_bundled_corpus(demo_server: DemoServer) -> None:
    body = httpx.get(demo_server.url + "/api/daily_papers", params={"date": "2026-08-21"}).json()
    assert body and body[0]["paper"]["submittedOnDailyAt"].startswith("2026-08-21")


def test_canonical_links_use_the_port_the_server_runs_on(demo_server: DemoServer) -> None:
    home = httpx.get(demo_server.url + "/").text
    m = re.search(r'<link rel="canonical" href="([^"]+)"', home)
    assert m and m.group(1).startswith(demo_server.url + "/papers/date/"), m


def test_demo_keeps_its_own_data_dir_and_commands_reach_it(demo_server: DemoServer) -> None:
    default_dir = demo_server.root / "home" / ".local" / "share" / "paperfeed"
    assert (demo_server.data_dir / "paperfeed.db").exists()
    assert not default_dir.exists(), "the demo wrote into the default data directory"
    made = demo_server.cli("user", "create", "owner@example.org", "--admin")
    assert "created admin" in made.stdout
    assert "using the demo's" in made.stderr  # says which instance it used
    # The account is in the demo the server runs: a sign-in link for it arrives.
    seen = demo_server.outbox_size()
    with httpx.Client(base_url=demo_server.url) as c:
        c.post("/signin", data={"email": "owner@example.org",
                                "csrf_token": csrf_token(c, "/signin")})
    assert demo_server.mail_to("owner@example.org", after=seen).links
    assert not default_dir.exists()


def test_subscribe_and_confirm_from_the_outbox(demo_server: DemoServer) -> None:
    seen = demo_server.outbox_size()
    with httpx.Client(base_url=demo_server.url, follow_redirects=True) as c:
        c.post("/subscribe", data={"email": "reader@example.org", "frequency": "weekly",
                                   "csrf_token": csrf_token(c)})
        mail = demo_server.mail_to("reader@example.org", after=seen)
        [confirm] = [u for u in mail.links if "/subscribe/confirm?token=" in u]
        assert confirm.startswith(demo_server.url + "/")
        page = c.get(confirm)
        c.post("/subscribe/confirm", data={
            "token": re.search(r'name="token" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
            "csrf_token": csrf_token(c, confirm.removeprefix(demo_server.url)),
        })
    listed = demo_server.cli("subscribers", "list").stdout
    assert re.search(r"^reader@example\.org\tweekly\tconfirmed\t", listed, re.M), listed


def test_digest_sent_from_the_cli_beside_the_demo_links_to_the_server(
    demo_server: DemoServer,
) -> None:
    """`paperfeed digest send` in another shell: development mail goes to the outbox, and its
    links use the address `serve` runs on (recorded in the data directory)."""
    demo_server.cli("subscribers", "add", "weekly@example.org", "--frequency", "weekly",
                    "--confirmed")
    seen = demo_server.outbox_size()
    sent = demo_server.cli("digest", "send", "--frequency", "weekly", "--edition", "2026-W34")
    assert " 0 failed" in sent.stdout and " 0 sent" not in sent.stdout, sent
    mail = demo_server.mail_to("weekly@example.org", after=seen)
    assert mail.links and all(u.startswith(demo_server.url + "/") for u in mail.links
                              if "huggingface" not in u and "arxiv" not in u), mail.links
