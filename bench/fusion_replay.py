"""Exact replay of the service's fusion (`SearchService._fuse`) over captured search inputs.

    python bench/fusion_replay.py capture --collections keywords,scifact,titles \
        --out /tmp/search-cache/heldout --cache-dir /tmp/search-cache/embed \
        --save /tmp/replay-sqlite.pkl [--database-url postgresql+psycopg://...]
    python bench/fusion_replay.py replay --load /tmp/replay-sqlite.pkl [--rules NAME,...]

`capture` indexes each collection through the service's own code (`EvalStore`, as
`bench/heldout_collections.py` does), runs every judged query through the default
`SearchService` and keeps what its `_fuse` was handed (the parsed query, both sides' hits, the
query vector) together with every answer the backend gave `_fuse` (cosines, word counts, the
papers' texts: all of the corpus's texts, so a rule reading other papers finds them). `replay`
then calls the real `SearchService._fuse` with other `HybridParams` over a backend that answers
from those records: the same code as the service, with no database and no model, so a rule is
scored on six sets in seconds. The default row must equal the service's own nDCG@10 (the
capture checks that every replayed ranking equals the service's).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from heldout_collections import DEFAULT_CACHE, DEFAULT_OUT, SHARED, collection_paths  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import (  # noqa: E402
    EvalStore,
    ndcg_at_k,
    read_qrels,
    read_queries,
)
from paperfeed.search.hybrid import HybridParams, SearchService  # noqa: E402

DEPTH = 100  # results kept per query, as `evaluate` asks


@dataclass
class Captured:
    """One query's fusion inputs."""

    qid: str
    query: Any
    scope: Any
    kw: list[Any]
    sem: list[tuple[str, float]] | None
    qvec: np.ndarray | None
    depth: int
    notes: list[str]
    ranked: list[str]  # what the service answered


@dataclass
class Collected:
    name: str
    engine: str
    floor: float
    qrels: dict[str, dict[str, int]]
    queries: list[Captured] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    stats: dict[tuple[str, ...], Any] = field(default_factory=dict)
    cosines: dict[tuple[bytes, tuple[str, ...]], dict[str, float]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)


class RecordingBackend:
    """The store's backend, recording what `_fuse` asks of it."""

    def __init__(self, backend: Any, into: Collected) -> None:
        self._b, self._into = backend, into

    def __getattr__(self, name: str) -> Any:
        return getattr(self._b, name)

    def term_stats(self, words: Sequence[str]) -> Any:
        got = self._b.term_stats(words)
        self._into.stats[tuple(words)] = got
        return got

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        got = self._b.cosines(vector, ids)
        self._into.cosines[(vector.tobytes(), tuple(ids))] = dict(got)
        return got

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        got = self._b.titles(ids)
        self._into.titles.update(got)
        return got


class ReplayBackend:
    """Answers `_fuse`'s questions from a capture."""

    name = "replay"

    def __init__(self, c: Collected) -> None:
        self.c = c

    def term_stats(self, words: Sequence[str]) -> Any:
        return self.c.stats[tuple(words)]

    def cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        return self.c.cosines[(vector.tobytes(), tuple(ids))]

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: self.c.texts[i] for i in ids if i in self.c.texts}

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: self.c.titles[i] for i in ids if i in self.c.titles}


def capture(names: list[str], args: argparse.Namespace) -> dict[str, Collected]:
    paths = collection_paths(args.out, SHARED)
    settings = Settings()
    out: dict[str, Collected] = {}
    by_corpus: dict[Path, list[str]] = {}
    for name in names:
        by_corpus.setdefault(paths[name].corpus, []).append(name)
    for corpus, group in by_corpus.items():
        with EvalStore(corpus, settings=settings, with_vectors=True, cache_dir=args.cache_dir,
                       database_url=args.database_url) as store:
            engine = store.engine_name
            service = store.service(HybridParams())
            real = service.backend
            ids = _all_ids(real, store)
            texts: dict[str, str] = {}
            for n in range(0, len(ids), 500):
                texts.update(real.texts(ids[n:n + 500]))
            for name in group:
                c = paths[name]
                queries, qrels = read_queries(c.queries), read_qrels(c.qrels)
                col = Collected(name, engine, service.similarity_floor(),
                                {q: dict(r) for q, r in qrels.items()}, texts=texts)
                service._backend = RecordingBackend(real, col)  # type: ignore[assignment]
                original = service._fuse
                for qid, text in queries.items():
                    if qid not in qrels:
                        continue
                    seen: list[Captured] = []

                    def spy(query: Any, mode: str, scope: Any, kw: Any, sem: Any, qvec: Any,
                            depth: int, limit: int, notes: list[str], _seen: list[Captured]
                            = seen, _qid: str = qid, _fuse: Any = original) -> Any:
                        _seen.append(Captured(_qid, query, scope, list(kw),
                                              list(sem) if sem is not None else None,
                                              qvec, depth, list(notes), []))
                        return _fuse(query, mode, scope, kw, sem, qvec, depth, limit, notes)

                    service._fuse = spy  # type: ignore[method-assign]
                    hits = service.search(text, limit=DEPTH, mode="hybrid").hits
                    seen[-1].ranked = [h.paper_id for h in hits]
                    col.queries.append(seen[-1])
                service._fuse = original  # type: ignore[method-assign]
                out[name] = col
                print(f"captured {name}: {len(col.queries)} queries ({engine})", flush=True)
    return out


