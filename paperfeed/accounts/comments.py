"""Comments: plain text, links made clickable after escaping; edit/delete own; moderators hide.

`render_body` escapes every piece of the text and turns only http(s) URLs into links with
rel="nofollow noopener ugc", so hostile text can never become markup.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from markupsafe import Markup, escape
from sqlalchemy import Engine

from paperfeed.accounts.guards import act, require_active, require_moderator
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, Forbidden, NotFound
from paperfeed.models import Member, normalize_arxiv_id
from paperfeed.storage import comments as store
from paperfeed.storage import moderation
from paperfeed.storage.db import write
from paperfeed.storage.papers import get_paper

MAX_LENGTH = 5000
# The same words from the same member on the same paper within this time are one comment sent
# twice (a double click, a reload that re-sent the form), not a second comment.
DOUBLE_SUBMIT = timedelta(minutes=2)
# A URL ends at whitespace, quotes and angle brackets, and at any invisible format character
# (Unicode Cf: bidi controls, zero-width spaces and joiners, the BOM), which no real address
# holds raw and which could make a link's text read as another address than its target.
_CF = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
URL_RE = re.compile(rf"https?://[^\s<>\"'`{_CF}]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
# Bidi embeddings, overrides and isolates reorder what follows them (U+202E shows
# "moc.elgoog" as "google.com"): dropped from the shown text; the stored body keeps them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CUT = re.compile(f"[{_CF}]")
MARK = "\ufffd"  # shown in place of the invisible character that ended a link


def _shown(text: str) -> str:
    return str(escape(_BIDI_CONTROLS.sub("", text)))


def render_body(text: str) -> Markup:
    """HTML for a comment body: escaped text, http(s) URLs as nofollow links.

    A link whose URL was cut by an invisible character is followed by a visible mark in its
    place, so the text after it cannot pass for the rest of the address."""
    out: list[str] = []
    pos = 0
    for m in URL_RE.finditer(text):
        url = m.group(0)
        stripped = url.rstrip(TRAILING)
        # keep a closing parenthesis that belongs to the URL, e.g. wiki/Foo_(bar)
        while stripped.count("(") > stripped.count(")") and len(stripped) < len(url):
            stripped = url[: len(stripped) + 1]
        end = m.start() + len(stripped)
        out.append(_shown(text[pos : m.start()]))
        safe = escape(stripped)
        out.append(f'<a href="{safe}" rel="nofollow noopener ugc">{safe}</a>')
        pos = end
        if end == m.end() and _CUT.match(text, end):
            out.append(MARK)
            pos = end + 1
    out.append(_shown(text[pos:]))
    return Markup("".join(out))


def _clean(body: str) -> str:
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise BadRequest("comments: a comment cannot be empty")
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"comments: a comment may have at most {MAX_LENGTH} characters")
    return text


def add_comment(
    engine: Engine, settings: Settings, member: Member, paper_id: str, body: str, *, ip: str,
    now: datetime,
) -> int:
    pid = normalize_arxiv_id(paper_id)
    text = _clean(body)
    act(engine, settings, "comment", member, ip=ip, now=now)
    with write(engine) as conn:
        paper = get_paper(conn, pid)
        if paper is None or paper["hidden"]:
            raise NotFound(f"comments: no paper {pid!r}")
        same = store.same_recent_comment(conn, paper_id=pid, user_id=member.id, body=text,
                                         since=now - DOUBLE_SUBMIT)
        if same is not None:  # a double click or a re-sent form: the comment is posted once
            return same
        return store.add_comment(conn, paper_id=pid, user_id=member.id, body=text, now=now)


def _own(engine: Engine, member: Member, comment_id: int) -> store.Comment:
    require_active(member)
    with engine.connect() as conn:
        comment = store.get_comment(conn, comment_id)
    # A hidden comment belongs to the moderators' record: its author can no longer edit or
    # delete it (and so cannot make the evidence disappear).
    if comment.deleted or comment.hidden:
        raise NotFound(f"comments: no comment {comment_id}")
    if comment.user_id != member.id:
        raise Forbidden("comments: you can only change your own comments")
    return comment


def edit_comment(
    engine: Engine, member: Member, comment_id: int, body: str, *, now: datetime
) -> store.Comment:
    comment = _own(engine, member, comment_id)
    text = _clean(body)
    with write(engine) as conn:
        store.edit_comment(conn, comment_id, body=text, now=now)
    return comment


def delete_comment(engine: Engine, member: Member, comment_id: int) -> store.Comment:
    comment = _own(engine, member, comment_id)
    with write(engine) as conn:
        store.delete_comment(conn, comment_id)
    return comment


def hide_comment(
    engine: Engine, moderator: Member, comment_id: int, *, hidden: bool, reason: str | None,
    now: datetime,
) -> store.Comment:
    require_moderator(moderator)
    with write(engine) as conn:
        comment = store.get_comment(conn, comment_id)
        store.set_hidden(conn, comment_id, hidden)
        moderation.record(
            conn, actor_id=moderator.id, action="hide_comment" if hidden else "unhide_comment",
            target_type="comment", target_id=str(comment_id), reason=reason, now=now,
        )
    return comment
