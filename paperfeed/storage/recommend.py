""""For you" storage: members' signals (upvotes, submissions, feedback), their fitted profiles,
and the catalog reads the recommender needs. All of the recommender's SQL lives here.

A profile row is small (a float32 query vector of the embedding width, a keyword profile of at
most a few hundred terms, the ids of up to a few hundred positive papers), so 100k members is a
few hundred MB in the database and needs no separate service.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Select,
    String,
    any_,
    bindparam,
    delete,
    func,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.storage.schema import (
    embeddings,
    featured,
    papers,
    recommend_feedback,
    recommend_profiles,
    votes,
)

FEEDBACK_KINDS = ("more", "less", "up", "down", "seed", "import")
POSITIVE_FEEDBACK = ("more", "up", "seed", "import")
NEGATIVE_FEEDBACK = ("less", "down")
CHUNK = 500


@dataclass(slots=True)
class Signal:
    """One thing a member did with a paper: `kind` is upvote, submit, save or a feedback kind."""

    paper_id: str
    kind: str
    at: datetime


@dataclass(slots=True)
class StoredProfile:
    user_id: int
    model_id: str | None = None
    dim: int | None = None
    weights: np.ndarray | None = None
    keywords: dict[str, float] = field(default_factory=dict)
    anchors: list[tuple[str, str]] = field(default_factory=list)
    positives: int = 0
    negatives: int = 0
    categories: list[str] = field(default_factory=list)
    popularity: bool = False
    version: int = 0
    fitted_at: datetime | None = None
    authors: dict[str, float] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    missing: int = 0  # liked papers that had no vector at the last fit


@dataclass(slots=True)
class PaperDoc:
    """What the recommender's sparse features are computed from."""

    title: str
    abstract: str
    authors: list[str]  # display names, in byline order
    topics: list[str]  # Hugging Face ai_keywords, lower-cased


def _among(conn: Connection, col: Any, ids: list[str]) -> Any:
    """`col IN ids`; on PostgreSQL `col = ANY(:ids)` with the list bound as one array, which
    saves compiling and binding one parameter per id (~1 ms of CPU per 200 ids) and keeps one
    statement text whatever the length."""
    if conn.dialect.name == "postgresql":
        return col == any_(bindparam(None, ids, type_=ARRAY(String)))
    return col.in_(ids)


