"""A member's model stays current: refitted on first load after the embedding model changed
(not sent back to cold start), and a liked paper without a vector yet (a fresh submission,
embedded after the response) counts as soon as its vector exists."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from paperfeed.accounts import signin
from paperfeed.accounts.voting import set_vote
from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.recommend.service import open_recommender
from paperfeed.search.indexing import index_papers
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.schema import recommend_profiles
from paperfeed.web.app import create_app
from tests.members_support import add_member, token_for
from tests.recommend.conftest import NOW, Demo
from tests.search.conftest import real_papers

CATALOG = 12


def test_a_model_fitted_with_another_embedding_model_is_refitted_on_first_load(
    demo: Demo,
) -> None:
    member = demo.member()
    liked = demo.titled("diffusion", 40)[8:14]
    for pid in liked:
        set_vote(demo.engine, demo.settings, member, pid, up=True, ip="127.0.0.1", now=NOW)
    old = np.random.default_rng(0).normal(size=256).astype("<f4")
    with write(demo.engine) as conn:  # as left by a model the instance no longer uses
        conn.execute(update(recommend_profiles)
                     .where(recommend_profiles.c.user_id == member.id)
                     .values(model_id="retired-model:v1", dim=256, weights=old.tobytes()))
    with TestClient(create_app(demo.settings)) as client:
        client.cookies.set(signin.SESSION_COOKIE,
                           signin.start_session(demo.engine, demo.settings, member, now=utcnow()))
        page = client.get("/for-you?period=week", follow_redirects=False)
    assert page.status_code == 200, page.headers.get("location")  # not the cold start
    assert "Because you upvoted" in page.text
    rec = open_recommender(demo.settings, demo.engine)
    profile = rec.profile(member.id)
    assert profile is not None and profile.model_id == rec.neighbours.model_id
    assert profile.weights is not None and len(profile.weights) == rec.neighbours.dim
    assert {pid for pid, _ in profile.anchors} == set(liked)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def small(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """A store with the first real papers stored and embedded by the bundled model."""
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path / "data", environment="development",
                            secret_key="test-secret-key-for-paperfeed-tests",  # type: ignore[arg-type]
                            base_url="http://testserver")
    else:
        settings = request.getfixturevalue("pg_settings")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    with write(engine) as conn:
        upsert_papers(conn, real_papers()[:CATALOG], now=utcnow())
    index_papers(engine, settings)
    yield settings, engine
    engine.dispose()


def _fresh(engine: Engine, index: int) -> str:
    """A paper in the catalog (as an arXiv ingest leaves it) without a vector yet."""
    new = dataclasses.replace(real_papers()[index], published_at=utcnow() - timedelta(days=1))
    with write(engine) as conn:
        upsert_papers(conn, [new], now=utcnow())
    return new.id


def test_a_fresh_submission_counts_once_the_step_after_the_response_embeds_it(
    small: tuple[Settings, Engine],
) -> None:
    settings, engine = small
    member = add_member(engine, "ada@example.org", username="ada")
    for pid in [p.id for p in real_papers()[:3]]:
        set_vote(engine, settings, member, pid, up=True, ip="127.0.0.1", now=utcnow())
    new = _fresh(engine, CATALOG)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/papers/submit", json={"id": new},
                        headers={"Authorization": f"Bearer {token_for(engine, member)}"})
        assert r.status_code == 201, r.text
    # The submission refitted the model before the paper had a vector; the step after the
    # response embedded it and refitted again.
    profile = open_recommender(settings, engine).profile(member.id)
    assert profile is not None and profile.missing == 0 and profile.positives == 4
    assert (new, "submit") in profile.anchors


def test_a_liked_paper_embedded_later_counts_on_the_next_load(
    small: tuple[Settings, Engine],
) -> None:
    settings, engine = small
    member = add_member(engine, "bo@example.org", username="bo")
    earlier = utcnow() - timedelta(minutes=5)
    new = _fresh(engine, CATALOG + 1)
    for pid in [p.id for p in real_papers()[3:6]] + [new]:
        set_vote(engine, settings, member, pid, up=True, ip="127.0.0.1", now=earlier)
    rec = open_recommender(settings, engine)
    before = rec.profile(member.id)
    assert before is not None and before.missing == 1 and before.positives == 4
    assert new not in {pid for pid, _ in before.anchors}
    index_papers(engine, settings)  # e.g. `paperfeed index` from cron
    ranking = rec.rank(member.id, [p.id for p in real_papers()[6:CATALOG]])
    assert not ranking.cold
    after = rec.profile(member.id)
    assert after is not None and after.missing == 0 and after.version > before.version
    assert new in {pid for pid, _ in after.anchors}
