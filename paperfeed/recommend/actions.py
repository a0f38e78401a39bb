"""What a member does on the "For you" pages and API: feedback buttons, cold-start choices
(categories, seed papers, an imported list of their own papers), active-learning rounds, the
popularity opt-in. Each action is guarded (not banned, rate-limited like votes), stored, and
followed by a refit, so its effect shows on the next page load.

Active learning (`round_papers`): ten recent papers the member has not rated, half the ones the
model is most sure they want (confirmations keep the list honest) and half the most uncertain
(the middle of the score range), each half spread out by greedy farthest-point selection so the
ten cover different topics. With no model yet, ten diverse recent papers (of the chosen
categories or topics, when there are some).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from paperfeed.accounts.guards import rate_limit, require_active
from paperfeed.config import Settings
from paperfeed.errors import BadRequest
from paperfeed.models import Member, normalize_arxiv_id
from paperfeed.recommend.importing import parse_list
from paperfeed.recommend.service import open_recommender
from paperfeed.storage import recommend as store
from paperfeed.storage.db import write

ROUND_SIZE = 10
ROUND_POOL = 400
MAX_CATEGORIES = 20
BUTTONS = {"more": "more", "less": "less"}


@dataclass(slots=True)
class ImportResult:
    entries: int
    matched: int
    unmatched: int


def _guard(engine: Engine, settings: Settings, member: Member, ip: str, now: datetime) -> None:
    require_active(member)
    rate_limit(engine, settings, "vote", member, ip=ip, now=now)


def _refit(engine: Engine, settings: Settings, member: Member, now: datetime) -> None:
    open_recommender(settings, engine).refit(member.id, now=now)


def give_feedback(
    engine: Engine, settings: Settings, member: Member, paper_id: str, kind: str, *, ip: str,
    now: datetime,
) -> None:
    """"more" (more like this), "less" (not interested) or "undo" (forget the feedback)."""
    if kind not in ("more", "less", "undo"):
        raise BadRequest("for you: feedback must be 'more', 'less' or 'undo'")
    pid = normalize_arxiv_id(paper_id)
    _guard(engine, settings, member, ip, now)
    with write(engine) as conn:
        if kind == "undo":
            store.clear_feedback(conn, member.id, pid)
        elif store.set_feedback(conn, member.id, [pid], kind, now=now) == 0:
            raise BadRequest(f"for you: no paper {pid} in the catalog")
    _refit(engine, settings, member, now)


def choose_categories(
    engine: Engine, settings: Settings, member: Member, categories: Sequence[str], *, ip: str,
    now: datetime, topics: Sequence[str] = (),
) -> list[str]:
    """Keep the member's cold-start arXiv categories and topics (those the catalog has: topics
    are the `ai_keywords` of recent Hugging Face papers, offered when papers carry no arXiv
    category), then refit. Returns what was kept."""
    _guard(engine, settings, member, ip, now)
    wanted = [c.strip() for c in categories if c.strip()][:MAX_CATEGORIES]
    with engine.connect() as conn:
        known = {c for c, _ in store.top_categories(conn, limit=500)}
    kept = [c for c in dict.fromkeys(wanted) if c in known]
    rec = open_recommender(settings, engine)
    offered = {t for t, _ in rec.topics(limit=500)} if topics else set()
    picked = [" ".join(t.split()).lower() for t in topics if t.strip()][:MAX_CATEGORIES]
    kept_topics = [t for t in dict.fromkeys(picked) if t in offered]
    with write(engine) as conn:
        store.set_choices(conn, member.id, categories=kept, topics=kept_topics, now=now)
    _refit(engine, settings, member, now)
    return kept + kept_topics


def set_popularity(
    engine: Engine, settings: Settings, member: Member, on: bool, *, ip: str, now: datetime
) -> None:
    _guard(engine, settings, member, ip, now)
    with write(engine) as conn:
        store.set_choices(conn, member.id, popularity=on, now=now)


def add_seeds(
    engine: Engine, settings: Settings, member: Member, paper_ids: Sequence[str], *, ip: str,
    now: datetime, kind: str = "seed",
) -> int:
    """Mark papers as ones the member likes (seed picks); returns how many were known."""
    ids = [normalize_arxiv_id(p) for p in paper_ids if p.strip()]
    if not ids:
        raise BadRequest("for you: pick a paper first")
    _guard(engine, settings, member, ip, now)
    with write(engine) as conn:
        added = store.set_feedback(conn, member.id, ids, kind, now=now)
    if added:
        _refit(engine, settings, member, now)
    return added


def import_papers(
    engine: Engine, settings: Settings, member: Member, text: str, *, ip: str, now: datetime
) -> ImportResult:
    """Match a BibTeX / ORCID / plain list against the catalog and keep the matches as the
    member's own papers (positives)."""
    wanted = parse_list(text)
    if wanted.entries == 0:
        raise BadRequest("for you: no entries found; paste BibTeX, ORCID works JSON or one "
                         "arXiv id, DOI or title per line")
    _guard(engine, settings, member, ip, now)
    with engine.connect() as conn:
        matched = list(store.known_papers(conn, wanted.arxiv_ids))
        matched += store.find_dois(conn, wanted.dois).values()
        matched += store.find_titles(conn, wanted.titles).values()
    matched = list(dict.fromkeys(matched))
    if matched:
        with write(engine) as conn:
            store.set_feedback(conn, member.id, matched, "import", now=now)
        _refit(engine, settings, member, now)
    return ImportResult(wanted.entries, len(matched), max(0, wanted.entries - len(matched)))