def _all_ids(backend: Any, store: EvalStore) -> list[str]:
    from sqlalchemy import text

    assert store.engine is not None
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM papers"))]


def replay(col: Collected, params: HybridParams) -> dict[str, list[str]]:
    """qid -> ranked ids under `params`, by the service's own `_fuse`."""
    service = SearchService(None, None, params=params,  # type: ignore[arg-type]
                            backend=ReplayBackend(col),  # type: ignore[arg-type]
                            embedder=SimpleNamespace(floor=col.floor))  # type: ignore[arg-type]
    runs = {}
    for q in col.queries:
        r = service._fuse(q.query, "hybrid", q.scope, q.kw, q.sem, q.qvec, q.depth, DEPTH,
                          list(q.notes))
        runs[q.qid] = [h.paper_id for h in r.hits]
    return runs


def ndcg(col: Collected, runs: dict[str, list[str]]) -> dict[str, float]:
    return {q: ndcg_at_k(r, col.qrels[q], 10) for q, r in runs.items()}


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / max(len(values), 1)


def rules() -> list[tuple[str, HybridParams]]:
    """Candidate rules (label, params); the first is the service's default."""
    base = HybridParams()
    return [
        ("default", base),
        ("no phrase check (the sixth pass's default)", replace(base, phrase_bonus=0.0)),
        *[(f"phrase check {b}", replace(base, phrase_bonus=b)) for b in (0.5, 1.0, 2.0)],
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--collections", default="keywords,scifact,titles")
    cap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    cap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    cap.add_argument("--database-url", default=None)
    cap.add_argument("--save", type=Path, required=True)
    rep = sub.add_parser("replay")
    rep.add_argument("--load", type=Path, nargs="+", required=True)
    rep.add_argument("--rules", default="", help="semicolon-separated words: rules whose label "
                     "holds one (plus the default)")
    rep.add_argument("--collections", default="", help="comma-separated: only these")
    args = ap.parse_args()
    if args.cmd == "capture":
        names = [n.strip() for n in args.collections.split(",") if n.strip()]
        got = capture(names, args)
        for name, col in got.items():  # the default replay must be the service's answer
            runs = replay(col, HybridParams())
            bad = sum(1 for q in col.queries if runs[q.qid] != q.ranked)
            print(f"{name}: replay nDCG@10 {mean(ndcg(col, runs)):.4f}, service "
                  f"{mean(ndcg(col, {q.qid: q.ranked for q in col.queries})):.4f}, "
                  f"{bad} rankings differ", flush=True)
        with args.save.open("wb") as f:
            pickle.dump(got, f)
        return
    cols: list[Collected] = []
    for path in args.load:
        with path.open("rb") as f:
            cols.extend(pickle.load(f).values())
    keep = [n.strip() for n in args.collections.split(",") if n.strip()]
    cols = [c for c in cols if not keep or c.name in keep]
    words = [w.strip() for w in args.rules.split(";") if w.strip()]
    chosen = [r for n, r in enumerate(rules()) if n == 0 or any(w in r[0] for w in words)]
    base = {c.name + c.engine: ndcg(c, replay(c, chosen[0][1])) for c in cols}
    head = " | ".join(f"{c.name} ({c.engine.split()[0]})" for c in cols)
    print(f"| rule | {head} |\n|---|" + "---|" * len(cols))
    for label, params in chosen:
        cells = []
        for c in cols:
            got = ndcg(c, replay(c, params))
            ref = base[c.name + c.engine]
            better = sum(1 for q in got if got[q] > ref[q] + 1e-9)
            worse = sum(1 for q in got if got[q] < ref[q] - 1e-9)
            cells.append(f"{mean(got):.4f} ({better}/{worse})")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
