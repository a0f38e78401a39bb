"""Author affinity: the authors a member keeps liking lift their new papers, on real papers
through the real vote path; one shared author of one liked paper does not."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
from sqlalchemy import select

from paperfeed.accounts.voting import set_vote
from paperfeed.recommend import authors as au
from paperfeed.recommend.service import open_recommender
from paperfeed.storage import recommend as store
from paperfeed.storage.schema import paper_authors
from tests.recommend.conftest import NOW, Demo


def _upvote(demo: Demo, member, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    for pid in ids:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)


def _prolific(demo: Demo, rank: int = 0) -> tuple[str, list[str]]:
    """(name key, newest-first ids) of the demo's `rank`-th most prolific author."""
    with demo.engine.connect() as conn:
        rows = conn.execute(select(paper_authors.c.name_key, paper_authors.c.paper_id)).all()
    counts = Counter(k for k, _ in rows)
    key = [k for k, n in counts.most_common(10) if n >= 8][rank]
    theirs = {p for k, p in rows if k == key}
    return key, [p for p in demo.titled("", 4000) if p in theirs]


def test_profile_counts_only_authors_on_two_liked_papers() -> None:
    space = au.AuthorSpace([["ada", "bob"], ["ada", "cy"], ["dee"], ["eve"]] * 10)
    prof = au.profile(space, [["ada", "bob"], ["ada", "cy"], ["dee"]])
    assert set(prof) == {"ada"}  # bob, cy and dee are on one liked paper each
    # 2 of 3 liked papers: the share the evidence supports, not 2/3
    assert abs(prof["ada"] - au.evidence(2 / 3, 3, 2) * space.rarity("ada")) < 1e-6
    assert 0.2 < au.wilson_lower(2 / 3, 3) < 0.21 and 0.06 < au.evidence(2 / 3, 3, 2) < 0.07
    assert au.profile(space, [["ada", "bob"]]) == {}  # one paper makes no favourite
    many = [f"author {i}" for i in range(40)]
    scores = au.scores(prof, [["zed", "ada"], ["zed"], [], [*many, "ada"]])
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0
    assert scores[3] == scores[0]  # one of forty authors is still the author you follow
    assert au.top_shared(prof, ["zed", "ada"]) == "ada"


def test_author_affinity_grows_with_the_evidence_behind_the_same_share() -> None:
    space = au.AuthorSpace([["x"]] * 100)
    few = au.profile(space, [["ada"], ["ada"], ["b"], ["c"]])  # 2 of 4
    many = au.profile(space, [["ada"]] * 10 + [[f"o{i}"] for i in range(10)])  # 10 of 20
    assert 0 < few["ada"] < many["ada"] < 0.5
    assert au.wilson_lower(1.0, 1000) > 0.99 and au.wilson_lower(0.0, 10) == 0.0
    assert au.wilson_lower(0.5, 0) == 0.0


def test_a_rare_name_weighs_more_than_a_common_one() -> None:
    space = au.AuthorSpace([["wei zhang", "x"]] * 50 + [["rare person", "y"]] * 2 + [["z"]] * 48)
    assert 0 < space.rarity("wei zhang") < space.rarity("rare person") < space.rarity("new") == 1
    prof = au.profile(space, [["wei zhang", "rare person"], ["wei zhang", "rare person"]])
    assert prof["rare person"] > prof["wei zhang"]


def test_an_author_the_member_keeps_liking_lifts_their_new_paper_and_says_so(
    demo: Demo,
) -> None:
    key, theirs = _prolific(demo)
    member = demo.member()
    new, older = theirs[0], theirs[1:6]
    others = [p for p in demo.titled("", 600) if p not in theirs]
    rng = np.random.default_rng(3)
    liked_others = [others[i] for i in rng.choice(len(others), size=6, replace=False)]
    _upvote(demo, member, older + liked_others)
    rec = open_recommender(demo.settings, demo.engine)
    profile = rec.profile(member.id)
    assert profile is not None and next(iter(profile.authors)) == key
    pool = [p for p in others if p not in liked_others]
    candidates = [pool[i] for i in rng.choice(len(pool), size=49, replace=False)] + [new]
    items = rec.rank(member.id, candidates).items
    top = [r.paper_id for r in items[:3]]
    assert new in top, top
    reason = next(r.reason for r in items if r.paper_id == new)
    assert reason is not None and reason.paper_id in older
    assert reason.author is not None and reason.author.casefold() == key
    assert reason.text.endswith(f", also by {reason.author}")


def test_one_shared_author_of_one_liked_paper_is_no_affinity(demo: Demo) -> None:
    key, theirs = _prolific(demo, rank=1)
    member = demo.member()
    liked = [theirs[1]] + [p for p in demo.titled("diffusion", 40) if p not in theirs][:6]
    _upvote(demo, member, liked)
    with demo.engine.connect() as conn:
        profile = store.get_profile(conn, member.id)
    assert profile is not None and key not in profile.authors
    ranking = open_recommender(demo.settings, demo.engine).rank(member.id, [theirs[0]] + liked)
    reason = next(r.reason for r in ranking.items if r.paper_id == theirs[0])
    assert reason is None or reason.author is None


def test_with_three_liked_papers_a_shared_author_does_not_outrank_the_topic(demo: Demo) -> None:
    """Two of a new member's three liked diffusion papers share an author: that author's paper
    on another topic is lifted, but not above the diffusion papers (two papers are little
    evidence of following someone; the affinity is weighed by it)."""
    with demo.engine.connect() as conn:
        rows = conn.execute(select(paper_authors.c.name_key, paper_authors.c.paper_id)).all()
    diffusion = demo.titled("diffusion", 400)
    topical = set(diffusion)
    by: dict[str, list[str]] = {}
    for key, pid in sorted(rows):
        by.setdefault(key, []).append(pid)
    key, liked_theirs, off_topic = next(
        (k, [p for p in ps if p in topical][:2], [p for p in ps if p not in topical][0])
        for k, ps in sorted(by.items())
        if sum(p in topical for p in ps) >= 2 and any(p not in topical for p in ps))
    third = next(p for p in diffusion if p not in by[key])
    member = demo.member()
    _upvote(demo, member, [*liked_theirs, third])
    rec = open_recommender(demo.settings, demo.engine)
    profile = rec.profile(member.id)
    assert profile is not None and key in profile.authors  # the affinity is there...
    others = [p for p in diffusion if p not in by[key] and p != third][:20]
    unrelated = [p for p in demo.titled("", 600) if p not in topical and p not in by[key]][:20]
    items = rec.rank(member.id, [off_topic, *others, *unrelated]).items
    order = [r.paper_id for r in items]
    content = rec.rank(member.id, [off_topic, *others, *unrelated],
                       profile=dataclasses.replace(profile, authors={})).items
    # ... it lifts the author's paper (above where content alone puts it) ...
    assert order.index(off_topic) < [r.paper_id for r in content].index(off_topic)
    # ... but the best diffusion papers stay first
    assert all(p in others for p in order[:3]), [demo.title(p) for p in order[:3]]
