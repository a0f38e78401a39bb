"""Calibrate the semantic similarity floor: how close in meaning a paper must be to a query to be
a result when none of the query's words match it.

    python bench/similarity_floor.py [--heldout DIR] [--cache-dir DIR] [--seed 7]

Cosine similarity has no natural zero for "unrelated": a sentence-embedding model gives every
query some nearest paper, and for gibberish that paper still scores 0.1-0.3. The floor separates
two populations, measured here with the configured (bundled) model on several catalogs:

- nonsense queries, generated (seeded): pseudo-words ("blorptang vizzlequark"), random letters,
  keyboard runs, digits and symbols, random CJK / Cyrillic / Greek characters, lorem ipsum,
  Jabberwocky words: the top-1 cosine of each against every catalog;
- real queries of the evaluation collections (SciFact claims; the held-out titles, summaries,
  descriptions, keywords and questions of bench/heldout_collections.py): the top-1 cosine and
  the cosine of the judged paper, i.e. what a floor would cut from the semantic candidates;
- unrelated everyday queries ("chocolate cake recipe"), reported but not used to choose: they
  are real language, and whether a CS catalog has something "close" to them is a judgement.

Catalogs: SciFact (5,183 abstracts), the held-out corpora (arXiv CS: abstracts only; title +
abstract; 60% title-only) and the bundled demo corpus (2,926 HF papers, its shipped vectors).
Document vectors come from the embedding cache (`--cache-dir`, shared with
bench/heldout_collections.py); nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import string
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.embed import Embedder, document_text  # noqa: E402
from paperfeed.search.embed_cache import CachedEmbedder  # noqa: E402
from paperfeed.search.evaluate import read_qrels, read_queries  # noqa: E402

UNRELATED = [
    "chocolate cake recipe without eggs", "who won the football match yesterday",
    "weather forecast for tomorrow in paris", "cheap flights to barcelona in may",
    "how to fix a leaking kitchen tap", "best hiking boots for wide feet",
    "lyrics of a famous love song", "how long to boil an egg", "symptoms of the common cold",
    "how to train a puppy to sit", "what time does the supermarket close",
    "celebrity wedding photos", "knitting pattern for a wool scarf",
    "how to grow tomatoes on a balcony", "opening hours of the city museum",
    "price of a used bicycle", "gardening tips for roses in winter",
    "birthday party ideas for kids", "how to remove a red wine stain",
    "tickets for the opera on saturday",
]
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua").split()
JABBER = ("brillig slithy toves gyre gimble wabe mimsy borogoves mome raths outgrabe "
          "jabberwock jubjub frumious bandersnatch vorpal manxome tumtum uffish burbled "
          "tulgey frabjous callooh callay chortled").split()


def nonsense_queries(seed: int, n: int = 60) -> dict[str, list[str]]:
    """Seeded gibberish of several kinds, `n` queries each."""
    rng = random.Random(seed)
    cons, vows = "bcdfghjklmnprstvwxz", "aeiou"

    def pseudo() -> str:
        return "".join(rng.choice(cons) + rng.choice(vows) + rng.choice(["", rng.choice(cons)])
                       for _ in range(rng.randint(2, 4)))

    def letters() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 12)))

    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "qazwsx", "plokij", "mnbvcxz"]
    scripts = [(0x4E00, 0x9FFF), (0x0430, 0x044F), (0x03B1, 0x03C9)]

    def foreign() -> str:
        lo, hi = rng.choice(scripts)
        return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(2, 8)))

    def words(make, k: tuple[int, int] = (1, 4)) -> str:  # type: ignore[no-untyped-def]
        return " ".join(make() for _ in range(rng.randint(*k)))

    return {
        "pseudo-words": [words(pseudo) for _ in range(n)],
        "random letters": [words(letters) for _ in range(n)],
        "keyboard runs": [words(lambda: rng.choice(rows)[: rng.randint(4, 10)]) for _ in range(n)],
        "digits and symbols": [words(lambda: "".join(rng.choice(string.digits + "!?#$%&*+=")
                                                     for _ in range(rng.randint(2, 8))))
                               for _ in range(n)],
        "foreign characters": [words(foreign) for _ in range(n)],
        "lorem ipsum": [" ".join(rng.sample(LOREM, rng.randint(2, 6))) for _ in range(n)],
        "jabberwocky": [" ".join(rng.sample(JABBER, rng.randint(1, 4))) for _ in range(n)],
    }


def read_corpus_texts(path: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            ids.append(str(row["_id"]))
            texts.append(document_text(str(row.get("title") or ""), str(row.get("text") or "")))
    return ids, texts


def pct(values: np.ndarray, ps: tuple[float, ...] = (50, 90, 99, 100)) -> str:
    if values.size == 0:
        return "-"
    return " / ".join(f"{np.percentile(values, p):.3f}" for p in ps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heldout", type=Path, default=Path("/tmp/search-cache/heldout"),
                    help="bench/heldout_collections.py --out directory")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/search-cache/embed"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--floors", type=float, nargs="*", default=[0.20, 0.25, 0.30, 0.35])
    args = ap.parse_args()

    settings = Settings()
    embedder = CachedEmbedder(Embedder.load(settings), args.cache_dir)
    h = args.heldout
    collections = {  # name: (corpus, [(query set, queries, qrels)])
        "scifact": (args.shared / "scifact" / "corpus.jsonl.gz",
                    [("claims", args.shared / "scifact" / "queries_train.jsonl",
                      args.shared / "scifact" / "qrels_train_cited.tsv")]),
        "arxiv abstracts": (h / "titles" / "corpus.jsonl.gz",
                            [("titles", h / "titles" / "queries.jsonl", h / "titles" / "qrels.tsv")]),
        "arxiv title+abstract": (h / "hf" / "corpus.jsonl.gz",
                                 [(n, h / "hf" / f"queries_{n}.jsonl", h / "hf" / f"qrels_{n}.tsv")
                                  for n in ("summaries", "descriptions", "keywords")]),
        "arxiv 60% title-only": (h / "questions" / "corpus.jsonl.gz",
                                 [("questions", h / "questions" / "queries.jsonl",
                                   h / "questions" / "qrels.tsv")]),
    }
    nonsense = nonsense_queries(args.seed)
    all_nonsense = [q for qs in nonsense.values() for q in qs]
    qvec_cache: dict[str, np.ndarray] = {}

    def qvecs(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in qvec_cache]
        for t in todo:
            qvec_cache[t] = embedder.embed_query(t)
        return np.stack([qvec_cache[t] for t in texts])

    catalogs: dict[str, tuple[list[str], np.ndarray]] = {}
    for name, (corpus, _sets) in collections.items():
        if not corpus.is_file():
            print(f"(skipping {name}: {corpus} missing; run bench/heldout_collections.py "
                  "--build-only first)")
            continue
        ids, texts = read_corpus_texts(corpus)
        catalogs[name] = (ids, embedder.embed_documents(texts))
        embedder.flush()
    demo = ROOT / "paperfeed" / "demo"
    demo_ids = (demo / "ids.txt").read_text("utf-8").split()
    demo_vecs = np.load(demo / "vectors.npy").astype(np.float32)
    catalogs["demo (HF papers)"] = (demo_ids, demo_vecs / np.linalg.norm(demo_vecs, axis=1,
                                                                         keepdims=True))

    print("\n## Top-1 cosine of nonsense queries (p50 / p90 / p99 / max)\n")
    print("| kind | " + " | ".join(catalogs) + " |")
    print("|---|" + "---|" * len(catalogs))
    worst = 0.0
    for kind, queries in [*nonsense.items(), ("all nonsense", all_nonsense),
                          ("unrelated everyday", UNRELATED)]:
        cells = []
        for _name, (_ids, mat) in catalogs.items():
            top = (qvecs(queries) @ mat.T).max(axis=1)
            if kind == "all nonsense":
                worst = max(worst, float(top.max()))
            cells.append(pct(top))
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print(f"\nhighest nonsense top-1 cosine on any catalog: {worst:.3f}")

    print("\n## Real queries: top-1 cosine and the judged paper's cosine (p1 / p5 / p10 / p50)\n")
    print("| collection | queries | top-1 | judged paper | " +
          " | ".join(f"judged < {f:.2f}" for f in args.floors) + " | " +
          " | ".join(f"top-1 < {f:.2f}" for f in args.floors) + " |")
    print("|---|---|---|---|" + "---|" * (2 * len(args.floors)))
    for name, (_corpus, sets) in collections.items():
        if name not in catalogs:
            continue
        ids, mat = catalogs[name]
        row_of = {pid: i for i, pid in enumerate(ids)}
        for set_name, qpath, rpath in sets:
            queries, qrels = read_queries(qpath), read_qrels(rpath)
            judged = [q for q in queries if any(r > 0 for r in qrels.get(q, {}).values())]
            sims = qvecs([queries[q] for q in judged]) @ mat.T
            top = sims.max(axis=1)
            rel = np.array([sims[n, row_of[d]] for n, q in enumerate(judged)
                            for d, r in qrels[q].items() if r > 0 and d in row_of])
            ps = (1, 5, 10, 50)
            print(f"| {set_name} | {len(judged)} | {pct(top, ps)} | {pct(rel, ps)} | " +
                  " | ".join(f"{(rel < f).mean():.1%}" for f in args.floors) + " | " +
                  " | ".join(f"{(top < f).mean():.1%}" for f in args.floors) + " |", flush=True)


if __name__ == "__main__":
    main()
