"""Saved searches: a member saves words and filters (the search syntax), or "papers like this
one", and chooses how to hear of new matches: a daily or weekly alert email, a section in the
digest they subscribe to, or only the search's page and feed.

Saving compiles the query (`rules.compile_rule`), picks its anchors for the matcher (the
rarest required word by the catalog's document counts where the keyword index keeps them,
else the longest) and stores the vector a semantic search is matched by: the query's
embedding, or the liked paper's stored vector (`search.neighbours`). A vector that cannot be
made now (no model, paper not embedded yet) is made by the matcher later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.accounts.guards import require_active
from paperfeed.alerts.rules import Rule, compile_rule
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, NotFound, PaperfeedError
from paperfeed.library import clean_name
from paperfeed.models import Member, normalize_arxiv_id
from paperfeed.search.query import clean_text
from paperfeed.storage import alerts as store
from paperfeed.storage.alerts import DELIVERIES, MatchRow, SearchRow
from paperfeed.storage.db import is_sqlite, write
from paperfeed.storage.papers import get_paper

log = logging.getLogger(__name__)
MAX_QUERY = 1000
DELIVERY_LABELS = {
    "daily": "Daily email",
    "weekly": "Weekly email",
    "digest": "In my digest",
    "none": "Only here and in its feed",
}
MAX_ID = 2**31 - 1


def check_delivery(value: str) -> str:
    if value not in DELIVERIES:
        raise BadRequest(
            f"alerts: delivery must be one of {', '.join(DELIVERIES)}, got {value[:20]!r}"
        )
    return value


def doc_counts(engine: Engine, conn: Connection, tokens: list[str]) -> dict[str, int]:
    """How many catalog papers hold each token, where the keyword index keeps such counts
    (SQLite); {} elsewhere (anchors then go by length)."""
    if not tokens or not is_sqlite(engine):
        return {}
    from paperfeed.storage.search import token_doc_counts

    return token_doc_counts(conn, tokens)[1]


def pick_anchors(rule: Rule, counts: dict[str, int]) -> list[str]:
    """The rule's anchors: its rarest required token by `counts` (ties: the longer)."""
    if counts:
        return rule.anchors(lambda t: (-counts.get(t, 0), len(t)))
    return rule.anchors()


def anchors_for(engine: Engine, conn: Connection, rule: Rule) -> list[str]:
    return pick_anchors(rule, doc_counts(engine, conn, rule.required_tokens()))


def query_vector(settings: Settings, text: str) -> tuple[bytes | None, str | None]:
    """The query's embedding as stored bytes and the model id, or (None, None) without a
    model (the matcher embeds it later)."""
    if not text.strip():
        return None, None
    try:
        from paperfeed.search.embed import cached_embedder

        embedder = cached_embedder(settings)
        vec = np.asarray(embedder.embed_query(text), dtype=np.float32)
        return vec.tobytes(), str(embedder.model_id)
    except PaperfeedError as exc:
        log.warning("alerts: query not embedded now (%s); the matcher retries", exc)
        return None, None


def paper_vector(
    settings: Settings, engine: Engine, paper_id: str
) -> tuple[bytes | None, str | None]:
    from paperfeed.search.neighbours import open_neighbours

    try:
        neighbours = open_neighbours(settings, engine)
        found = neighbours.vectors([paper_id])
    except PaperfeedError as exc:
        log.warning("alerts: paper vector not read now (%s); the matcher retries", exc)
        return None, None
    vec = found.get(paper_id)
    if vec is None:
        return None, None
    return np.asarray(vec, dtype=np.float32).tobytes(), neighbours.model_id


# The same search saved again by its member within this time is one form sent twice (a double
# click, a reload that re-sent it), not a second saved search.
DOUBLE_SUBMIT = timedelta(minutes=2)


def _default_name(query: str, like_title: str | None) -> str:
    if like_title:
        name = "Papers like: " + " ".join(like_title.split())
    else:
        name = query
    return name if len(name) <= 100 else name[:99].rstrip() + "…"


def _known(search_id: int) -> int:
    if not 1 <= search_id <= MAX_ID:
        raise NotFound(f"alerts: there is no saved search {str(search_id)[:24]}")
    return search_id


