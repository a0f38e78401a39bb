"""Saved searches and alerts storage: the searches and their anchor index, the new papers the
matcher has to look at, the matches it found, and the claims of alert mail.

Matching is incremental: `alert_scans` records each new paper once its words were matched
(and again once its vector was), so every paper is looked at once however many processes
ingest and match; `saved_search_matches` has one row per (search, paper) (INSERT .. ON
CONFLICT DO NOTHING), so a paper never matches a search twice. Mail takes matches that no
mail carried yet and stamps them with its edition in the same transaction that claims the
(member, edition) delivery, so a message's content is fixed by its claim: a sender that takes
over a dead one's claim sends exactly what that one would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.selectable import ScalarSelect, Select

from paperfeed.storage.deliveries import ALERTS, Claim, insert_ignore
from paperfeed.storage.schema import (
    alert_deliveries,
    alert_scans,
    papers,
    saved_search_anchors,
    saved_search_matches,
    saved_searches,
    users,
)
from paperfeed.storage.users import lock_member

_CHUNK = 500
DELIVERIES = ("daily", "weekly", "digest", "none")


@dataclass(frozen=True, slots=True)
class SearchRow:
    id: int
    user_id: int
    name: str
    query: str
    like_paper_id: str | None
    semantic: bool
    delivery: str
    created_at: datetime
    updated_at: datetime
    last_match_at: datetime | None
    vector: bytes | None = None
    model_id: str | None = None
    rule: dict[str, object] | None = None
    matches: int = 0  # visible matches so far (listing only)
    like_title: str | None = None


_SEARCH_COLUMNS = (
    saved_searches.c.id,
    saved_searches.c.user_id,
    saved_searches.c.name,
    saved_searches.c.query,
    saved_searches.c.like_paper_id,
    saved_searches.c.semantic,
    saved_searches.c.delivery,
    saved_searches.c.created_at,
    saved_searches.c.updated_at,
    saved_searches.c.last_match_at,
    saved_searches.c.rule,
)


def _search(r: Any, *, with_vector: bool = False) -> SearchRow:
    m = r._mapping
    return SearchRow(
        id=int(m["id"]),
        user_id=int(m["user_id"]),
        name=m["name"],
        query=m["query"] or "",
        like_paper_id=m["like_paper_id"],
        semantic=bool(m["semantic"]),
        delivery=m["delivery"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_match_at=m["last_match_at"],
        vector=m["vector"] if with_vector else None,
        model_id=m["model_id"] if with_vector else None,
        rule=m["rule"] if isinstance(m["rule"], dict) else None,
        matches=int(m["n"]) if "n" in m else 0,
        like_title=m["like_title"] if "like_title" in m else None,
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# -- saved searches -----------------------------------------------------------------------
def same_recent_search(
    conn: Connection, *, user_id: int, name: str, query: str, like_paper_id: str | None,
    semantic: bool, delivery: str, since: datetime,
) -> int | None:
    """The id of the member's search saved at or after `since` with exactly these fields (a
    form sent twice), or None. Call it in the write transaction that then saves: the member's
    row is locked first (`users.lock_member`), so two copies sent at once cannot both find
    none."""
    lock_member(conn, user_id)
    like = (saved_searches.c.like_paper_id.is_(None) if like_paper_id is None
            else saved_searches.c.like_paper_id == like_paper_id)
    found = conn.execute(
        select(saved_searches.c.id)
        .where(saved_searches.c.user_id == user_id, saved_searches.c.created_at >= since,
               saved_searches.c.name == name, saved_searches.c.query == query, like,
               saved_searches.c.semantic == semantic, saved_searches.c.delivery == delivery)
        .order_by(saved_searches.c.id.desc())
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def create_search(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    query: str,
    like_paper_id: str | None,
    semantic: bool,
    delivery: str,
    rule: dict[str, object],
    vector: bytes | None,
    model_id: str | None,
    anchors: Sequence[str],
    now: datetime,
) -> int:
    result = conn.execute(
        saved_searches.insert().values(
            user_id=user_id, name=name, query=query, like_paper_id=like_paper_id,
            semantic=semantic, delivery=delivery, rule=rule, vector=vector, model_id=model_id,
            created_at=now, updated_at=now,
        )
    )
    sid = int(result.inserted_primary_key[0])  # type: ignore[index]
    set_anchors(conn, sid, anchors)
    return sid


def set_anchors(conn: Connection, search_id: int, anchors: Sequence[str]) -> None:
    conn.execute(delete(saved_search_anchors).where(saved_search_anchors.c.search_id == search_id))
    rows = [{"token": t[:80], "search_id": search_id} for t in dict.fromkeys(anchors)]
    if rows:
        conn.execute(insert_ignore(conn, saved_search_anchors), rows)


def update_search(conn: Connection, search_id: int, *, now: datetime, **values: object) -> None:
    conn.execute(
        update(saved_searches)
        .where(saved_searches.c.id == search_id)
        .values(updated_at=now, **values)
    )


def delete_search(conn: Connection, search_id: int) -> None:
    conn.execute(delete(saved_search_anchors).where(saved_search_anchors.c.search_id == search_id))
    conn.execute(delete(saved_search_matches).where(saved_search_matches.c.search_id == search_id))
    conn.execute(delete(saved_searches).where(saved_searches.c.id == search_id))


def lock_search(conn: Connection, search_id: int) -> int | None:
    """Lock the search row for this transaction; its owner, or None when there is none."""
    query = select(saved_searches.c.user_id).where(saved_searches.c.id == search_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    owner = conn.execute(query).scalar_one_or_none()
    return int(owner) if owner is not None else None


def _visible_matches() -> ScalarSelect[int]:
    joined = saved_search_matches.join(papers, papers.c.id == saved_search_matches.c.paper_id)
    return (
        select(func.count())
        .select_from(joined)
        .where(saved_search_matches.c.search_id == saved_searches.c.id, papers.c.hidden == false())
        .scalar_subquery()
    )


def get_search(conn: Connection, search_id: int, *, with_vector: bool = False) -> SearchRow | None:
    cols = [*_SEARCH_COLUMNS, _visible_matches().label("n")]
    if with_vector:
        cols += [saved_searches.c.vector, saved_searches.c.model_id]
    title = select(papers.c.title).where(papers.c.id == saved_searches.c.like_paper_id)
    row = conn.execute(
        select(*cols, title.scalar_subquery().label("like_title")).where(
            saved_searches.c.id == search_id
        )
    ).first()
    return _search(row, with_vector=with_vector) if row is not None else None


def list_for_user(conn: Connection, user_id: int) -> list[SearchRow]:
    title = select(papers.c.title).where(papers.c.id == saved_searches.c.like_paper_id)
    rows = conn.execute(
        select(
            *_SEARCH_COLUMNS,
            _visible_matches().label("n"),
            title.scalar_subquery().label("like_title"),
        )
        .where(saved_searches.c.user_id == user_id)
        .order_by(saved_searches.c.created_at.desc(), saved_searches.c.id.desc())
    )
    return [_search(r) for r in rows]


def count_for_user(conn: Connection, user_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(saved_searches).where(
                saved_searches.c.user_id == user_id
            )
        ).scalar_one()
    )


def has_searches(conn: Connection) -> bool:
    return conn.execute(select(saved_searches.c.id).limit(1)).first() is not None


def earliest_search(conn: Connection) -> datetime | None:
    return conn.execute(select(func.min(saved_searches.c.created_at))).scalar_one_or_none()


# -- what the matcher reads ---------------------------------------------------------------
def _with_owner() -> Any:
    """Searches joined to their owner (to leave banned members' out). A join, not
    `user_id IN (SELECT ...)`: with the latter SQLite walked the user_id index over every
    search for each chunk of ids (minutes at 100k searches)."""
    return saved_searches.join(users, users.c.id == saved_searches.c.user_id)


def candidates_by_anchor(conn: Connection, tokens: Iterable[str]) -> set[int]:
    """Ids of searches anchored on any of `tokens` (one indexed lookup per 500 tokens)."""
    found: set[int] = set()
    unique = sorted({t[:80] for t in tokens})
    for part in _chunks(unique):
        found.update(
            conn.execute(
                select(saved_search_anchors.c.search_id).where(
                    saved_search_anchors.c.token.in_(part)
                )
            ).scalars()
        )
    return found


def load_searches(conn: Connection, ids: Iterable[int]) -> list[SearchRow]:
    """Searches by id (of members not banned), for the words pass."""
    out: list[SearchRow] = []
    for part in _chunks(sorted(ids)):
        rows = conn.execute(
            select(*_SEARCH_COLUMNS)
            .select_from(_with_owner())
            .where(saved_searches.c.id.in_(part), users.c.banned == false())
        )
        out.extend(_search(r) for r in rows)
    return out


def iter_semantic_searches(conn: Connection, *, batch: int = 5000) -> Iterator[list[SearchRow]]:
    """Every search matched by meaning (semantic text searches with a stored vector, and
    "like this paper" searches), in batches by id: the meaning pass streams them."""
    after = 0
    while True:
        rows = conn.execute(
            select(*_SEARCH_COLUMNS, saved_searches.c.vector, saved_searches.c.model_id)
            .select_from(_with_owner())
            .where(
                saved_searches.c.id > after,
                or_(
                    and_(saved_searches.c.semantic == true(), saved_searches.c.vector.is_not(None)),
                    saved_searches.c.like_paper_id.is_not(None),
                ),
                users.c.banned == false(),
            )
            .order_by(saved_searches.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield [_search(r, with_vector=True) for r in rows]
        after = int(rows[-1]._mapping["id"])


def anchors_of(conn: Connection, ids: Iterable[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for part in _chunks(sorted(ids)):
        for token, sid in conn.execute(
            select(saved_search_anchors.c.token, saved_search_anchors.c.search_id).where(
                saved_search_anchors.c.search_id.in_(part)
            )
        ):
            out.setdefault(int(sid), []).append(str(token))
    return out


@dataclass(frozen=True, slots=True)
class NewPaper:
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: datetime | None
    indexed_at: datetime


_PAPER_COLUMNS = (
    papers.c.id,
    papers.c.title,
    papers.c.abstract,
    papers.c.authors,
    papers.c.categories,
    papers.c.published_at,
    papers.c.indexed_at,
)


def _paper(r: Any) -> NewPaper:
    m = r._mapping
    return NewPaper(
        id=m["id"],
        title=m["title"] or "",
        abstract=m["abstract"] or "",
        authors=[str(a.get("name", "")) for a in (m["authors"] or []) if isinstance(a, dict)],
        categories=[str(c) for c in (m["categories"] or [])],
        published_at=m["published_at"],
        indexed_at=m["indexed_at"],
    )


def unscanned_papers(conn: Connection, *, since: datetime, limit: int) -> list[NewPaper]:
    """Visible papers first stored at or after `since` that no matcher has looked at yet,
    oldest first."""
    rows = conn.execute(
        select(*_PAPER_COLUMNS)
        .where(
            papers.c.indexed_at >= since,
            papers.c.hidden == false(),
            ~exists().where(alert_scans.c.paper_id == papers.c.id),
        )
        .order_by(papers.c.indexed_at, papers.c.id)
        .limit(limit)
    )
    return [_paper(r) for r in rows]


def meaning_pending(
    conn: Connection, *, since: datetime, after: str = "", limit: int
) -> list[NewPaper]:
    """Papers matched by words but not yet by meaning (they had no vector then), stored at or
    after `since`, by id after `after`."""
    rows = conn.execute(
        select(*_PAPER_COLUMNS)
        .select_from(papers.join(alert_scans, alert_scans.c.paper_id == papers.c.id))
        .where(
            alert_scans.c.meaning_at.is_(None),
            alert_scans.c.indexed_at >= since,
            papers.c.hidden == false(),
            papers.c.id > after,
        )
        .order_by(papers.c.id)
        .limit(limit)
    )
    return [_paper(r) for r in rows]


def record_scans(
    conn: Connection, scanned: Sequence[NewPaper], with_meaning: set[str], *, now: datetime
) -> None:
    """Mark papers as matched by words (and by meaning when in `with_meaning`)."""
    if scanned:
        conn.execute(
            insert_ignore(conn, alert_scans),
            [
                {"paper_id": p.id, "indexed_at": p.indexed_at, "words_at": now,
                 "meaning_at": now if p.id in with_meaning else None}
                for p in scanned
            ],
        )


def mark_meaning(conn: Connection, paper_ids: Sequence[str], *, now: datetime) -> None:
    for part in _chunks(list(paper_ids)):
        conn.execute(
            update(alert_scans)
            .where(alert_scans.c.paper_id.in_(part), alert_scans.c.meaning_at.is_(None))
            .values(meaning_at=now)
        )


def purge_scans(conn: Connection, *, before: datetime) -> int:
    """Forget scans of papers stored before `before` (the matcher never looks that far back)."""
    result = conn.execute(delete(alert_scans).where(alert_scans.c.indexed_at < before))
    return int(result.rowcount)


def add_matches(
    conn: Connection, matches: Iterable[tuple[int, str, float, str]], *, now: datetime
) -> int:
    """Store (search id, paper id, score, via); a pair already stored is left as it is.
    Returns how many were new."""
    rows: list[dict[str, Any]] = [
        {"search_id": sid, "paper_id": pid, "score": float(score), "via": via,
         "matched_at": now}
        for sid, pid, score, via in matches
    ]
    if not rows:
        return 0
    added = 0
    # RETURNING names the rows that went in (executemany's rowcount is -1 on psycopg).
    stmt = insert_ignore(conn, saved_search_matches).returning(saved_search_matches.c.search_id)
    for part in _chunks(rows, 1000):
        added += len(conn.execute(stmt, part).all())
    searches = sorted({int(r["search_id"]) for r in rows})
    for ids in _chunks(searches):
        conn.execute(
            update(saved_searches).where(saved_searches.c.id.in_(ids)).values(last_match_at=now)
        )
    return added


# -- reading matches ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MatchRow:
    search_id: int
    paper_id: str
    matched_at: datetime
    score: float
    via: str
    edition: str | None
    title: str
    abstract: str
    authors: list[dict[str, object]]
    categories: list[str]
    published_at: datetime | None
    upvotes: int = 0


def _match_query() -> Select[Any]:
    return select(
        saved_search_matches.c.search_id,
        saved_search_matches.c.paper_id,
        saved_search_matches.c.matched_at,
        saved_search_matches.c.score,
        saved_search_matches.c.via,
        saved_search_matches.c.edition,
        papers.c.title,
        papers.c.abstract,
        papers.c.authors,
        papers.c.categories,
        papers.c.published_at,
        (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"),
    ).select_from(
        saved_search_matches.join(papers, papers.c.id == saved_search_matches.c.paper_id)
    ).where(papers.c.hidden == false())


def _match(r: Any) -> MatchRow:
    m = r._mapping
    return MatchRow(
        search_id=int(m["search_id"]), paper_id=m["paper_id"], matched_at=m["matched_at"],
        score=float(m["score"]), via=m["via"], edition=m["edition"], title=m["title"],
        abstract=m["abstract"], authors=list(m["authors"] or []),
        categories=list(m["categories"] or []), published_at=m["published_at"],
        upvotes=int(m["upvotes"] or 0),
    )


def matches_of(
    conn: Connection, search_id: int, *, limit: int, offset: int = 0
) -> list[MatchRow]:
    """A search's visible matches, newest first."""
    query = (
        _match_query()
        .where(saved_search_matches.c.search_id == search_id)
        .order_by(
            saved_search_matches.c.matched_at.desc(),
            saved_search_matches.c.score.desc(),
            saved_search_matches.c.paper_id,
        )
        .limit(limit)
        .offset(offset)
    )
    return [_match(r) for r in conn.execute(query)]


# -- alert mail -------------------------------------------------------------------------
def claim_new(
    conn: Connection,
    *,
    edition: str,
    frequency: str,
    claimer: str,
    now: datetime,
    limit: int,
    message_id: Callable[[int], str],
    after_id: int = 0,
) -> int:
    """Claim up to `limit` members (id > `after_id`) whose `frequency` searches have matches
    no mail carried yet and who have no delivery of `edition`, and stamp those matches with
    the edition (the message's content). Same contract as `deliveries.claim_new`: returns the
    highest candidate id, 0 when there was none."""
    # Walk members in id order from the cursor (ix_saved_searches_user), probing each
    # search for one unsent match (the matches' primary key starts with search_id): a batch
    # costs the searches it passes, not every unsent match of the edition.
    unsent = exists().where(
        saved_search_matches.c.search_id == saved_searches.c.id,
        saved_search_matches.c.edition.is_(None),
        saved_search_matches.c.matched_at <= now,
    )
    delivered = exists().where(
        alert_deliveries.c.user_id == saved_searches.c.user_id,
        alert_deliveries.c.edition == edition,
    )
    candidates = [
        int(uid)
        for uid in conn.execute(
            select(saved_searches.c.user_id)
            .where(
                saved_searches.c.user_id > after_id,
                saved_searches.c.delivery == frequency,
                unsent,
                ~delivered,
            )
            .distinct()
            .order_by(saved_searches.c.user_id)
            .limit(limit)
        ).scalars()
    ]
    if not candidates:
        return 0
    conn.execute(
        insert_ignore(conn, alert_deliveries),
        [
            {"user_id": uid, "edition": edition, "status": "claimed", "claimed_by": claimer,
             "claimed_at": now, "attempts": 0, "message_id": message_id(uid)}
            for uid in candidates
        ],
    )
    mine = set(
        conn.execute(
            select(alert_deliveries.c.user_id).where(
                alert_deliveries.c.edition == edition,
                alert_deliveries.c.claimed_by == claimer,
                alert_deliveries.c.user_id.in_(candidates),
            )
        ).scalars()
    )
    for uid in sorted(mine):
        stamp(conn, user_id=uid, delivery=frequency, edition=edition, cut=now)
    return candidates[-1]


def stamp(conn: Connection, *, user_id: int, delivery: str, edition: str, cut: datetime) -> int:
    """Give the member's matches of `delivery` searches that no mail carried yet (found up to
    `cut`) to `edition`. Returns how many."""
    searches = select(saved_searches.c.id).where(
        saved_searches.c.user_id == user_id, saved_searches.c.delivery == delivery
    )
    result = conn.execute(
        update(saved_search_matches)
        .where(
            saved_search_matches.c.search_id.in_(searches),
            saved_search_matches.c.edition.is_(None),
            saved_search_matches.c.matched_at <= cut,
        )
        .values(edition=edition)
    )
    return int(result.rowcount)


def stop_emails(conn: Connection, *, user_id: int, frequency: str, now: datetime) -> int:
    """Turn the member's `frequency` alert emails off: those searches keep their page and
    feed only. Returns how many searches changed."""
    result = conn.execute(
        update(saved_searches)
        .where(saved_searches.c.user_id == user_id, saved_searches.c.delivery == frequency)
        .values(delivery="none", updated_at=now)
    )
    return int(result.rowcount)


def digest_members(conn: Connection) -> dict[int, str]:
    """{member id: email} of members (not banned) with a search delivered in the digest."""
    rows = conn.execute(
        select(users.c.id, users.c.email)
        .where(
            users.c.id.in_(
                select(saved_searches.c.user_id).where(saved_searches.c.delivery == "digest")
            ),
            users.c.banned == false(),
        )
    )
    return {int(uid): str(email or "") for uid, email in rows}


def my_claims(conn: Connection, *, edition: str, claimer: str) -> list[Claim]:
    """Alert deliveries this sender holds in `claimed`, with the member's address."""
    rows = conn.execute(
        select(
            alert_deliveries.c.user_id,
            alert_deliveries.c.attempts,
            users.c.email,
            users.c.banned,
        )
        .select_from(alert_deliveries.join(users, users.c.id == alert_deliveries.c.user_id))
        .where(
            alert_deliveries.c.edition == edition,
            alert_deliveries.c.claimed_by == claimer,
            alert_deliveries.c.status == "claimed",
        )
        .order_by(alert_deliveries.c.user_id)
    ).all()
    return [
        Claim(
            int(r.user_id), r.email or "", "confirmed" if r.email and not r.banned else
            ("banned" if r.banned else "no address"), int(r.user_id), 0, int(r.attempts),
        )
        for r in rows
    ]


def edition_matches(
    conn: Connection, *, user_id: int, edition: str, delivery: str | None = None
) -> list[tuple[SearchRow, MatchRow]]:
    """The member's matches carried by `edition` (of `delivery` searches), with their search,
    best first within each search."""
    searches = {s.id: s for s in list_for_user(conn, user_id)}
    query = (
        _match_query()
        .where(
            saved_search_matches.c.edition == edition,
            saved_search_matches.c.search_id.in_(list(searches) or [-1]),
        )
        .order_by(
            saved_search_matches.c.search_id,
            saved_search_matches.c.score.desc(),
            papers.c.published_at.desc(),
            saved_search_matches.c.paper_id,
        )
    )
    out = []
    for r in conn.execute(query):
        match = _match(r)
        search = searches[match.search_id]
        if delivery is None or search.delivery == delivery:
            out.append((search, match))
    return out


def rows_for(conn: Connection, edition: str) -> list[dict[str, object]]:
    query = select(alert_deliveries).where(alert_deliveries.c.edition == edition)
    return [dict(r) for r in conn.execute(query.order_by(alert_deliveries.c.user_id)).mappings()]


__all__ = ["ALERTS", "DELIVERIES"]
