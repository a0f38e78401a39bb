"""Hostile input on the member forms as a newcomer's browser (or a script) sends it, found by
walking every form with quotes, 10,000 characters, NUL, lone surrogates and invalid UTF-8
(qa9): every answer a clear one-line message, never the input echoed whole."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
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