def _insert(conn: Connection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


# -- signals ----------------------------------------------------------------------------------
def member_signals(
    conn: Connection, user_id: int, *, before: datetime | None = None, limit: int = 2000
) -> list[Signal]:
    """The member's upvotes, own submissions and feedback on visible papers, newest first, at
    most `limit` of each source; with `before`, only what happened before then.

    A submission is dated by its featured day (imported 2024 Hugging Face lists carry no
    submission time; a member's own submission is featured on the day it is made)."""
    visible = papers.c.hidden.is_(False)
    out: list[Signal] = []
    query = (
        select(votes.c.paper_id, votes.c.created_at)
        .join(papers, papers.c.id == votes.c.paper_id)
        .where(votes.c.user_id == user_id, visible)
        .order_by(votes.c.created_at.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(votes.c.created_at < before)
    out.extend(Signal(pid, "upvote", at) for pid, at in conn.execute(query))
    query = (
        select(featured.c.paper_id, featured.c.day)
        .join(papers, papers.c.id == featured.c.paper_id)
        .where(featured.c.submitter_id == user_id, featured.c.removed.is_(False), visible)
        .order_by(featured.c.day.desc(), featured.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(featured.c.day < before.date())
    out.extend(
        Signal(pid, "submit", datetime.combine(day, datetime.min.time()))
        for pid, day in conn.execute(query)
    )
    fb_query = (
        select(recommend_feedback.c.paper_id, recommend_feedback.c.kind,
               recommend_feedback.c.created_at)
        .join(papers, papers.c.id == recommend_feedback.c.paper_id)
        .where(recommend_feedback.c.user_id == user_id, visible)
        .order_by(recommend_feedback.c.created_at.desc())
        .limit(limit)
    )
    if before is not None:
        fb_query = fb_query.where(recommend_feedback.c.created_at < before)
    out.extend(Signal(str(pid), str(kind), at) for pid, kind, at in conn.execute(fb_query))
    out.sort(key=lambda s: s.at, reverse=True)
    return out


def acted_on(conn: Connection, user_id: int, *, limit: int = 500) -> set[str]:
    """Ids of the papers the member upvoted, submitted or gave feedback on (the newest `limit`
    of each source), in one statement: what their catalog ranking leaves out. Hidden papers
    are not filtered here (the nearest-paper query never returns them)."""
    parts = [
        select(votes.c.paper_id.label("paper_id")).where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc()).limit(limit),
        select(featured.c.paper_id.label("paper_id"))
        .where(featured.c.submitter_id == user_id, featured.c.removed.is_(False))
        .order_by(featured.c.day.desc(), featured.c.id.desc()).limit(limit),
        select(recommend_feedback.c.paper_id.label("paper_id"))
        .where(recommend_feedback.c.user_id == user_id)
        .order_by(recommend_feedback.c.created_at.desc()).limit(limit),
    ]
    subs = [part.subquery() for part in parts]
    return {str(pid) for pid in conn.execute(union_all(*(select(sub.c.paper_id)
                                                          for sub in subs))).scalars()}


def set_feedback(
    conn: Connection, user_id: int, paper_ids: Sequence[str], kind: str, *, now: datetime
) -> int:
    """Record (or replace) the member's feedback on papers that exist; returns how many."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(kind)
    known = known_papers(conn, paper_ids)
    rows = [{"user_id": user_id, "paper_id": pid, "kind": kind, "created_at": now}
            for pid in dict.fromkeys(paper_ids) if pid in known]
    if not rows:
        return 0
    ins = _insert(conn)(recommend_feedback).values(rows)
    conn.execute(ins.on_conflict_do_update(
        index_elements=[recommend_feedback.c.user_id, recommend_feedback.c.paper_id],
        set_={"kind": ins.excluded.kind, "created_at": ins.excluded.created_at},
    ))
    return len(rows)


def clear_feedback(conn: Connection, user_id: int, paper_id: str) -> bool:
    result = conn.execute(delete(recommend_feedback).where(
        recommend_feedback.c.user_id == user_id, recommend_feedback.c.paper_id == paper_id))
    return result.rowcount == 1


def feedback_of(conn: Connection, user_id: int, paper_ids: Sequence[str]) -> dict[str, str]:
    """The member's feedback kind on each of `paper_ids` that has one."""
    out: dict[str, str] = {}
    for i in range(0, len(paper_ids), CHUNK):
        chunk = list(paper_ids[i : i + CHUNK])
        out.update(conn.execute(
            select(recommend_feedback.c.paper_id, recommend_feedback.c.kind).where(
                recommend_feedback.c.user_id == user_id,
                _among(conn, recommend_feedback.c.paper_id, chunk),
            )
        ).all())
    return out


def members_acting_on(conn: Connection, paper_ids: Sequence[str], *, limit: int = 200) -> list[int]:
    """Members who upvoted, submitted or gave feedback on any of `paper_ids` (at most `limit`):
    whose model may have been fitted before those papers had a vector."""
    ids = list(dict.fromkeys(paper_ids))[:CHUNK]
    if not ids:
        return []
    found: dict[int, None] = {}
    for query in (
        select(votes.c.user_id).where(votes.c.paper_id.in_(ids)),
        select(featured.c.submitter_id).where(featured.c.paper_id.in_(ids),
                                              featured.c.submitter_id.is_not(None)),
        select(recommend_feedback.c.user_id).where(recommend_feedback.c.paper_id.in_(ids)),
    ):
        for uid in conn.execute(query.distinct().limit(limit)).scalars():
            found.setdefault(int(uid))
    return list(found)[:limit]


# -- profiles ---------------------------------------------------------------------------------
def _profile(row: Any) -> StoredProfile:
    weights = None
    if row.weights is not None and row.dim:
        weights = np.frombuffer(row.weights, dtype="<f4", count=row.dim).astype(np.float32)
    return StoredProfile(
        user_id=row.user_id,
        model_id=row.model_id,
        dim=row.dim,
        weights=weights,
        keywords={str(k): float(v) for k, v in (row.keywords or {}).items()},
        anchors=[(str(a[0]), str(a[1])) for a in (row.anchors or [])],
        positives=int(row.positives or 0),
        negatives=int(row.negatives or 0),
        categories=[str(c) for c in (row.categories or [])],
        popularity=bool(row.popularity),
        version=int(row.version or 0),
        fitted_at=row.fitted_at,
        authors={str(k): float(v) for k, v in (row.authors or {}).items()},
        topics=[str(t) for t in (row.topics or [])],
        missing=int(row.missing or 0),
    )


def get_profile(conn: Connection, user_id: int) -> StoredProfile | None:
    row = conn.execute(
        select(recommend_profiles).where(recommend_profiles.c.user_id == user_id)
    ).first()
    return _profile(row) if row is not None else None


def _ensure_profile(conn: Connection, user_id: int, now: datetime) -> None:
    ins = _insert(conn)(recommend_profiles).values(
        user_id=user_id, positives=0, negatives=0, popularity=False, version=0, updated_at=now
    )
    conn.execute(ins.on_conflict_do_nothing(index_elements=[recommend_profiles.c.user_id]))


def save_fit(
    conn: Connection,
    user_id: int,
    *,
    model_id: str | None,
    weights: np.ndarray | None,
    keywords: dict[str, float],
    anchors: Sequence[tuple[str, str]],
    positives: int,
    negatives: int,
    now: datetime,
    authors: dict[str, float] | None = None,
    missing: int = 0,
) -> int:
    """Store a freshly fitted model (creating the row); returns the new version."""
    _ensure_profile(conn, user_id, now)
    blob = None if weights is None else np.asarray(weights, dtype="<f4").tobytes()
    conn.execute(
        update(recommend_profiles)
        .where(recommend_profiles.c.user_id == user_id)
        .values(
            model_id=model_id,
            dim=None if weights is None else int(len(weights)),
            weights=blob,
            keywords={k: round(float(v), 6) for k, v in keywords.items()},
            authors={k: round(float(v), 6) for k, v in (authors or {}).items()},
            anchors=[[pid, kind] for pid, kind in anchors],
            missing=missing,
            positives=positives,
            negatives=negatives,
            version=recommend_profiles.c.version + 1,
            fitted_at=now,
            updated_at=now,
        )
    )
    return int(conn.execute(
        select(recommend_profiles.c.version).where(recommend_profiles.c.user_id == user_id)
    ).scalar_one())


def set_choices(
    conn: Connection,
    user_id: int,
    *,
    now: datetime,
    categories: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    popularity: bool | None = None,
) -> None:
    """Store the member's cold-start categories or topics and/or popularity opt-in."""
    _ensure_profile(conn, user_id, now)
    values: dict[str, Any] = {"updated_at": now}
    if categories is not None:
        values["categories"] = list(dict.fromkeys(categories))
    if topics is not None:
        values["topics"] = list(dict.fromkeys(topics))
    if popularity is not None:
        values["popularity"] = popularity
    conn.execute(
        update(recommend_profiles).where(recommend_profiles.c.user_id == user_id).values(**values)
    )


def profile_sizes(conn: Connection) -> tuple[int, int]:
    """(profiles, total bytes of their weights + keyword + anchor columns), for the bench."""
    rows = conn.execute(
        select(recommend_profiles.c.weights, recommend_profiles.c.keywords,
               recommend_profiles.c.anchors, recommend_profiles.c.authors)
    )
    import json

    n = total = 0
    for w, k, a, au in rows:
        n += 1
        total += (len(w or b"") + len(json.dumps(k or {})) + len(json.dumps(a or []))
                  + len(json.dumps(au or {})))
    return n, total


# -- catalog reads ----------------------------------------------------------------------------
def known_papers(conn: Connection, paper_ids: Iterable[str]) -> set[str]:
    """Which of `paper_ids` are visible papers in the catalog."""
    ids = list(dict.fromkeys(paper_ids))
    found: set[str] = set()
    for i in range(0, len(ids), CHUNK):
        found.update(conn.execute(
            select(papers.c.id).where(papers.c.id.in_(ids[i : i + CHUNK]),
                                      papers.c.hidden.is_(False))
        ).scalars())
    return found


def paper_texts(conn: Connection, paper_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{id: (title, abstract)} of those papers (keyword features are computed from these)."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(paper_ids), CHUNK):
        rows = conn.execute(select(papers.c.id, papers.c.title, papers.c.abstract).where(
            papers.c.id.in_(list(paper_ids[i : i + CHUNK]))))
        out.update({pid: (t or "", a or "") for pid, t, a in rows})
    return out


def paper_docs(conn: Connection, paper_ids: Sequence[str]) -> dict[str, PaperDoc]:
    """{id: title, abstract, author names, ai_keywords topics} of those papers."""
    out: dict[str, PaperDoc] = {}
    for i in range(0, len(paper_ids), CHUNK):
        rows = conn.execute(select(
            papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors,
            papers.c.ai_keywords,
        ).where(papers.c.id.in_(list(paper_ids[i : i + CHUNK]))))
        for pid, title, abstract, authors, topics in rows:
            out[pid] = PaperDoc(title or "", abstract or "", _names(authors), _topics(topics))
    return out


def paper_bylines(conn: Connection, paper_ids: Sequence[str]) -> dict[str, list[str]]:
    """{id: author names, byline order} of those papers: what the author part of a catalog
    ranking needs, without reading the abstracts."""
    out: dict[str, list[str]] = {}
    for i in range(0, len(paper_ids), CHUNK):
        rows = conn.execute(select(papers.c.id, papers.c.authors)
                            .where(_among(conn, papers.c.id, list(paper_ids[i : i + CHUNK]))))
        out.update((pid, _names(authors)) for pid, authors in rows)
    return out


def _names(authors: Any) -> list[str]:
    if not isinstance(authors, list):
        return []
    names = (a.get("name") if isinstance(a, dict) else a for a in authors)
    return [n for n in names if isinstance(n, str) and n.strip()]


def _topics(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [" ".join(t.split()).lower() for t in value if isinstance(t, str) and t.strip()]


def paper_cards(conn: Connection, paper_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Light rows (id, title, published_at, upvotes, categories) for lists and reasons."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(paper_ids), CHUNK):
        rows = conn.execute(select(
            papers.c.id, papers.c.title, papers.c.published_at, papers.c.primary_category,
            (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"),
        ).where(_among(conn, papers.c.id, list(paper_ids[i : i + CHUNK])))).mappings()
        out.update({r["id"]: dict(r) for r in rows})
    return out


def paper_rows(conn: Connection, paper_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Card rows (title, abstract, authors, upvotes, comments, dates) of visible papers."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(paper_ids), CHUNK):
        rows = conn.execute(select(
            papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors,
            papers.c.published_at, papers.c.upstream_comments, papers.c.primary_category,
            papers.c.categories,
            (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"),
        ).where(papers.c.id.in_(list(paper_ids[i : i + CHUNK])),
                papers.c.hidden.is_(False))).mappings()
        out.update({r["id"]: dict(r) for r in rows})
    return out


def member_seeds(conn: Connection, user_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """The member's seed and imported papers (id, title, kind), newest first."""
    rows = conn.execute(
        select(recommend_feedback.c.paper_id, papers.c.title, recommend_feedback.c.kind)
        .join(papers, papers.c.id == recommend_feedback.c.paper_id)
        .where(recommend_feedback.c.user_id == user_id,
               recommend_feedback.c.kind.in_(["seed", "import"]))
        .order_by(recommend_feedback.c.created_at.desc(), recommend_feedback.c.paper_id)
        .limit(limit)
    )
    return [{"id": pid, "title": title, "kind": kind} for pid, title, kind in rows]


def featured_ids(conn: Connection, start: date, end: date) -> list[str]:
    """Visible papers featured (not removed) on a day in [start, end]."""
    return list(dict.fromkeys(conn.execute(
        select(featured.c.paper_id)
        .join(papers, papers.c.id == featured.c.paper_id)
        .where(featured.c.day >= start, featured.c.day <= end,
               featured.c.removed.is_(False), papers.c.hidden.is_(False))
        .order_by(featured.c.day, featured.c.id)
    ).scalars()))


def _newest_with_vectors(query: Select[Any], model_id: str, *, limit: int,
                        before: datetime | None) -> Select[Any]:
    """`query` over the `limit` newest visible dated papers with a vector of `model_id`
    (published before `before` when given), newest first."""
    query = (
        query.join(embeddings, embeddings.c.paper_id == papers.c.id)
        .where(embeddings.c.model_id == model_id, papers.c.hidden.is_(False),
               papers.c.published_at.is_not(None))
        .order_by(papers.c.published_at.desc(), papers.c.id)
        .limit(limit)
    )
    if before is not None:
        query = query.where(papers.c.published_at < before)
    return query


def recent_ids(
    conn: Connection, model_id: str, *, limit: int, before: datetime | None = None,
    categories: Sequence[str] = (),
) -> list[str]:
    """The newest visible papers with a vector of `model_id` (published before `before` when
    given; of the primary `categories` when given): the background of sampled negatives and
    the pool of cold-start papers."""
    query = _newest_with_vectors(select(papers.c.id), model_id, limit=limit, before=before)
    if categories:
        query = query.where(papers.c.primary_category.in_(list(categories)))
    return list(conn.execute(query).scalars())


def recent_topics(
    conn: Connection, model_id: str, *, pool: int, before: datetime | None = None,
) -> dict[str, list[str]]:
    """{topic: paper ids, newest first} of the Hugging Face `ai_keywords` of the `pool` newest
    visible papers with a vector of `model_id`: the cold-start topics of catalogs whose papers
    carry no arXiv category (one light read: no texts)."""
    query = _newest_with_vectors(select(papers.c.id, papers.c.ai_keywords), model_id,
                                 limit=pool, before=before)
    out: dict[str, list[str]] = {}
    for pid, value in conn.execute(query):
        for topic in dict.fromkeys(_topics(value)):
            out.setdefault(topic, []).append(pid)
    return out


def top_categories(conn: Connection, *, limit: int = 40) -> list[tuple[str, int]]:
    """The most common primary categories of the catalog, for the cold-start picker."""
    rows = conn.execute(
        select(papers.c.primary_category, func.count())
        .where(papers.c.primary_category.is_not(None), papers.c.hidden.is_(False))
        .group_by(papers.c.primary_category)
        .order_by(func.count().desc(), papers.c.primary_category)
        .limit(limit)
    )
    return [(str(c), int(n)) for c, n in rows]


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def find_titles(conn: Connection, titles: Sequence[str]) -> dict[str, str]:
    """{lower-cased title: paper id} for exact (case-insensitive) title matches.

    SQL lower() folds ASCII letters only on SQLite and every letter on PostgreSQL, so each
    title is looked up both fully and ASCII-only lower-cased (a "Prism-Δ: ..." title matched
    on PostgreSQL only), and the rows found are checked in Python alike on both engines. On
    SQLite a non-ASCII letter must still be typed in the catalog's case."""
    wanted = {t.strip().lower() for t in titles if t.strip()}
    keys = list(dict.fromkeys(
        key for t in titles if t.strip()
        for key in (t.strip().lower(), t.strip().translate(_ASCII_LOWER))))
    out: dict[str, str] = {}
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        rows = conn.execute(select(papers.c.id, papers.c.title).where(
            func.lower(papers.c.title).in_(chunk), papers.c.hidden.is_(False))
            .order_by(papers.c.id))
        for pid, title in rows:
            key = str(title).lower()
            if key in wanted:
                out.setdefault(key, str(pid))
    return out


def find_dois(conn: Connection, dois: Sequence[str]) -> dict[str, str]:
    """{lower-cased DOI: paper id} for papers whose DOI is recorded."""
    wanted = [d.strip().lower() for d in dois if d.strip()]
    out: dict[str, str] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = conn.execute(select(papers.c.id, func.lower(papers.c.doi)).where(
            func.lower(papers.c.doi).in_(wanted[i : i + CHUNK])))
        for pid, doi in rows:
            out.setdefault(str(doi), str(pid))
    return out
