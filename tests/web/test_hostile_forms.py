"""Hostile input on the member forms as a newcomer's browser (or a script) sends it, found by
walking every form with quotes, 10,000 characters, NUL, lone surrogates and invalid UTF-8
(qa9): every answer a clear one-line message, never the input echoed whole."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.storage import users
from tests.members_support import add_member, csrf
from tests.web.test_rough_edges import _sign_in

MESSAGE = re.compile(r'<p class="(?:error-message|flash error)"[^>]*>([^<]*)</p>')


def test_an_error_never_echoes_ten_thousand_characters_back(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    add_member(engine, "admin@example.org", role="admin")
    _sign_in(client, settings, "admin@example.org")
    token = csrf(client, "/submit")
    for path, field in (("/submit", "paper"), ("/admin/ban", "username")):
        r = client.post(path, data={"csrf_token": token, field: "x" * 10_000})
        assert 400 <= r.status_code < 500
        shown = MESSAGE.search(r.text)
        assert shown and len(shown.group(1)) < 400, shown
    api = client.get("/api/papers/" + "x" * 3000)
    assert api.status_code == 404 and len(api.json()["error"]) < 400


def test_a_refused_parameter_reads_as_a_sentence_on_pages(client: TestClient) -> None:
    r = client.post("/subscribe", data={"csrf_token": csrf(client, "/"), "email": "a@example.org",
                                        "frequency": "x" * 50})
    assert r.status_code == 400
    shown = MESSAGE.search(r.text)
    assert shown and shown.group(1).startswith("Invalid parameters: frequency"), shown


@pytest.mark.parametrize("address", ["a\x07@example.org", "ann\u202e@example.org",
                                     "ann@exa\u200bmple.org", "a\x7f@example.org"])
def test_sign_in_refuses_an_address_with_control_or_invisible_characters(
    client: TestClient, engine: Engine, settings: Settings, address: str
) -> None:
    """A BEL or a right-to-left override inside an address was accepted: a link was mailed
    to it and `user create` made an account that lists as another address."""
    r = client.post("/signin", data={"csrf_token": csrf(client), "email": address})
    assert r.status_code == 400
    assert "does not look like an email address" in r.text
    assert not (settings.data_dir / "outbox").exists() or not any(
        (settings.data_dir / "outbox").iterdir())
    created = CliRunner().invoke(cli_app, ["user", "create", address],
                                 env={"PAPERFEED_DATA_DIR": str(settings.data_dir)})
    assert created.exit_code == 1
    assert created.stderr.startswith("error: sign-in: that does not look like an email address")
    with engine.connect() as conn:
        assert users.get_by_email(conn, address.lower()) is None


@pytest.mark.parametrize("option", [["--status", "confirmd"], ["--frequency", "monthly"]])
def test_subscribers_list_refuses_an_unknown_status_or_frequency(
    engine: Engine, settings: Settings, option: list[str]
) -> None:
    """A typo (`--status confirmd`) listed nobody and exited 0, as if there were no subscribers."""
    r = CliRunner().invoke(cli_app, ["subscribers", "list", *option],
                           env={"PAPERFEED_DATA_DIR": str(settings.data_dir)})
    assert r.exit_code != 0
    assert "must be" in r.output and "no subscriptions" not in r.output
