""""For you" speed and storage: fit after one vote, a member's ranked day, a member's top 50 of
the whole catalog, and the size of a stored profile.

    python bench/foryou_bench.py [--papers 75000] [--members 20] [--workdir DIR]

The catalog holds the real Hugging Face archive papers (../shared/data/hf-daily-papers, 9,877
papers) with their real vectors from the bundled model (embedded once through the indexing
job and cached on disk, like `paperfeed eval recommend` does), grown to `--papers` with
synthetic papers: each is a copy of a random real paper (same text) whose vector is the real
vector plus Gaussian noise (cosine about 0.8 to its source) renormalised, so the synthetic
part keeps the real vectors' uneven distribution instead of uniform noise on the sphere. The
store is built once under --workdir and reused.

Members upvote 30 real papers each through the real vote path (`accounts.voting.set_vote`,
which refits), then each figure is timed in a warm process:
- fit: `Recommender.refit` after one more vote (p50 / p95 over members);
- day: `Recommender.rank` over one real featured day (20-60 papers);
- catalog: `Recommender.rank_catalog(k=50)` (vector index nearest + rescoring);
- storage: bytes of the stored profile rows (weights + keyword profile + anchors).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper, utcnow  # noqa: E402
from paperfeed.storage.db import connect, migrate, write  # noqa: E402

ARCHIVE = ROOT.parent / "shared/data/hf-daily-papers/hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def build(settings: Settings, papers: int, cache: Path) -> None:
    from paperfeed.search.embed import model_info
    from paperfeed.search.evaluate import index_vectors
    from paperfeed.search.indexing import import_vectors
    from paperfeed.sources.hf_daily import import_path
    from paperfeed.storage import embeddings as emb
    from paperfeed.storage.papers import upsert_papers
    from paperfeed.storage.recommend import paper_texts

    engine = connect(settings)
    migrate(engine)
    import_path(engine, ARCHIVE)
    index_vectors(engine, settings, cache)
    model = model_info(settings.embedding_model).model_id
    with engine.connect() as conn:
        ids, _h, matrix = next(emb.iter_vectors(conn, model, 384, batch=1_000_000))
        texts = paper_texts(conn, ids)
    extra = papers - len(ids)
    rng = np.random.default_rng(0)
    print(f"real papers with vectors: {len(ids)}; adding {max(0, extra)} synthetic", flush=True)
    batch = 20_000
    for start in range(0, max(0, extra), batch):
        n = min(batch, extra - start)
        src = rng.integers(0, len(ids), size=n)
        noise = rng.normal(size=(n, matrix.shape[1])).astype(np.float32) * 0.035
        vecs = matrix[src] + noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        new_ids = [f"9{(start + i) // 100000:03d}.{(start + i) % 100000:05d}" for i in range(n)]
        records = [Paper(id=pid, title=texts[ids[s]][0], abstract=texts[ids[s]][1],
                         published_at=utcnow(), primary_category="cs.LG", source="bench")
                   for pid, s in zip(new_ids, src, strict=True)]
        with write(engine) as conn:
            upsert_papers(conn, records, now=utcnow())
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "v.npy", vecs.astype(np.float32))
            (Path(tmp) / "ids.txt").write_text("\n".join(new_ids) + "\n")
            import_vectors(engine, settings, Path(tmp) / "v.npy", Path(tmp) / "ids.txt",
                           model_id=model)
        print(f"  {start + n} synthetic papers stored", flush=True)
    engine.dispose()


def measure(settings: Settings, members: int) -> dict[str, float]:
    from paperfeed.accounts.voting import set_vote
    from paperfeed.recommend.service import open_recommender
    from paperfeed.storage import recommend as store
    from paperfeed.storage import users

    engine = connect(settings)
    rec = open_recommender(settings, engine)
    with engine.connect() as conn:
        lists = store.day_lists(conn)
    days = [d for d, items in lists.items() if 20 <= len(items) <= 99 and d >= date(2026, 1, 1)]
    real = [pid for items in lists.values() for pid, _ in items]
    rng = np.random.default_rng(1)
    fit_ms, day_ms, cat_ms = [], [], []
    now = utcnow()
    people = []
    for m in range(members):
        with write(engine) as conn:
            member = users.create_user(conn, email=f"bench{m}-{time.time_ns()}@example.org",
                                       now=now)
        centre = real[int(rng.integers(0, len(real)))]
        near = [pid for pid, _ in rec.neighbours.nearest(
            rec.neighbours.vectors([centre])[centre], 40)]
        for pid in near[:30]:
            set_vote(engine, settings, member, pid, up=True, ip=f"10.9.{m}.1", now=now)
        people.append((member, near[30:]))
    rec.rank(people[0][0].id, [p for p, _ in lists[days[0]]])  # warm the keyword space
    for member, spare in people:
        set_vote(engine, settings, member, spare[0], up=True, ip="10.9.0.2", now=now)
        t = time.perf_counter()
        rec.refit(member.id, now=now)
        fit_ms.append((time.perf_counter() - t) * 1000)
        for d in rng.choice(len(days), size=5, replace=False):
            ids = [p for p, _ in lists[days[int(d)]]]
            t = time.perf_counter()
            rec.rank(member.id, ids)
            day_ms.append((time.perf_counter() - t) * 1000)
        for _ in range(3):
            t = time.perf_counter()
            rec.rank_catalog(member.id, 50)
            cat_ms.append((time.perf_counter() - t) * 1000)
    with engine.connect() as conn:
        n, total = store.profile_sizes(conn)
    engine.dispose()
    return {
        "fit_p50_ms": statistics.median(fit_ms), "fit_p95_ms": pct(fit_ms, 95),
        "day_p50_ms": statistics.median(day_ms), "day_p95_ms": pct(day_ms, 95),
        "catalog50_p50_ms": statistics.median(cat_ms), "catalog50_p95_ms": pct(cat_ms, 95),
        "profiles": n, "profile_bytes_mean": total / max(1, n),
        "profiles_100k_mb": total / max(1, n) * 100_000 / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=75_000)
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--workdir", type=Path, default=Path("/work/cache/foryou/bench"))
    ap.add_argument("--cache-dir", type=Path, default=Path("/work/cache/foryou/embed"))
    args = ap.parse_args()
    root = args.workdir / f"papers-{args.papers}"
    settings = Settings(data_dir=root, environment="development", vector_backend="files")
    if not (root / "paperfeed.db").exists():
        root.mkdir(parents=True, exist_ok=True)
        build(settings, args.papers, args.cache_dir)
    figures = measure(settings, args.members)
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
