"""Search at a million papers: realistic vectors, ANN recall@10 vs exact, hybrid latency, RSS.

    PYTHONPATH=. python bench/search_1m.py embed             # real vectors (cached, ~10 CPU-min)
    PYTHONPATH=. python bench/search_1m.py vectors           # grow to 1M; NN-cosine check
    PYTHONPATH=. python bench/search_1m.py recall --size 160000 --size 1000000
    PYTHONPATH=. python bench/search_1m.py build             # the 1M data dir (ingest + import)
    PYTHONPATH=. python bench/search_1m.py latency [--save F] [--baseline F]

Real vectors: the bundled model's embeddings of real scientific text, made once and cached under
$PAPERFEED_BENCH_CACHE/embed/real-cs/ (default /tmp/paperfeed-bench): the 74,728 arxiv-cs titles, the first sentence of each of their
abstracts, and the titles of the Hugging Face daily papers that are not in arxiv-cs (500 of
those are held out as queries, never indexed). Growth to 1M: each extra vector is a real vector
plus Gaussian noise shaped like the real set's own covariance (so it varies along the directions
real papers vary), renormalised; its scale is chosen so the nearest-neighbour cosine
distribution of the grown set matches the real set's at the same size (`vectors` prints both).

The 1M catalog (`build`): the 74,728 real papers through `paperfeed ingest jsonl`, plus
synthetic papers (unique `YYMM.NNNNN` ids from 1501-2412, which the real set does not use;
titles recombined from two real titles, abstracts from 4-8 real abstract sentences, real author
names and categories) through the same command, so FTS5 posting lists and document counts look
real; then every paper's vector through `import_vectors` (the real papers get their real title
vector). `latency` times `SearchService.search` in-process and the RSS of a fresh search process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA", "/work/shared/data"))
ARXIV = SHARED / "arxiv-cs" / "arxiv_cs_daily_2025-03_2026-07.jsonl.gz"
HF = SHARED / "hf-daily-papers" / "hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz"
# Everything this script makes (~10 GB at 1M) lives under one reusable directory.
CACHE = Path(os.environ.get("PAPERFEED_BENCH_CACHE", "/tmp/paperfeed-bench"))
REAL = CACHE / "embed" / "real-cs"
SCALE = CACHE / "scale1m"
HELD_OUT = 500
N = 1_000_000
SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def load() -> tuple[list[dict], list[tuple[str, str]]]:
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    from paperfeed.sources.hf_daily import iter_path, parse_day_response

    have = {r["id"] for r in rows}
    hf: dict[str, str] = {}
    for name, data in iter_path(HF):
        try:
            day = parse_day_response(data, name=name)
        except Exception:  # noqa: BLE001 - a malformed day: skip it
            continue
        for p in day.papers:
            if p.id not in have and p.title:
                hf[p.id] = p.title
    return rows, sorted(hf.items())


def clean(s: str) -> str:
    return " ".join(s.split())


def cmd_embed(_: argparse.Namespace) -> None:
    from paperfeed.search.embed import Embedder

    if (REAL / "vectors.npy").exists():
        print(f"cached: {REAL}")
        return
    rows, hf = load()
    texts = [clean(r["title"]) for r in rows]
    texts += [SENT.split(clean(r["abstract"]), maxsplit=1)[0][:400] for r in rows]
    texts += [clean(t) for _, t in hf]
    kinds = ["title"] * len(rows) + ["sentence"] * len(rows) + ["hf-title"] * len(hf)
    ids = [r["id"] for r in rows] * 2 + [i for i, _ in hf]
    emb = Embedder.load(model="minilm-l6-v2", threads=2)
    t, c = time.perf_counter(), time.process_time()
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    for s in range(0, len(texts), 8192):
        out[s : s + 8192] = emb.embed_documents(texts[s : s + 8192], batch_size=64)
        print(f"  {min(s + 8192, len(texts)):,}/{len(texts):,} "
              f"({time.perf_counter() - t:.0f} s wall, {time.process_time() - c:.0f} CPU-s)",
              flush=True)
    REAL.mkdir(parents=True, exist_ok=True)
    np.save(REAL / "vectors.npy", out)
    (REAL / "rows.tsv").write_text("".join(f"{i}\t{k}\n" for i, k in zip(ids, kinds,
                                                                            strict=True)))
    (REAL / "model.txt").write_text(emb.model_id)
    print(f"embedded {len(texts):,} texts in {time.perf_counter() - t:.0f} s wall, "
          f"{time.process_time() - c:.0f} CPU-s; {emb.model_id}")


def real_set() -> tuple[np.ndarray, list[tuple[str, str]], np.ndarray]:
    """(indexable real vectors, their (id, kind), held-out query vectors)."""
    mat = np.load(REAL / "vectors.npy")
    rows = [tuple(x.split("\t")) for x in (REAL / "rows.tsv").read_text().splitlines()]
    hf = [n for n, (_, k) in enumerate(rows) if k == "hf-title"]
    held = set(random.Random(7).sample(hf, HELD_OUT))
    keep = [n for n in range(len(rows)) if n not in held]
    return mat[keep], [rows[n] for n in keep], mat[sorted(held)]  # type: ignore[misc]


def nn_cos(base: np.ndarray, sample: int = 1000, seed: int = 3) -> np.ndarray:
    """Cosine of each of `sample` random members to its nearest other member."""
    idx = np.random.default_rng(seed).choice(base.shape[0], sample, replace=False)
    best = np.full(sample, -1.0, dtype=np.float32)
    q = base[idx]
    for s in range(0, base.shape[0], 200_000):
        sc = q @ base[s : s + 200_000].T
        self_hit = (idx >= s) & (idx < s + 200_000)
        sc[np.flatnonzero(self_hit), idx[self_hit] - s] = -1
        best = np.maximum(best, sc.max(axis=1))
    return best


def quant(x: np.ndarray) -> str:
    qs = np.percentile(x, [5, 25, 50, 75, 95])
    return " ".join(f"{v:.3f}" for v in qs)


def grow(real: np.ndarray, n: int, scale: float, seed: int = 0) -> np.ndarray:
    """`real` first, then perturbations of random real vectors up to `n` rows."""
    rng = np.random.default_rng(seed)
    cov = np.cov(real[:: max(1, real.shape[0] // 50_000)].T).astype(np.float64)
    w, v = np.linalg.eigh(cov)
    shape = (v * np.sqrt(np.maximum(w, 0))).T.astype(np.float32)  # z @ shape ~ N(0, cov)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[: real.shape[0]] = real
    for s in range(real.shape[0], n, 100_000):
        m = min(100_000, n - s)
        z = rng.standard_normal((m, real.shape[1])).astype(np.float32) @ shape
        x = real[rng.integers(0, real.shape[0], m)] + scale * z
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def cmd_vectors(args: argparse.Namespace) -> None:
    real, _, _ = real_set()
    r = real.shape[0]
    print(f"real vectors: {r:,} (held-out queries: {HELD_OUT})")
    print("nearest-neighbour cosine, percentiles 5/25/50/75/95 (1,000 random members)")
    for frac in (4, 2, 1):
        sub = real[np.random.default_rng(1).permutation(r)[: r // frac]]
        print(f"  real            {sub.shape[0]:>9,}: {quant(nn_cos(sub))}")
    path = SCALE / f"vectors-{N}-s{args.scale}.npy"
    for scale in args.try_scale or []:
        g = grow(real, 2 * r, scale)
        sub = g[np.random.default_rng(2).permutation(g.shape[0])[:r]]
        print(f"  grown s={scale:<5} {sub.shape[0]:>9,}: {quant(nn_cos(sub))} (random half of 2x)")
    if args.try_scale:
        return
    if not path.exists():
        SCALE.mkdir(parents=True, exist_ok=True)
        np.save(path, grow(real, N, args.scale))
    g = np.load(path, mmap_mode="r")
    sub = np.asarray(g[np.sort(np.random.default_rng(2).permutation(N)[:r])])
    print(f"  grown s={args.scale:<5} {r:>9,}: {quant(nn_cos(sub))} (random subset of the 1M)")
    print(f"  grown s={args.scale:<5} {N:>9,}: {quant(nn_cos(np.asarray(g)))}")


def queries() -> tuple[np.ndarray, np.ndarray]:
    """(held-out real titles, SciFact claims), both embedded by the bundled model."""
    _, _, held = real_set()
    path = CACHE / "embed" / "bench-queries.npy"
    if not path.exists():
        from paperfeed.search.embed import Embedder

        lines = (SHARED / "scifact" / "queries_train.jsonl").read_text().splitlines()
        texts = [json.loads(x)["text"] for x in lines[:400]]
        np.save(path, Embedder.load(model="minilm-l6-v2").embed_documents(texts))
    claims = np.load(path)[:200]
    return held, claims


def cmd_recall(args: argparse.Namespace) -> None:
    from paperfeed.storage.vectors.files import VectorFiles

    real, _, _ = real_set()
    for n in args.size:
        mat = real if n <= real.shape[0] else np.load(
            SCALE / f"vectors-{N}-s{args.scale}.npy", mmap_mode="r")[:n]
        n = mat.shape[0]
        directory = args.index_dir or SCALE / f"ann-{n}-s{args.scale}"
        if not (directory / "manifest.json").exists():
            index = VectorFiles(directory, "bench", mat.shape[1])
            t = time.perf_counter()
            with index.bulk():
                for s in range(0, n, 100_000):
                    index.add([f"p{i}" for i in range(s, min(n, s + 100_000))],
                              np.asarray(mat[s : s + 100_000]))
            print(f"n={n:,}: HNSW built in {time.perf_counter() - t:.0f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
        subprocess.run([sys.executable, __file__, "recall-child", str(directory),
                        *map(str, args.ef)], check=True, env=os.environ)


def recall_child(directory: Path, efs: list[int]) -> None:
    """A fresh process: recall@10 of the graph vs exact search, per expansion_search value."""
    from paperfeed.storage.vectors.files import VectorFiles

    held, claims = queries()
    model_id = json.loads((directory / "manifest.json").read_text())["model_id"]
    index = VectorFiles(directory, model_id, held.shape[1])
    st = index._state
    index.search(held[0], 10)
    print(f"n={st.live:,} ann={index.uses_ann} (service ef_search {index.expansion_search()}) "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    sets = [("held-out titles", held), ("SciFact claims", claims)]
    truth = {name: [{h[0] for h in index._exact(st, q, 10)} for q in qs] for name, qs in sets}
    for ef in efs or [index.expansion_search() or 0]:
        if st.ann is not None and ef:
            st.ann.expansion_search = ef
        for name, qs in sets:
            lat, cpu, hits = [], [], 0
            for q, want in zip(qs, truth[name], strict=True):
                t, c = time.perf_counter(), time.process_time()
                got = {h[0] for h in index.search(q, 10)}
                lat.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                hits += len(got & want)
            rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
            print(f"  ef_search {ef:>4} {name:<16} recall@10 {hits / (10 * len(qs)):.3f}  "
                  f"p50 {np.percentile(lat, 50):.2f} ms p95 {np.percentile(lat, 95):.2f} ms "
                  f"(CPU p50 {np.percentile(cpu, 50):.2f} ms)  RSS {rss} MB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)


def synthetic_papers(rows: list[dict], n: int, seed: int = 11) -> list[dict]:
    """`n` synthetic papers recombined from real titles, abstract sentences and authors."""
    rng = random.Random(seed)
    sents = [s for r in rows for s in SENT.split(clean(r["abstract"])) if len(s) > 30]
    names = [a for r in rows for a in r["authors"]]
    months = [f"{y:02d}{m:02d}" for y in range(15, 25) for m in range(1, 13)]
    per = -(-n // len(months))
    out = []
    for i in range(n):
        ym, num = months[i // per], i % per + 1
        a, b, c = rng.choice(rows), rng.choice(rows), rng.choice(rows)
        ta, tb = clean(a["title"]).split(), clean(b["title"]).split()
        cut_a, cut_b = max(1, len(ta) // 2), len(tb) // 2
        pid = f"{ym}.{num:05d}"
        out.append({
            "id": pid, "title": " ".join(ta[:cut_a] + tb[cut_b:]),
            "authors": rng.sample(names, rng.randint(1, 6)),
            "categories": c["categories"], "primary_category": c["primary_category"],
            "abstract": " ".join(rng.sample(sents, rng.randint(4, 8))),
            "comment": None, "listing_date": f"20{ym[:2]}-{ym[2:]}-{rng.randint(1, 28):02d}",
            "abs_url": f"https://arxiv.org/abs/{pid}", "pdf_url": f"https://arxiv.org/pdf/{pid}",
        })
    return out


def run_cli(data_dir: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERFEED_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "paperfeed", *args], check=True, env=env)


def cmd_build(args: argparse.Namespace) -> None:
    data = args.data_dir
    vec_path = SCALE / f"vectors-{N}-s{args.scale}.npy"
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    synth_path = SCALE / f"synthetic-{N - len(rows)}.jsonl.gz"
    if not synth_path.exists():
        t = time.perf_counter()
        with gzip.open(synth_path.with_suffix(".tmp"), "wt", encoding="utf-8",
                       compresslevel=1) as fh:
            for rec in synthetic_papers(rows, N - len(rows)):
                fh.write(json.dumps(rec) + "\n")
        synth_path.with_suffix(".tmp").rename(synth_path)
        print(f"synthetic papers written in {time.perf_counter() - t:.0f} s", flush=True)
    done = data / "build-done.json"
    if done.exists():
        print(f"cached: {data} ({done.read_text().strip()})")
        return
    data.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    if not (data / "ingested").exists():
        run_cli(data, "init")
        # synthetic first: the few real papers with pre-2025 ids then overwrite their twins
        for name, path in (("ingest synthetic", synth_path), ("ingest real", ARXIV)):
            t, load = time.perf_counter(), os.getloadavg()[0]
            run_cli(data, "ingest", "jsonl", "--no-progress", "--no-index", str(path))
            times[name] = time.perf_counter() - t
            print(f"{name}: {times[name]:.0f} s wall (load {load:.1f} -> "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
        (data / "ingested").write_text(json.dumps(times))
    if args.ingest_only:
        return
    _, real_rows, _ = real_set()
    # vectors: real papers get their real title vector, synthetic ones the rest in order
    title_row = {pid: n for n, (pid, kind) in enumerate(real_rows) if kind == "title"}
    ids = [r["id"] for r in rows]
    order = [title_row[i] for i in ids]
    used = set(order)
    order += [n for n in range(N) if n not in used][: N - len(ids)]
    real_ids = set(ids)
    with gzip.open(synth_path, "rt", encoding="utf-8") as fh:
        ids += [pid for pid in (json.loads(line)["id"] for line in fh) if pid not in real_ids]
    order = order[: len(ids)]
    mat = np.load(vec_path, mmap_mode="r")
    np.save(data / "import.npy", np.asarray(mat[np.asarray(order)]))
    (data / "import-ids.txt").write_text("\n".join(ids) + "\n")
    (data / "model.txt").write_text((REAL / "model.txt").read_text())
    del mat
    t, load = time.perf_counter(), os.getloadavg()[0]
    os.environ["PAPERFEED_DATA_DIR"] = str(data)
    from paperfeed.config import Settings
    from paperfeed.search.indexing import import_vectors
    from paperfeed.storage.db import connect

    settings = Settings()
    summary = import_vectors(connect(settings), settings, data / "import.npy",
                             data / "import-ids.txt", progress=False)
    times["import vectors + HNSW"] = time.perf_counter() - t
    print(f"import_vectors: {summary.imported:,} in {times['import vectors + HNSW']:.0f} s "
          f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
    (data / "import.npy").unlink()
    done.write_text(json.dumps(times) + "\n")


def cmd_latency(args: argparse.Namespace) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERFEED_DATA_DIR": str(args.data_dir)}
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    res = subprocess.run([sys.executable, __file__, "latency-child", str(args.queries),
                          str(args.limit), *args.modes], env=env, capture_output=True, text=True)
    if res.returncode:
        sys.exit(res.stderr)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"{out['papers']:,} papers, {out['vectors']:,} vectors (ANN {out['ann']}, "
          f"ef_search {out['ef_search']}), {args.queries} queries, limit {args.limit}")
    print(f"{'mode':<12} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8} {'CPU ms':>7} "
          f"{'CPU p95':>7} {'limited':>7}  load (1-min avg) at start")
    for mode, r in out["modes"].items():
        print(f"{mode:<12} {r['p50']:7.1f} {r['p95']:7.1f} {r['mean']:8.1f} "
              f"{r.get('cpu_ms', 0):7.1f} {r.get('cpu_p95', 0):7.1f} {r.get('limited', 0):7d}"
              f"  {r['load']:.2f}")
    print(f"search process RSS {out['rss_mb']} MB (peak {out['hwm_mb']} MB) after "
          f"{4 * args.queries} searches; model + index opened in {out['open_s']:.1f} s")
    if args.save:
        args.save.write_text(json.dumps(out, indent=1))
    if args.baseline and args.baseline.exists():
        base = json.loads(args.baseline.read_text())
        for mode, r in out["modes"].items():
            b = base["modes"].get(mode)
            if b:
                print(f"{mode}: p50 {b['p50']:.1f} -> {r['p50']:.1f} ms, p95 {b['p95']:.1f} -> "
                      f"{r['p95']:.1f} ms")
        print(f"RSS {base['rss_mb']} -> {out['rss_mb']} MB")


def latency_child(nq: int, limit: int, labels: list[str] | None = None) -> None:
    """A fresh search process, as a web worker: open, warm up, time every mode, report RSS."""
    sys.path.insert(0, str(ROOT / "bench"))
    from dataclasses import replace

    from search_latency import pct, queries_from

    from paperfeed.config import Settings
    from paperfeed.search.hybrid import SearchService
    from paperfeed.storage.db import connect

    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    qs = queries_from(rows, nq)
    del rows
    t = time.perf_counter()
    settings = Settings()
    engine = connect(settings)
    service = SearchService(engine, settings)
    labels = labels or ["hybrid", "keyword", "semantic", "hybrid-again"]
    for q in qs[:10]:  # warm-up: load the model, page in the graph's upper layers
        service.search(q, limit=limit, mode=labels[0].split("-")[0])
    open_s = time.perf_counter() - t
    embedder = service.embedder()
    backend = service.backend
    # a label holding "nocov" ("hybrid-nocov") searches without the fusion's coverage check
    nocov = SearchService(engine, settings, params=replace(service.params, coverage_bonus=0.0),
                          backend=backend, embedder=embedder)
    modes = {}
    # "hybrid-again": the same queries once more; their words' document counts are cached by
    # then (10 min per process), as common words are in a busy worker; query vectors are not.
    # "<mode>-nopairs": A/B in one pass, alternating per query (A first on even queries): the
    # defaults ("<mode>") against the keyword side without word pairs ("<mode>-nopairs");
    # "hybrid-nophrases" likewise against the fusion without the phrase check.
    nopairs = SearchService(engine, settings, backend=backend, embedder=embedder,
                            params=replace(service.params, keyword=replace(
                                service.params.keyword, bigrams="off")))
    nophrases = SearchService(engine, settings, backend=backend, embedder=embedder,
                              params=replace(service.params, phrase_bonus=0.0))
    for label in labels:
        mode = label.split("-")[0]
        if embedder is not None:
            embedder.forget_queries()
        load = os.getloadavg()[0]
        if label.endswith("-nopairs"):
            sides = [(mode, service), (label, nopairs)]
        elif label.endswith("-nophrases"):  # the defaults vs without the phrase check
            sides = [(mode, service), (label, nophrases)]
        else:
            sides = [(label, nocov if "nocov" in label else service)]
        times: dict[str, list[float]] = {name: [] for name, _ in sides}
        cpus: dict[str, list[float]] = {name: [] for name, _ in sides}
        limited = dict.fromkeys(times, 0)
        for n, q in enumerate(qs):
            for name, svc in sides if n % 2 == 0 else sides[::-1]:
                t, c = time.perf_counter(), time.process_time()
                result = svc.search(q, limit=limit, mode=mode)
                times[name].append((time.perf_counter() - t) * 1000)
                cpus[name].append((time.process_time() - c) * 1000)  # both threads
                limited[name] += bool(getattr(result, "limited", False))
        for name in times:
            modes[name] = {"p50": pct(times[name], 50), "p95": pct(times[name], 95),
                           "mean": statistics.mean(times[name]), "load": load,
                           "limited": limited[name], "cpu_ms": statistics.mean(cpus[name]),
                           "cpu_p95": pct(cpus[name], 95)}
    status = open("/proc/self/status").read()
    with engine.connect() as conn:
        from sqlalchemy import text

        papers = conn.execute(text("SELECT count(*) FROM papers")).scalar_one()
    print(json.dumps({
        "papers": papers,
        "vectors": backend.vector_count() if labels != ["keyword"] else 0,
        "ann": backend.uses_ann() if labels != ["keyword"] else None,
        "ef_search": getattr(getattr(backend.side, "files", None), "expansion_search",
                             lambda: None)() if labels != ["keyword"] else None,
        "modes": modes, "open_s": open_s,
        "rss_mb": int(status.split("VmRSS:")[1].split()[0]) // 1024,
        "hwm_mb": int(status.split("VmHWM:")[1].split()[0]) // 1024,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))

def cmd_sides(args: argparse.Namespace) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERFEED_DATA_DIR": str(args.data_dir)}
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    subprocess.run([sys.executable, __file__, "sides-child", str(args.queries),
                    str(args.limit)], env=env, check=True)


def sides_child(nq: int, limit: int) -> None:
    """The hybrid tail, side by side: per query the keyword side as hybrid runs it (under the
    posting cap), the semantic side (embedding + nearest) and the whole hybrid search, each
    timed alone; prints each side's percentiles and the slowest hybrid queries."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_latency import pct, queries_from

    from paperfeed.config import Settings
    from paperfeed.search.hybrid import SearchService
    from paperfeed.search.keyword import effective_filters, keyword_search
    from paperfeed.search.query import keyword_term_counts, parse
    from paperfeed.storage.db import connect
    from paperfeed.storage.search import SearchFilters

    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    qs = queries_from(rows, nq)
    del rows
    service = SearchService(connect(Settings()), Settings())
    for q in qs[:10]:
        service.search(q, limit=limit)
    embedder = service.embedder()
    cap = int(service.posting_cap() * service.params.hybrid_cap_share)  # as hybrid runs it
    out = []
    for q in qs:
        query = parse(q)
        scope = effective_filters(query, SearchFilters())
        words = list(keyword_term_counts(query, limit=service.params.keyword.max_terms))
        docs = service.backend.term_stats(words).docs if words else {}
        t, c = time.perf_counter(), time.process_time()
        hits, _ = keyword_search(service.backend, query, scope, limit=100,
                                 params=service.params.keyword, posting_cap=cap)
        kw = (time.perf_counter() - t) * 1000
        kw_cpu = (time.process_time() - c) * 1000
        if embedder is not None:
            embedder.forget_queries()
        t = time.perf_counter()
        service._semantic(query, scope, 100)
        sem = (time.perf_counter() - t) * 1000
        if embedder is not None:
            embedder.forget_queries()
        t = time.perf_counter()
        service.search(q, limit=limit)
        hyb = (time.perf_counter() - t) * 1000
        from paperfeed.search.keyword import plan

        request, _ = plan(query, service.backend.term_stats(words) if words else None,
                          service.params.keyword, posting_cap=cap)
        postings = sum(docs.get(w, 0) for w in request.terms)
        out.append((hyb, kw, sem, postings, kw_cpu, q))
    for name, col in (("hybrid", 0), ("keyword side", 1), ("semantic side", 2),
                      ("keyword CPU", 4)):
        vals = [r[col] for r in out]
        print(f"{name:<14} p50 {pct(vals, 50):6.1f}  p95 {pct(vals, 95):6.1f}  "
              f"mean {statistics.mean(vals):6.1f} ms")
    big = [r for r in out if r[3] >= 10_000]
    if big:
        per = statistics.median(r[4] / r[3] * 1000 for r in big)
        print(f"keyword side CPU per 1,000 postings ranked (queries >= 10k postings): "
              f"{per:.2f} ms (median of {len(big)})")
    print("slowest hybrid searches: hybrid / keyword side / semantic side ms, postings ranked")
    for hyb, kw, sem, postings, _, q in sorted(out, reverse=True)[:15]:
        print(f"  {hyb:6.1f} {kw:6.1f} {sem:6.1f} {postings:7d}  {q[:70]}")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "recall-child":
        recall_child(Path(sys.argv[2]), [int(x) for x in sys.argv[3:]])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "sides-child":
        sides_child(int(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "latency-child":
        latency_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
        return
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("embed")
    p = sub.add_parser("vectors")
    p.add_argument("--scale", type=float, default=0.6)
    p.add_argument("--try-scale", type=float, nargs="*")
    p = sub.add_parser("recall")
    p.add_argument("--size", type=int, action="append", required=True)
    p.add_argument("--scale", type=float, default=0.6)
    p.add_argument("--ef", type=int, nargs="*", default=[],
                   help="expansion_search values to try (default: the service's rule)")
    p.add_argument("--index-dir", type=Path)
    for name in ("build", "latency", "sides"):
        p = sub.add_parser(name)
        p.add_argument("--data-dir", type=Path, default=SCALE / "data")
        p.add_argument("--scale", type=float, default=0.6)
        if name == "build":
            p.add_argument("--ingest-only", action="store_true")
            continue
        p.add_argument("--queries", type=int, default=300)
        p.add_argument("--limit", type=int, default=20)
        p.add_argument("--save", type=Path)
        p.add_argument("--baseline", type=Path)
        p.add_argument("--modes", nargs="*", default=[],
                       help="passes to time (default: hybrid keyword semantic hybrid-again); "
                       "hybrid-nopairs / keyword-nopairs: that mode A/B against the keyword "
                       "side without word pairs, alternating per query; hybrid-nophrases: "
                       "hybrid A/B against the fusion without the phrase check")
    args = ap.parse_args()
    {"embed": cmd_embed, "vectors": cmd_vectors, "recall": cmd_recall, "build": cmd_build,
     "latency": cmd_latency, "sides": cmd_sides}[args.cmd](args)


if __name__ == "__main__":
    main()
