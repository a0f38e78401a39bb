"""The outbox (mail without an SMTP server) and `paperfeed outbox`, in-process."""

from __future__ import annotations

import logging
import os
import stat
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed import outbox
from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.digests.editions import parse_edition
from paperfeed.digests.send import send_edition
from paperfeed.errors import ConfigError
from paperfeed.mail import Mailer
from paperfeed.models import utcnow
from paperfeed.storage import deliveries as dstore
from paperfeed.storage import subscriptions as sstore
from paperfeed.storage.db import write
from tests.feed_factories import feature, paper


def _message(to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _box(settings: Settings) -> Path:
    return outbox.outbox_dir(settings.data_dir)


def test_mailer_without_smtp_writes_one_private_eml_per_message_and_warns_with_links(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paperfeed.mail"), Mailer(settings) as m:
        m.send(_message("a@example.org", "First", "Open http://testserver/x?token=1 now.\n"))
        m.send_bytes("noreply@localhost", "b@example.org",
                     b"To: b@example.org\r\nSubject: Second\r\n\r\nhttp://testserver/y\r\n")
    files = outbox.list_messages(_box(settings))
    assert len(files) == 2
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in files)
    first, second = (outbox.read_message(f) for f in files)
    assert (first.to, first.subject, first.links) == ("a@example.org", "First",
                                                      ("http://testserver/x?token=1",))
    assert first.date is not None  # Date: added when the message had none
    assert second.links == ("http://testserver/y",)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("a@example.org" in w and "http://testserver/x?token=1" in w for w in warned)
    assert any(str(files[1]) in w for w in warned)


def test_production_digest_without_smtp_refuses_and_marks_nothing_sent(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    day = date(2025, 6, 16)
    feature(engine, [paper("2506.00001", upvotes=3)], day)
    with write(engine) as conn:
        sstore.add(conn, "reader@example.org", "daily", confirmed=True, now=utcnow())
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError, match="PAPERFEED_SMTP_HOST is unset"):
        send_edition(engine, production, parse_edition("2025-06-16", "daily"))
    with engine.connect() as conn:
        assert dstore.status_counts(conn, "2025-06-16") == {}
    assert outbox.list_messages(_box(settings)) == []
    # ...while in development the edition goes to the outbox.
    report = send_edition(engine, settings, parse_edition("2025-06-16", "daily"))
    assert report.sent == 1
    [stored] = outbox.latest(_box(settings), last=5)
    assert stored.to == "reader@example.org" and "http://testserver/papers/2506.00001" in stored.links


def test_production_transactional_mail_without_smtp_goes_to_the_outbox(
    settings: Settings,
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError):
        Mailer(production)
    with Mailer(production, transactional=True) as m:
        m.send(_message("admin@example.org", "Sign in", "http://testserver/signin/link?t=1\n"))
    assert [s.to for s in outbox.latest(_box(settings), last=5)] == ["admin@example.org"]


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAPERFEED_BASE_URL", "http://testserver")
    return settings


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["outbox", *args])
    return result.exit_code, result.stdout, result.stderr


def test_outbox_command_lists_filters_opens_and_clears(cli_env: Settings) -> None:
    code, _, err = _cli()
    assert code == 0 and "no messages in" in err and "PAPERFEED_SMTP_HOST" in err
    with Mailer(cli_env) as m:
        for i in range(12):
            to = "ada@example.org" if i % 3 == 0 else f"reader{i}@example.org"
            m.send(_message(to, f"Message {i}", f"Hello {i}\nhttp://testserver/link/{i}\n"))
    code, out, _ = _cli()
    lines = [ln for ln in out.splitlines() if not ln.startswith("    ")]
    assert code == 0 and len(lines) == 10  # the default --last 10, newest last
    assert "Message 11" in lines[-1] and "Message 2" in lines[0]
    assert "    http://testserver/link/11" in out
    _, out, _ = _cli("--to", "ADA@example.org", "--last", "2")
    assert [ln.split("  ")[-1] for ln in out.splitlines() if "@" in ln] == ["Message 6", "Message 9"]
    _, out, _ = _cli("--to", "ada@", "--open")
    assert "Subject: Message 9" in out and "Hello 9" in out
    _, out, _ = _cli("--links", "--last", "2")
    assert out.split() == ["http://testserver/link/10", "http://testserver/link/11"]
    code, _, err = _cli("--to", "nobody@example.org")
    assert code == 1 and "no messages to nobody@example.org" in err
    code, out, _ = _cli("--clear")
    assert code == 0 and "deleted 12 messages" in out
    assert outbox.list_messages(_box(cli_env)) == []


def test_outbox_reads_html_only_messages_and_skips_files_it_cannot_parse(
    settings: Settings,
) -> None:
    box = _box(settings)
    outbox.write_message(box, b"To: x@example.org\r\nSubject: Rich\r\nContent-Type: text/html"
                              b"\r\n\r\n<a href=\"http://t/a?x=1&amp;y=2\">go</a>\r\n")
    (box / "notes.txt").write_text("not a message")
    [mail] = outbox.latest(box, last=3)
    assert mail.links == ("http://t/a?x=1&y=2",) and mail.subject == "Rich"