def label_round(
    engine: Engine, settings: Settings, member: Member, labels: dict[str, str], *, ip: str,
    now: datetime,
) -> int:
    """Store an active-learning round's thumbs ({paper id: "up" | "down"}); returns how many."""
    ups = [normalize_arxiv_id(p) for p, v in labels.items() if v == "up"]
    downs = [normalize_arxiv_id(p) for p, v in labels.items() if v == "down"]
    if not ups and not downs:
        return 0
    _guard(engine, settings, member, ip, now)
    with write(engine) as conn:
        n = store.set_feedback(conn, member.id, ups, "up", now=now)
        n += store.set_feedback(conn, member.id, downs, "down", now=now)
    _refit(engine, settings, member, now)
    return n


def _spread(matrix: np.ndarray, order: Sequence[int], k: int) -> list[int]:
    """Greedy farthest-point pick of `k` rows among `order` (first = order[0])."""
    chosen: list[int] = []
    best = np.full(len(matrix), np.inf)
    candidates = list(order)
    while candidates and len(chosen) < k:
        if not chosen:
            pick = candidates[0]
        else:
            pick = max(candidates, key=lambda i: best[i])
        chosen.append(pick)
        candidates.remove(pick)
        best = np.minimum(best, 1.0 - matrix @ matrix[pick])
    return chosen


def round_papers(engine: Engine, settings: Settings, member: Member, *,
                 size: int = ROUND_SIZE) -> list[str]:
    """The next active-learning round: `size` paper ids (see the module docstring)."""
    rec = open_recommender(settings, engine)
    nb = rec.neighbours
    with engine.connect() as conn:
        profile = store.get_profile(conn, member.id)
        categories = profile.categories if profile else []
        rated = {s.paper_id for s in store.member_signals(conn, member.id, limit=2000)}
        pool = (store.recent_ids(conn, nb.model_id, limit=ROUND_POOL, categories=categories)
                if categories else [])
        if profile is not None and profile.topics:
            recent = rec.background().topic_ids
            for topic in profile.topics:
                pool += recent.get(topic, [])[: ROUND_POOL // len(profile.topics)]
        if len(pool) < size:
            pool += store.recent_ids(conn, nb.model_id, limit=ROUND_POOL)
    pool = [p for p in dict.fromkeys(pool) if p not in rated]
    vectors = nb.vectors(pool)
    pool = [p for p in pool if p in vectors]
    if not pool:
        return []
    matrix = np.stack([vectors[p] for p in pool]).astype(np.float32)
    if not rec.usable(profile):
        return [pool[i] for i in _spread(matrix, range(len(pool)), size)]
    assert profile is not None and profile.weights is not None
    scores = matrix @ profile.weights
    order = list(np.argsort(-scores))
    sure = _spread(matrix, order[: max(size * 3, 20)], size // 2)
    middle = len(order) // 2
    around = [order[r] for r in sorted(range(len(order)), key=lambda r: abs(r - middle))]
    around = [i for i in around if i not in sure][: max(size * 3, 20)]
    unsure = _spread(matrix, around, size - len(sure))
    return [pool[i] for i in sure + unsure]