def create_search(
    engine: Engine,
    settings: Settings,
    member: Member,
    *,
    query: str = "",
    like: str | None = None,
    name: str | None = None,
    semantic: bool = False,
    delivery: str = "daily",
    now: datetime,
) -> int:
    """Save a search (words and filters, or papers like `like`, or both). Returns its id."""
    require_active(member)
    check_delivery(delivery)
    text = clean_text(query or "")
    if len(text) > MAX_QUERY:
        raise BadRequest(f"alerts: a saved search has at most {MAX_QUERY} characters")
    rule = compile_rule(text)
    like_id: str | None = None
    like_title: str | None = None
    if like:
        try:
            like_id = normalize_arxiv_id(like)
        except BadRequest:
            raise NotFound(f"alerts: no paper {like[:80]!r}") from None
        with engine.connect() as conn:
            row = get_paper(conn, like_id)
        if row is None or row["hidden"]:
            raise NotFound(f"alerts: no paper {like_id!r} in this catalog")
        like_title = str(row["title"])
    if like_id is None and rule.empty:
        raise BadRequest(
            "alerts: the search has no words or filters to match (try words, \"a phrase\", "
            "author:name or cat:cs.CL)"
        )
    label = clean_name(name) if name and name.strip() else clean_name(
        _default_name(text, like_title)
    )
    if like_id is not None:
        vector, model_id = paper_vector(settings, engine, like_id)
    elif semantic and rule.text:
        vector, model_id = query_vector(settings, rule.text)
    else:
        vector, model_id = None, None
    semantic = bool(semantic) and like_id is None
    with write(engine) as conn:
        same = store.same_recent_search(
            conn, user_id=member.id, name=label, query=text, like_paper_id=like_id,
            semantic=semantic, delivery=delivery, since=now - DOUBLE_SUBMIT)
        if same is not None:  # a double click or a re-sent form: saved once
            return same
        if store.count_for_user(conn, member.id) >= settings.alerts_max_per_member:
            raise BadRequest(
                f"alerts: at most {settings.alerts_max_per_member} saved searches per member; "
                "delete one first"
            )
        anchors = anchors_for(engine, conn, rule) if like_id is None else []
        return store.create_search(
            conn, user_id=member.id, name=label, query=text, like_paper_id=like_id,
            semantic=semantic, delivery=delivery,
            rule=rule.to_json(), vector=vector, model_id=model_id, anchors=anchors, now=now,
        )


def own_search(engine: Engine, member: Member, search_id: int) -> SearchRow:
    with engine.connect() as conn:
        row = store.get_search(conn, _known(search_id))
    if row is None or row.user_id != member.id:
        raise NotFound(f"alerts: you have no saved search {search_id}")
    return row


def my_searches(engine: Engine, member: Member) -> list[SearchRow]:
    with engine.connect() as conn:
        return store.list_for_user(conn, member.id)


def update_search(
    engine: Engine,
    settings: Settings,
    member: Member,
    search_id: int,
    *,
    name: str | None = None,
    query: str | None = None,
    semantic: bool | None = None,
    delivery: str | None = None,
    now: datetime,
) -> None:
    """Rename, change the words, the meaning option or the delivery (None: unchanged).
    Changing the words applies to papers that arrive from now on."""
    require_active(member)
    current = own_search(engine, member, search_id)
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = clean_name(name)
    if delivery is not None:
        values["delivery"] = check_delivery(delivery)
    text = current.query if query is None else clean_text(query)
    if len(text) > MAX_QUERY:
        raise BadRequest(f"alerts: a saved search has at most {MAX_QUERY} characters")
    rule = compile_rule(text)
    if current.like_paper_id is None and rule.empty:
        raise BadRequest("alerts: the search has no words or filters to match")
    want_semantic = current.semantic if semantic is None else bool(semantic)
    if current.like_paper_id is not None:
        want_semantic = False
    if query is not None or semantic is not None:
        values.update(query=text, rule=rule.to_json(), semantic=want_semantic)
        if current.like_paper_id is None:
            vector, model_id = (
                query_vector(settings, rule.text) if want_semantic and rule.text else (None, None)
            )
            values.update(vector=vector, model_id=model_id)
    with write(engine) as conn:
        if store.lock_search(conn, search_id) != member.id:
            raise NotFound(f"alerts: you have no saved search {search_id}")
        store.update_search(conn, search_id, now=now, **values)
        if "rule" in values:
            anchors = anchors_for(engine, conn, rule) if current.like_paper_id is None else []
            store.set_anchors(conn, search_id, anchors)


def delete_search(engine: Engine, member: Member, search_id: int) -> None:
    with write(engine) as conn:
        if store.lock_search(conn, _known(search_id)) != member.id:
            raise NotFound(f"alerts: you have no saved search {search_id}")
        store.delete_search(conn, search_id)


def search_matches(
    engine: Engine, member: Member, search_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[SearchRow, list[MatchRow]]:
    search = own_search(engine, member, search_id)
    with engine.connect() as conn:
        return search, store.matches_of(conn, search_id, limit=limit, offset=offset)
