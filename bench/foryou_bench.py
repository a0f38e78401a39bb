""""For you" speed and storage: fit after one vote, a member's ranked day, a member's top 50 of
the whole catalog, and the size of a stored profile, each as wall time and CPU time.

    OPENBLAS_NUM_THREADS=1 python bench/foryou_bench.py --data-dir DIR          # SQLite + files
    OPENBLAS_NUM_THREADS=1 python bench/foryou_bench.py --data-dir DIR --postgres URL
    OPENBLAS_NUM_THREADS=1 python bench/foryou_bench.py --papers 1000000 [--workdir DIR]
    OPENBLAS_NUM_THREADS=1 python bench/foryou_bench.py --data-dir COPY --grow --papers 1000000

`--data-dir`: an existing catalog, e.g. a copy of the shared 80k one (`cp -r /tmp/pf-75k
/tmp/me-75k && PAPERFEED_DATA_DIR=/tmp/me-75k paperfeed migrate`): 74,728 arxiv-cs papers plus
the Hugging Face archive, real vectors of the bundled model. With `--postgres URL` the same
catalog is first loaded once into that (empty) PostgreSQL database the way a user would:
`paperfeed ingest jsonl` and `ingest hf-daily --from` with `--no-index`, then the SQLite
catalog's vectors through `paperfeed index --import` (pgvector backend).

`--papers N` (no --data-dir): the Hugging Face archive (9,877 papers, real vectors from the
bundled model, embedded once and cached like `paperfeed eval recommend` does), grown to N with
synthetic papers: each is a copy of a random real paper (same text) whose vector is the real
vector plus Gaussian noise (cosine about 0.8 to its source) renormalised, so the synthetic part
keeps the real vectors' uneven distribution instead of uniform noise on the sphere. Built once
under --workdir and reused.

`--data-dir COPY --grow --papers N`: the 80k catalog (a copy) grown to N papers the same way,
but each synthetic paper also copies its source's byline (see `grow`): the 1M figure.

Members upvote 30 papers each (the nearest neighbours of a random featured paper) through the
real vote path (`accounts.voting.set_vote`, which refits), then each figure is timed in one
warm process, wall (`perf_counter`) and CPU (`process_time`, this process's threads); on a
PostgreSQL server on the same machine also the server's CPU for the call (`*_server_cpu_*`,
from /proc/PID/schedstat of the database's backends) and the sum (`*_total_cpu_*`), the
figure to compare on a loaded machine:
- fit: `Recommender.refit` after one more vote;
- day: `Recommender.rank` over one of 10 real featured days (20-99 papers), each member 5 of
  them; `day_first` is a day's first ranking in the process (its papers' sparse features
  computed, then cached for every other member), `day` the others;
- catalog: `Recommender.rank_catalog(k=50)` (vector index nearest + rescoring without the
  keyword part, as served), three times per member; then `catalog50_with_keywords`, the same
  with the keyword part put back (`keywords=True`, the ranking before 2026-11-30), for an A/B
  in one run;
- storage: bytes of the stored profile rows (weights + keyword and author profiles + anchors);
- on PostgreSQL, recall: how much of each member's served top 50 (and of the 200 nearest
  candidates) the exact ones hold (`recall_vs_exact`).
Run with OPENBLAS_NUM_THREADS=1, as the web workers do (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper, utcnow  # noqa: E402
from paperfeed.storage.db import connect, migrate, write  # noqa: E402
from paperfeed.storage.papers import count_papers  # noqa: E402
from paperfeed.storage.search.nearest import (  # noqa: E402
    NearestVectors,
    with_stored_vectors,
)

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


def grow(settings: Settings, papers: int, workdir: Path) -> None:
    """Grow the catalog of `settings` (a copy: it is written to) to `papers` papers with
    synthetic ones: each copies a random real paper's title, first abstract sentence and
    byline (so the author part meets real names), is dated 2023-2024 (older than the real
    papers, so the recent-paper background stays real), and gets that paper's vector plus
    Gaussian noise (cosine ~0.82 to it), renormalised. Papers go in through the storage
    layer in batches, then every vector through one `import_vectors` (one graph build)."""
    from datetime import datetime, timedelta

    from paperfeed.models import Author
    from paperfeed.search.embed import model_info
    from paperfeed.search.indexing import import_vectors
    from paperfeed.storage import embeddings as emb
    from paperfeed.storage.papers import upsert_papers
    from paperfeed.storage.recommend import paper_docs

    engine = connect(settings)
    model = model_info(settings.embedding_model).model_id
    with engine.connect() as conn:
        have = count_papers(conn)
        ids, _h, matrix = next(emb.iter_vectors(conn, model, 384, batch=10_000_000))
        docs = paper_docs(conn, ids)
    extra = papers - have
    print(f"{have} papers, {len(ids)} real vectors; adding {max(0, extra)} synthetic", flush=True)
    if extra <= 0:
        return
    rng = np.random.default_rng(0)
    src = rng.integers(0, len(ids), size=extra)
    new_ids = [f"9{i // 100000:03d}.{i % 100000:05d}" for i in range(extra)]
    start_day = datetime(2023, 1, 1)
    for pos in range(0, extra, 20_000):
        records = []
        for i in range(pos, min(extra, pos + 20_000)):
            doc = docs[ids[src[i]]]
            records.append(Paper(
                id=new_ids[i], title=doc.title, abstract=doc.abstract.split(". ")[0],
                authors=[Author(n) for n in doc.authors],
                published_at=start_day + timedelta(minutes=int(rng.integers(0, 700 * 1440))),
                primary_category="cs.LG", categories=["cs.LG"], source="bench"))
        with write(engine) as conn:
            upsert_papers(conn, records, now=utcnow())
        print(f"  {pos + len(records)} synthetic papers stored", flush=True)
    vecs = matrix[src] + rng.normal(size=(extra, matrix.shape[1])).astype(np.float32) * 0.035
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    workdir.mkdir(parents=True, exist_ok=True)
    np.save(workdir / "grow-vectors.npy", vecs.astype(np.float32))
    del vecs
    (workdir / "grow-ids.txt").write_text("\n".join(new_ids) + "\n")
    print("importing the synthetic vectors (one graph build)", flush=True)
    import_vectors(engine, settings, workdir / "grow-vectors.npy", workdir / "grow-ids.txt",
                   model_id=model)
    engine.dispose()


def fill_postgres(sqlite_dir: Path, settings: Settings) -> None:
    """Load the SQLite catalog at `sqlite_dir` into the empty PostgreSQL of `settings` through
    the CLI (ingest without indexing, then the same vectors through `index --import`)."""
    from paperfeed.search.embed import model_info
    from paperfeed.storage import embeddings as emb

    env = {**os.environ, "PAPERFEED_DATABASE_URL": settings.db_url,
           "PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_VECTOR_BACKEND": "pgvector"}
    cli = [sys.executable, "-m", "paperfeed"]
    data = ROOT.parent / "shared/data"
    for step in (["migrate"],
                 ["ingest", "jsonl", str(data / "arxiv-cs/arxiv_cs_daily_2025-03_2026-07.jsonl.gz"),
                  "--no-index", "--no-progress"],
                 ["ingest", "hf-daily", "--from", str(ARCHIVE), "--no-index", "--no-progress"]):
        print("$ paperfeed", " ".join(step[:2]), flush=True)
        subprocess.run(cli + step, env=env, check=True, stdout=subprocess.DEVNULL)
    source = connect(Settings(data_dir=sqlite_dir, environment="development"))
    model = model_info(settings.embedding_model).model_id
    with source.connect() as conn:
        ids, _h, matrix = next(emb.iter_vectors(conn, model, 384, batch=10_000_000))
    source.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "v.npy", np.asarray(matrix, dtype=np.float32))
        (Path(tmp) / "ids.txt").write_text("\n".join(ids) + "\n")
        print(f"$ paperfeed index --import ({len(ids)} vectors)", flush=True)
        subprocess.run(cli + ["index", "--import", str(Path(tmp) / "v.npy"), "--ids",
                              str(Path(tmp) / "ids.txt"), "--model-id", model,
                              "--skip-unknown", "--no-progress"],
                       env=env, check=True, stdout=subprocess.DEVNULL)


class ServerCpu:
    """CPU time of the PostgreSQL client backends serving this database (not autovacuum,
    which the bench's own writes wake), when the server runs on
    this machine (`/proc/PID/schedstat`: nanoseconds on a CPU), so a figure taken on a loaded
    machine still says what one call cost the server. None on SQLite or a remote server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pids: list[int] = []

    @classmethod
    def open(cls, engine: Engine) -> ServerCpu | None:
        if engine.dialect.name != "postgresql":
            return None
        probe = cls(engine)
        return probe if probe.start() and probe.pids else None

    def start(self) -> int:
        """The backends' CPU so far (ns), refreshing which backends serve the database."""
        with self.engine.connect() as conn:
            self.pids = [int(p) for p in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend'")).scalars()]
        return self.now()

    def now(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return total


class Timer:
    """Wall and CPU milliseconds of each timed call (and, on a local PostgreSQL, the server's
    CPU for it: `server_cpu`, and `total_cpu` = this process's + the server's)."""

    def __init__(self, server: ServerCpu | None = None) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.server_cpu: list[float] = []
        self.server = server

    def __call__(self, fn: Callable[[], object]) -> None:
        s = self.server.start() if self.server else 0
        w, c = time.perf_counter(), time.process_time()
        fn()
        self.cpu.append((time.process_time() - c) * 1000)
        self.wall.append((time.perf_counter() - w) * 1000)
        if self.server:
            self.server_cpu.append((self.server.now() - s) / 1e6)

    def figures(self, name: str) -> dict[str, float]:
        out = {f"{name}_p50_ms": statistics.median(self.wall), f"{name}_p95_ms": pct(self.wall, 95),
               f"{name}_cpu_p50_ms": statistics.median(self.cpu),
               f"{name}_cpu_p95_ms": pct(self.cpu, 95)}
        if self.server_cpu:
            total = [c + s for c, s in zip(self.cpu, self.server_cpu, strict=True)]
            out.update({f"{name}_server_cpu_p50_ms": statistics.median(self.server_cpu),
                        f"{name}_server_cpu_p95_ms": pct(self.server_cpu, 95),
                        f"{name}_total_cpu_p50_ms": statistics.median(total),
                        f"{name}_total_cpu_p95_ms": pct(total, 95)})
        return out


def recall_vs_exact(rec: Any, members: list[int]) -> dict[str, float]:
    """PostgreSQL: how much of each member's served top 50 (HNSW nearest 200, rescored) the
    exact top 50 (the same ranking over the exact nearest 200: every vector scored) holds,
    and the same for the 200 candidates; means over members."""
    from paperfeed.storage.search import pgvector as sql

    served = {u: [r.paper_id for r in rec.rank_catalog(u, 50).items] for u in members}
    served_c = {u: rec.neighbours.nearest_vectors(
        rec.profile(u).weights, 200, exclude=acted(rec, u)).ids for u in members}
    ann = sql.nearest_vectors

    def exact(*args: Any, **kw: Any) -> Any:
        kw.pop("ef_search", None)
        return ann(*args, **{**kw, "exact": True})

    sql.nearest_vectors = exact  # type: ignore[assignment]
    try:
        truth = {u: [r.paper_id for r in rec.rank_catalog(u, 50).items] for u in members}
        truth_c = {u: rec.neighbours.nearest_vectors(
            rec.profile(u).weights, 200, exclude=acted(rec, u)).ids for u in members}
    finally:
        sql.nearest_vectors = ann  # type: ignore[assignment]
    return {
        "catalog50_recall_vs_exact": float(np.mean(
            [len(set(served[u]) & set(truth[u])) / max(1, len(truth[u])) for u in members])),
        "candidates200_recall_vs_exact": float(np.mean(
            [len(set(served_c[u]) & set(truth_c[u])) / max(1, len(truth_c[u]))
             for u in members])),
    }


def acted(rec: Any, user_id: int) -> set[str]:
    from paperfeed.storage import recommend as store

    with rec.engine.connect() as conn:
        return set(store.acted_on(conn, user_id, limit=500))


def measure(settings: Settings, members: int) -> dict[str, float]:
    from paperfeed.accounts.voting import set_vote
    from paperfeed.recommend.service import open_recommender
    from paperfeed.storage import recommend as store
    from paperfeed.storage import recommend_eval, users

    engine = connect(settings)
    rec = open_recommender(settings, engine)
    with engine.connect() as conn:
        lists = recommend_eval.day_lists(conn)
        papers = count_papers(conn)
    days = [d for d, items in lists.items() if 20 <= len(items) <= 99 and d >= date(2026, 1, 1)]
    days = [days[int(i)] for i in np.random.default_rng(2).choice(len(days), size=10,
                                                                   replace=False)]
    real = [pid for items in lists.values() for pid, _ in items]
    rng = np.random.default_rng(1)
    server = ServerCpu.open(engine)
    fit, day, first_day = Timer(server), Timer(server), Timer(server)
    cat, cat_kw = Timer(server), Timer(server)
    cat_one, cat_two = Timer(server), Timer(server)
    nb = rec.neighbours
    one_read = nb.nearest_vectors

    def two_reads(vector: np.ndarray, k: int, **kw: object) -> NearestVectors:
        """The catalog ranking's read before 2026-11-30 evening: nearest, then the vectors."""
        hits = nb.nearest(vector, k, **kw)  # type: ignore[arg-type]
        return with_stored_vectors(hits, nb.vectors([p for p, _ in hits]), nb.dim)

    ranked: set[date] = set()
    now = utcnow()
    people = []
    for m in range(members):
        with write(engine) as conn:
            member = users.create_user(conn, email=f"bench{m}-{time.time_ns()}@example.org",
                                       now=now)
        found: dict[str, np.ndarray] = {}
        while not found:  # a featured paper with a stored vector (a few have none)
            centre = real[int(rng.integers(0, len(real)))]
            found = rec.neighbours.vectors([centre])
        near = [pid for pid, _ in rec.neighbours.nearest(found[centre], 40)]
        for pid in near[:30]:
            set_vote(engine, settings, member, pid, up=True, ip=f"10.9.{m}.1", now=now)
        people.append((member, near[30:]))
    rec.rank_catalog(people[0][0].id, 50)  # load the shared inputs
    for member, spare in people:
        set_vote(engine, settings, member, spare[0], up=True, ip="10.9.0.2", now=now)
        fit(lambda m=member: rec.refit(m.id, now=now))
        for d in rng.choice(len(days), size=5, replace=False):
            ids = [p for p, _ in lists[days[int(d)]]]
            # The first member to see a day computes its papers' sparse features (then cached
            # for every member of the worker): timed apart.
            timer = day if days[int(d)] in ranked else first_day
            ranked.add(days[int(d)])
            timer(lambda m=member, ids=ids: rec.rank(m.id, ids))
        for _ in range(3):
            cat(lambda m=member: rec.rank_catalog(m.id, 50))
        for _ in range(3):  # A/B in the same run: the ranking with the keyword part put back
            cat_kw(lambda m=member: rec.rank_catalog(m.id, 50, keywords=True))
        for i in range(6):  # A/B in the same run: the candidates' vectors read with the
            # nearest papers or in a second read, alternating which goes first (warm caches)
            for timer, read in ((cat_one, one_read), (cat_two, two_reads))[::(-1) ** i]:
                nb.nearest_vectors = read  # type: ignore[method-assign]
                timer(lambda m=member: rec.rank_catalog(m.id, 50))
        nb.nearest_vectors = one_read  # type: ignore[method-assign]
    recall = recall_vs_exact(rec, [m.id for m, _ in people]) if server else {}
    with engine.connect() as conn:
        n, total = store.profile_sizes(conn)
    engine.dispose()
    out = {**fit.figures("fit"), **day.figures("day"), **first_day.figures("day_first"),
           **cat.figures("catalog50"), **cat_kw.figures("catalog50_with_keywords"),
           **cat_one.figures("catalog50_ab_one_read"), **cat_two.figures("catalog50_ab_two_reads"),
           "profiles": n, "profile_bytes_mean": total / max(1, n),
           "profiles_100k_mb": total / max(1, n) * 100_000 / 1e6, **recall}
    out["papers"] = papers
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data-dir", type=Path, help="an existing catalog (SQLite, vector files)")
    ap.add_argument("--postgres", help="PostgreSQL URL: load --data-dir's catalog into it once")
    ap.add_argument("--papers", type=int, default=75_000)
    ap.add_argument("--grow", action="store_true",
                    help="with --data-dir (a copy: it is written to): grow it to --papers "
                    "papers with synthetic ones first (see `grow`)")
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--workdir", type=Path, default=Path("/work/cache/foryou/bench"))
    ap.add_argument("--cache-dir", type=Path, default=Path("/work/cache/foryou/embed"))
    args = ap.parse_args()
    if args.data_dir and args.postgres:
        work = Path(tempfile.mkdtemp(prefix="foryou-bench-pg-"))
        settings = Settings(data_dir=work, environment="development", database_url=args.postgres,
                            vector_backend="pgvector")
        engine = connect(settings)
        migrate(engine)
        with engine.connect() as conn:
            empty = count_papers(conn) == 0
        engine.dispose()
        if empty:
            fill_postgres(args.data_dir, settings)
    elif args.data_dir:
        settings = Settings(data_dir=args.data_dir, environment="development",
                            vector_backend="files")
        if args.grow:
            grow(settings, args.papers, args.workdir)
    else:
        root = args.workdir / f"papers-{args.papers}"
        settings = Settings(data_dir=root, environment="development", vector_backend="files")
        if not (root / "paperfeed.db").exists():
            root.mkdir(parents=True, exist_ok=True)
            build(settings, args.papers, args.cache_dir)
    figures = measure(settings, args.members)
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
