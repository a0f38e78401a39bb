"""Saved-search matching cost: S saved searches (10 per member) against one day's ingest.

    python bench/alerts_bench.py [--searches 100000] [--day 2026-06-02] [--postgres URL]

Builds a fresh database (SQLite file, or a PostgreSQL database you give) holding the demo
corpus (2,926 real Hugging Face papers with their bundled vectors: the targets of "papers
like this one"), then S saved searches of 10 per member, written from real vocabulary: the
keyword phrases Hugging Face attaches to papers (../shared/data/hf-daily-papers) and arXiv
categories. The mix: 55% words (one keyword phrase), 10% words + category, 10% quoted
phrase, 2% a category alone, 15% semantic (the phrase's embedding by the bundled model),
8% papers like a random demo paper. Then it ingests one real arXiv listing day from
../shared/data/arxiv-cs (713 papers on 2026-06-02, the largest day), embeds them with the
bundled model, and times `alerts.run.match_new_papers`: the words pass (anchor lookup,
candidate tests) and the meaning pass (one matrix product per block of searches), as the
ingest path runs it. Prints one line per phase and a JSON summary as the last line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"
ARXIV = DATA / "arxiv-cs" / "arxiv_cs_daily_2025-03_2026-07.jsonl.gz"
HF = DATA / "hf-daily-papers" / "hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz"
CATEGORIES = ["cs.CV", "cs.CL", "cs.AI", "cs.LG", "cs.RO", "cs.IR", "cs.CR", "cs.HC", "cs"]


def keywords() -> list[str]:
    """Real keyword phrases (Hugging Face's ai_keywords), de-duplicated."""
    found: dict[str, None] = {}
    with tarfile.open(HF) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            try:
                items = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(items, dict):
                items = items.get("data") or []
            for item in items if isinstance(items, list) else []:
                paper = item.get("paper", item) if isinstance(item, dict) else {}
                for kw in paper.get("ai_keywords") or []:
                    kw = " ".join(str(kw).split())
                    if 3 <= len(kw) <= 60 and '"' not in kw:
                        found.setdefault(kw.lower(), None)
    return list(found)


def day_records(day: str) -> list[dict[str, object]]:
    with gzip.open(ARXIV, "rt") as fh:
        return [r for r in map(json.loads, fh) if r.get("listing_date") == day]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", type=int, default=100_000)
    parser.add_argument("--day", default="2026-06-02")
    parser.add_argument("--postgres", default=None, help="an empty PostgreSQL database URL")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the match run")
    parser.add_argument("--send", action="store_true",
                        help="then send the daily alert edition to an SMTP sink (loopback, "
                        "its own process) and time it")
    args = parser.parse_args()
    if not ARXIV.exists() or not HF.exists():
        sys.exit(f"needs {ARXIV} and {HF}")

    from sqlalchemy import text

    from paperfeed.alerts.rules import compile_rule
    from paperfeed.alerts.run import Matcher
    from paperfeed.config import Settings
    from paperfeed.demo import load_demo
    from paperfeed.models import utcnow
    from paperfeed.search.embed import cached_embedder
    from paperfeed.search.indexing import index_papers
    from paperfeed.sources.snapshot import import_file
    from paperfeed.storage import alerts as store
    from paperfeed.storage.db import connect, migrate, write
    from paperfeed.storage.schema import users

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    settings = Settings(environment="development", data_dir=tmp / "data",
                        database_url=args.postgres)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings)
    migrate(engine)
    t = time.perf_counter()
    load_demo(engine, settings=settings)
    with engine.connect() as conn:
        demo_ids = [r[0] for r in conn.execute(text("SELECT paper_id FROM embeddings"))]
    print(f"catalog: demo corpus, {len(demo_ids)} papers with vectors, "
          f"{time.perf_counter() - t:.1f} s", flush=True)

    words = keywords()
    print(f"vocabulary: {len(words)} real keyword phrases", flush=True)
    members = args.searches // 10
    created = utcnow()  # after the demo corpus: only the day's papers are new to the searches
    specs: list[tuple[str, str | None, bool]] = []  # (query, like, semantic)
    for _ in range(args.searches):
        roll = rng.random()
        kw = rng.choice(words)
        if roll < 0.55:
            specs.append((kw, None, False))
        elif roll < 0.65:
            specs.append((f"{kw} cat:{rng.choice(CATEGORIES)}", None, False))
        elif roll < 0.75:
            specs.append((f'"{kw}"', None, False))
        elif roll < 0.77:
            specs.append((f"cat:{rng.choice(CATEGORIES)}", None, False))
        elif roll < 0.92:
            specs.append((kw, None, True))
        else:
            specs.append(("", rng.choice(demo_ids), False))
    t = time.perf_counter()
    semantic_texts = sorted({q for q, _l, s in specs if s})
    embedder = cached_embedder(settings)
    qvec = {q: np.asarray(embedder.embed_query(q), dtype=np.float32).tobytes()
            for q in semantic_texts}
    like_ids = sorted({like for _q, like, _s in specs if like})
    with engine.connect() as conn:
        from paperfeed.storage.embeddings import load_vectors

        ids, _h, matrix = load_vectors(conn, embedder.model_id, like_ids, embedder.dim)
    lvec = {pid: matrix[i].astype(np.float32).tobytes() for i, pid in enumerate(ids)}
    print(f"embedded {len(semantic_texts)} semantic queries in {time.perf_counter() - t:.1f} s",
          flush=True)

    t = time.perf_counter()
    rules = {q: compile_rule(q) for q in {q for q, _l, _s in specs}}
    # Anchors as the service picks them: the rarest required word by the catalog's counts.
    from paperfeed.alerts.searches import doc_counts, pick_anchors
    from paperfeed.storage.search import refresh_token_docs

    if not args.postgres:
        refresh_token_docs(engine, now=utcnow())
    with engine.connect() as conn:
        counts = doc_counts(engine, conn, sorted({t for r in rules.values()
                                                  for t in r.required_tokens()}))
    with write(engine) as conn:
        conn.execute(users.insert(), [
            {"username": f"bench{i:06d}", "email": f"bench{i:06d}@example.org",
             "role": "member", "banned": False, "external": False, "created_at": created}
            for i in range(members)
        ])
        first = conn.execute(text("SELECT min(id) FROM users WHERE username LIKE 'bench%'"))
        base = int(first.scalar_one())
    for start in range(0, len(specs), 10_000):
        with write(engine) as conn:
            for i, (query, like, semantic) in enumerate(specs[start:start + 10_000], start):
                rule = rules[query]
                store.create_search(
                    conn, user_id=base + i // 10, name=(query or "like")[:100], query=query,
                    like_paper_id=like, semantic=semantic, delivery="daily",
                    rule=rule.to_json(),
                    vector=qvec.get(query) if semantic else lvec.get(like or ""),
                    model_id=embedder.model_id if semantic or like else None,
                    anchors=[] if like else pick_anchors(rule, counts), now=created,
                )
    print(f"saved searches: {len(specs)} for {members} members in "
          f"{time.perf_counter() - t:.1f} s", flush=True)

    records = day_records(args.day)
    day_file = tmp / "day.jsonl"
    day_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    t = time.perf_counter()
    import_file(engine, day_file)
    index_papers(engine, settings)
    print(f"ingest of {args.day}: {len(records)} papers stored and embedded in "
          f"{time.perf_counter() - t:.1f} s", flush=True)

    matcher = Matcher(engine, settings)
    timings = {"words": 0.0, "meaning": 0.0}
    words_pass, meaning_pass = matcher.words, matcher.meaning

    def timed_words(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return words_pass(*a, **kw)
        finally:
            timings["words"] += time.perf_counter() - t0

    def timed_meaning(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return meaning_pass(*a, **kw)
        finally:
            timings["meaning"] += time.perf_counter() - t0

    matcher.words, matcher.meaning = timed_words, timed_meaning  # type: ignore[method-assign]
    cpu = time.process_time()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        report = profiler.runcall(matcher.run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    else:
        report = matcher.run()
    cpu = time.process_time() - cpu
    with engine.connect() as conn:
        per_search = conn.execute(text(
            "SELECT count(*), count(DISTINCT search_id) FROM saved_search_matches")).one()
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"match: {report.papers} papers x {len(specs)} searches on {backend}: "
          f"{report.seconds:.2f} s total, {cpu:.2f} s CPU (words pass {timings['words']:.2f} s over "
          f"{report.candidates} candidate searches; meaning pass {timings['meaning']:.2f} s "
          f"over {report.semantic_searches} searches by meaning); {report.matches} matches "
          f"for {per_search[1]} searches; peak RSS {rss_mb():.0f} MB", flush=True)
    print(json.dumps({
        "backend": backend, "searches": len(specs), "members": members,
        "papers": report.papers, "seconds": round(report.seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "words_seconds": round(timings["words"], 3),
        "meaning_seconds": round(timings["meaning"], 3),
        "candidates": report.candidates, "semantic_searches": report.semantic_searches,
        "matches": report.matches, "searches_matched": int(per_search[1]),
        "peak_rss_mb": round(rss_mb()),
    }))
    if args.send:
        send_phase(engine, settings)
    engine.dispose()


def send_phase(engine: object, settings: object) -> None:
    """Every member with matches gets the daily alert email (claims, stamping, rendering, one
    reused SMTP connection), into the digest bench's aiosmtpd sink process."""
    from digest_bench import start_sink

    from paperfeed.alerts.send import send_alerts
    from paperfeed.digests.editions import parse_edition

    sink = start_sink()
    cfg = settings.model_copy(update={  # type: ignore[attr-defined]
        "smtp_host": "127.0.0.1", "smtp_port": sink.port, "mail_from": "p <alerts@p.example.org>"})
    t, cpu = time.perf_counter(), time.process_time()
    report = send_alerts(engine, cfg, parse_edition("2026-06-02"))  # type: ignore[arg-type]
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    time.sleep(0.2)
    sink.close()
    print(report.line())
    print(f"send: {report.sent} alert emails ({report.papers} papers listed) in {elapsed:.1f} s "
          f"= {report.sent / max(elapsed, 1e-9):.0f} messages/s, sender CPU "
          f"{cpu / max(report.sent, 1) * 1000:.2f} ms per message; sink received {sink.count.value}",
          flush=True)


if __name__ == "__main__":
    main()
