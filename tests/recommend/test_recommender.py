"""The personal model on real papers and real vectors, through the real vote path."""

from __future__ import annotations

import numpy as np

from paperfeed.accounts.voting import set_vote
from paperfeed.recommend.model import Background, fit_weights
from paperfeed.recommend.service import open_recommender
from paperfeed.storage import recommend as store
from paperfeed.storage.db import write
from tests.recommend.conftest import NOW, Demo


def _upvote(demo: Demo, member, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    for pid in ids:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)


def _candidates(demo: Demo, liked: list[str], n: int = 60) -> list[str]:
    """A mixed list: unseen diffusion papers among many other recent papers."""
    diffusion = [p for p in demo.titled("diffusion", 40) if p not in liked][:8]
    others = [p for p in demo.titled("", 400) if p not in liked and p not in diffusion]
    rng = np.random.default_rng(7)
    pick = [others[i] for i in rng.choice(len(others), size=n - len(diffusion), replace=False)]
    return diffusion + pick


def test_member_who_upvotes_diffusion_papers_sees_diffusion_first(demo: Demo) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[8:16]
    _upvote(demo, member, liked)
    ranking = open_recommender(demo.settings, demo.engine).rank(member.id, _candidates(demo, liked))
    assert not ranking.cold
    order = [r.paper_id for r in ranking.items]
    # The 8 unseen diffusion papers among 60: by chance about 2 would reach the top 15.
    diffusion = set(demo.titled("diffusion", 40)) - set(liked)
    ranks = sorted(order.index(p) for p in diffusion if p in order)
    assert len(ranks) == 8 and sum(r < 15 for r in ranks) >= 6, (
        ranks, [demo.title(p) for p in order[:15]])


def test_explanation_names_a_paper_the_member_acted_on(demo: Demo) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[8:14]
    _upvote(demo, member, liked)
    ranking = open_recommender(demo.settings, demo.engine).rank(member.id, _candidates(demo, liked))
    reasons = [r.reason for r in ranking.items[:10]]
    assert all(r is not None for r in reasons)
    assert {r.paper_id for r in reasons if r} <= set(liked)
    first = ranking.items[0].reason
    assert first is not None and first.kind == "upvote"
    assert first.title == demo.title(first.paper_id)
    assert first.text.startswith("Because you upvoted “")


def test_not_interested_moves_a_paper_down_on_the_next_load(demo: Demo) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[8:16]
    _upvote(demo, member, liked)
    rec = open_recommender(demo.settings, demo.engine)
    cands = _candidates(demo, liked)
    before = [r.paper_id for r in rec.rank(member.id, cands).items]
    target = before[0]
    with write(demo.engine) as conn:
        store.set_feedback(conn, member.id, [target], "less", now=NOW)
    rec.refit(member.id, now=NOW)
    after = rec.rank(member.id, cands).items
    assert after[-1].paper_id == target and after[-1].not_interested
    assert [r.paper_id for r in after].index(target) > before.index(target)
    # ... and the catalog-wide list leaves it out altogether.
    assert target not in [r.paper_id for r in rec.rank_catalog(member.id, 20).items]


def test_member_with_no_history_is_cold_not_an_error(demo: Demo) -> None:
    member = demo.member()
    rec = open_recommender(demo.settings, demo.engine)
    assert rec.rank(member.id, demo.titled("", 30)).cold
    assert rec.rank_catalog(member.id, 10).cold


def test_catalog_ranking_comes_from_the_vector_index_and_skips_what_was_acted_on(
    demo: Demo,
) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[:6]
    _upvote(demo, member, liked)
    items = open_recommender(demo.settings, demo.engine).rank_catalog(member.id, 20).items
    assert len(items) == 20
    assert not set(liked) & {r.paper_id for r in items}
    titles = [demo.title(r.paper_id).lower() for r in items[:10]]
    assert sum("diffusion" in t for t in titles) >= 5, titles


def test_catalog_ranking_leaves_out_every_paper_acted_on_and_stays_full(demo: Demo) -> None:
    """Sixty upvotes on the papers nearest to the member's taste, then "not interested" on
    their first pick: none of them comes back, and the top 50 is still 50 papers (on
    PostgreSQL the excluded papers take HNSW slots; ef_search counts them in)."""
    member = demo.member()
    liked = demo.titled("diffusion", 80)[:60]
    assert len(liked) == 60
    _upvote(demo, member, liked)
    rec = open_recommender(demo.settings, demo.engine)
    first = rec.rank_catalog(member.id, 50).items
    assert len(first) == 50 and not set(liked) & {r.paper_id for r in first}
    with write(demo.engine) as conn:
        store.set_feedback(conn, member.id, [first[0].paper_id], "less", now=NOW)
    with demo.engine.connect() as conn:
        acted = store.acted_on(conn, member.id)
        assert store.acted_on(conn, member.id, limit=10) < acted
    assert acted == set(liked) | {first[0].paper_id}
    again = rec.rank_catalog(member.id, 50).items
    assert len(again) == 50 and not acted & {r.paper_id for r in again}


def test_withdrawn_upvote_is_forgotten_by_the_model(demo: Demo) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[8:12]
    _upvote(demo, member, liked)
    set_vote(demo.engine, demo.settings, member, liked[0], up=False, ip="127.0.0.1", now=NOW)
    with demo.engine.connect() as conn:
        profile = store.get_profile(conn, member.id)
    assert profile is not None and profile.positives == 3
    assert liked[0] not in {pid for pid, _ in profile.anchors}


def test_profile_is_a_few_kilobytes(demo: Demo) -> None:
    member = demo.member()
    _upvote(demo, member, demo.titled("", 60)[:40])
    with demo.engine.connect() as conn:
        row = store.get_profile(conn, member.id)
    assert row is not None and row.weights is not None
    size = row.weights.nbytes + len(str(row.keywords)) + len(str(row.anchors))
    assert size < 16_000, size


def test_fit_separates_two_clusters_and_returns_a_unit_vector() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=32)
    pos = centre + 0.3 * rng.normal(size=(20, 32))
    neg = -centre + 0.3 * rng.normal(size=(200, 32))
    fit = fit_weights(pos, neg, lam=1.0)
    assert abs(float(np.linalg.norm(fit.weights)) - 1.0) < 1e-5
    assert (pos @ fit.weights > 0).all() and (neg @ fit.weights < 0).all()
    assert fit_weights(np.zeros((0, 32)), neg).weights.tolist() == [0.0] * 32


def test_fit_with_a_shared_background_equals_the_fit_on_its_rows() -> None:
    """The background's Gram matrix is computed once; dropping the member's own papers from it
    gives the same model as fitting on the remaining rows directly."""
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(7, 16)) + 1.0
    bg = rng.normal(size=(60, 16))
    explicit = rng.normal(size=(2, 16)) - 1.0
    shared = fit_weights(pos, explicit, background=Background.of(bg), drop=[3, 10],
                         negative_weights=np.array([10.0, 10.0]))
    rows = np.delete(bg, [3, 10], axis=0)
    direct = fit_weights(pos, np.vstack([explicit, rows]),
                         negative_weights=np.concatenate([[10.0, 10.0], np.ones(len(rows))]))
    assert np.allclose(shared.weights, direct.weights, atol=1e-5)
    only_positives = fit_weights(pos)
    mean = pos.mean(axis=0)
    assert np.allclose(only_positives.weights, mean / np.linalg.norm(mean), atol=1e-6)
