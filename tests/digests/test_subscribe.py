"""Subscribing through the form and the API: double opt-in, no enumeration, rate limits."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.storage import subscriptions as sstore
from tests.digests.conftest import csrf_from, links_in
from tests.digests.smtp_sink import Sink


def _subscribe(client: TestClient, email: str, frequency: str = "daily") -> tuple[int, str]:
    page = client.get("/subscribe")
    r = client.post(
        "/subscribe",
        data={"email": email, "frequency": frequency, "csrf_token": csrf_from(page.text)},
    )
    return r.status_code, r.text


def _status(engine: Engine, email: str) -> str | None:
    with engine.connect() as conn:
        row = sstore.get_by_email(conn, email)
    return None if row is None else str(row["status"])


def _confirm_via_link(client: TestClient, url: str) -> str:
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "Confirm subscription" in page.text
    token = unquote(parts.query.split("token=", 1)[1])
    r = client.post("/subscribe/confirm", data={"token": token, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 200
    return r.text


def test_double_opt_in_sends_a_confirmation_link_and_nothing_else_until_followed(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    status, text = _subscribe(client, "  Reader@Example.org ", "weekly")
    assert status == 200 and "Check your inbox" in text and "reader@example.org" in text
    assert _status(engine, "reader@example.org") == "pending"
    (received,) = sink.messages
    msg = received.parse()
    assert received.rcpt == ["reader@example.org"]
    assert "Confirm" in msg["Subject"] and msg["Message-ID"]
    text_part = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",)).get_content()
    (confirm_url,) = [u for u in links_in(text_part) if "/subscribe/confirm" in u]
    assert confirm_url.replace("&", "&amp;") in html_part or confirm_url in html_part
    # Opening the link shows a button; only the POST confirms (mail scanners only GET).
    parts = urlsplit(confirm_url)
    client.get(f"{parts.path}?{parts.query}")
    assert _status(engine, "reader@example.org") == "pending"
    done = _confirm_via_link(client, confirm_url)
    assert "You are subscribed" in done and "weekly" in done
    assert _status(engine, "reader@example.org") == "confirmed"
    assert len(sink.messages) == 1  # no welcome mail or digest was sent by confirming


def test_same_answer_whatever_the_address_state(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    email = "someone@example.org"
    answers = [_subscribe(client, email)]  # new
    answers.append(_subscribe(client, email))  # pending
    confirm_url = next(
        u
        for u in links_in(sink.messages[0].parse().get_body(("plain",)).get_content())
        if "/confirm" in u
    )
    _confirm_via_link(client, confirm_url)
    answers.append(_subscribe(client, email))  # confirmed
    assert _status(engine, email) == "confirmed"  # a request never downgrades a subscription
    assert all(a == answers[0] for a in answers), "responses differ by subscription state"
    # Mail differs: the confirmed owner is told they are subscribed, with a manage link.
    last = sink.messages[-1].parse()
    assert "already subscribed" in last["Subject"]
    body = last.get_body(("plain",)).get_content()
    assert "/subscribe/preferences?token=" in body and "/subscribe/confirm" not in body
    assert last["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_api_subscribe_answers_202_identically_for_new_and_confirmed(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    from paperfeed.models import utcnow
    from paperfeed.storage.db import write

    with write(engine) as conn:
        sstore.add(conn, "known@example.org", "daily", confirmed=True, now=utcnow())
    a = client.post("/api/subscriptions", json={"email": "known@example.org"})
    b = client.post("/api/subscriptions", json={"email": "KNOWN@example.org"})
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json() and a.json()["status"] == "pending_confirmation"
    c = client.post("/api/subscriptions", json={"email": "new@example.org", "frequency": "weekly"})
    assert c.status_code == 202
    assert c.json()["message"].replace("new@", "known@") == a.json()["message"]
    assert len(sink.messages) == 3


def test_invalid_address_or_frequency_is_a_400(client: TestClient, sink: Sink) -> None:
    for body in (
        {"email": "not-an-address"},
        {"email": "a@b"},
        {"email": "x" * 300 + "@example.org"},
        {"email": "ok@example.org", "frequency": "hourly"},
    ):
        r = client.post("/api/subscriptions", json=body)
        assert r.status_code == 400, body
    assert sink.messages == []


def test_subscribe_form_without_csrf_token_is_refused(client: TestClient, engine: Engine) -> None:
    client.get("/subscribe")
    r = client.post("/subscribe", data={"email": "x@example.org", "frequency": "daily"})
    assert r.status_code == 403
    assert _status(engine, "x@example.org") is None


def test_rate_limited_per_address_with_retry_after(
    settings: Settings, client: TestClient, sink: Sink
) -> None:
    settings.subscribe_rate_per_address = 2
    codes = [_subscribe(client, "victim@example.org")[0] for _ in range(3)]
    assert codes == [200, 200, 429]
    r = client.post("/api/subscriptions", json={"email": "Victim@example.org"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert len(sink.messages) == 2  # a flood cannot mail-bomb an address
    assert client.post("/api/subscriptions", json={"email": "other@example.org"}).status_code == 202


def test_rate_limited_per_client_ip(settings: Settings, client: TestClient) -> None:
    settings.subscribe_rate_per_ip = 3
    codes = [
        client.post("/api/subscriptions", json={"email": f"r{i}@example.org"}).status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]


def test_expired_or_forged_confirmation_link_is_refused(
    settings: Settings, client: TestClient, engine: Engine
) -> None:
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from paperfeed.digests.links import Links

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 80 * 3600  # beyond the 72-hour validity

    assert client.get("/subscribe/confirm?token=forged").status_code == 400
    old = URLSafeTimedSerializer(
        settings.secret(), salt="paperfeed.digests.confirm", signer=SignedLongAgo
    )
    token = old.dumps({"e": "late@example.org", "f": "daily"})
    r = client.get(f"/subscribe/confirm?token={token}")
    assert r.status_code == 400 and "expired" in r.text
    # A manage (unsubscribe) token is not accepted as a confirmation token.
    manage = Links(settings).manage_token(1, "late@example.org")
    assert client.get(f"/subscribe/confirm?token={manage}").status_code == 400
    assert _status(engine, "late@example.org") is None


def test_subscribe_box_on_the_daily_list_page_subscribes(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    from tests.digests.conftest import seed_papers

    seed_papers(engine)
    home = client.get("/")
    assert home.status_code == 200
    assert 'action="/subscribe"' in home.text and 'name="frequency"' in home.text
    r = client.post(
        "/subscribe",
        data={
            "email": "box@example.org",
            "frequency": "weekly",
            "csrf_token": csrf_from(home.text),
        },
    )
    assert r.status_code == 200 and "Check your inbox" in r.text
    assert _status(engine, "box@example.org") == "pending"
    assert sink.to("box@example.org")


def _confirm_url(sink: Sink, address: str) -> str:
    mail = [m for m in sink.messages if m.rcpt == [address]][-1].parse()
    text = mail.get_body(("plain",)).get_content()
    return next(u for u in links_in(text) if "/subscribe/confirm" in u)


def test_an_old_confirmation_link_does_not_resubscribe_after_unsubscribing(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    _subscribe(client, "reader@example.org")
    old = _confirm_url(sink, "reader@example.org")
    _confirm_via_link(client, old)
    with engine.connect() as conn:
        row = sstore.get_by_email(conn, "reader@example.org")
    from paperfeed.storage.db import write

    with write(engine) as conn:
        sstore.unsubscribe(conn, row["id"], now=row["confirmed_at"])
    parts = urlsplit(old)
    page = client.get(f"{parts.path}?{parts.query}")
    token = unquote(parts.query.split("token=", 1)[1])
    r = client.post("/subscribe/confirm", data={"token": token,
                                                "csrf_token": csrf_from(page.text)})
    assert r.status_code == 400 and "subscribe again" in r.text
    assert _status(engine, "reader@example.org") == "unsubscribed"
    # A fresh request gives a fresh link that works.
    _subscribe(client, "reader@example.org")
    assert "You are subscribed" in _confirm_via_link(client, _confirm_url(sink, "reader@example.org"))
    assert _status(engine, "reader@example.org") == "confirmed"


def test_a_confirmation_link_of_a_removed_subscription_does_not_recreate_it(
    client: TestClient, engine: Engine, sink: Sink
) -> None:
    from paperfeed.storage.db import write

    _subscribe(client, "gone@example.org")
    url = _confirm_url(sink, "gone@example.org")
    with write(engine) as conn:
        sstore.remove(conn, "gone@example.org")
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}")
    token = unquote(parts.query.split("token=", 1)[1])
    r = client.post("/subscribe/confirm", data={"token": token,
                                                "csrf_token": csrf_from(page.text)})
    assert r.status_code == 400
    assert _status(engine, "gone@example.org") is None
