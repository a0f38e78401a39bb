"""Retrieval evaluation on BEIR-format collections: file readers, metrics (pure) and a runner
that indexes a corpus in a temporary store through the service's own code paths.

Metrics follow trec_eval / BEIR: graded gain = qrel score, nDCG@k over the judged-relevant
ideal ranking, Recall@k = found relevant / all relevant, MRR@10 = 1 / rank of the first relevant.
Queries without any relevant document in the qrels are not scored (as in BEIR).
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from paperfeed.errors import ParseError
from paperfeed.models import Paper, utcnow

Qrels = dict[str, dict[str, int]]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with _open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ParseError(f"eval: {path}:{n}: not JSON ({exc.msg})") from exc
            if not isinstance(obj, dict) or "_id" not in obj:
                raise ParseError(f"eval: {path}:{n}: expected an object with an _id")
            yield n, obj


def read_corpus(path: Path) -> Iterator[Paper]:
    """BEIR corpus (.jsonl or .jsonl.gz, `_id,title,text`) as Paper records keyed by `_id`."""
    for _, obj in _jsonl(path):
        yield Paper(
            id=str(obj["_id"]),
            title=str(obj.get("title") or ""),
            abstract=str(obj.get("text") or ""),
            source="beir",
        )


def read_queries(path: Path) -> dict[str, str]:
    """BEIR queries (`_id,text`) as {id: text}."""
    return {str(obj["_id"]): str(obj.get("text") or "") for _, obj in _jsonl(path)}


def read_qrels(path: Path) -> Qrels:
    """BEIR qrels TSV `query-id corpus-id score` (header line first) as {qid: {docid: score}}."""
    qrels: Qrels = {}
    with _open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.strip().split("\t") if "\t" in line else line.split()
            if not parts:
                continue
            if n == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) < 3:
                raise ParseError(f"eval: {path}:{n}: expected 'query-id corpus-id score'")
            try:
                score = int(float(parts[2]))
            except ValueError as exc:
                raise ParseError(f"eval: {path}:{n}: score {parts[2]!r} is not a number") from exc
            qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


# -- metrics (pure) --------------------------------------------------------------------------
def ndcg_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(
        rels.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if rels.get(doc)
    )
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k], start=1):
        if rels.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class EvalReport:
    mode: str
    queries: int
    metrics: dict[str, float] = field(default_factory=dict)
    runs: dict[str, list[str]] = field(default_factory=dict)  # qid -> ranked ids

    def as_json(self) -> dict[str, float | int | str]:
        return {"mode": self.mode, "queries": self.queries, **self.metrics}


def score_runs(
    runs: Mapping[str, Sequence[str]], qrels: Qrels, latencies_ms: Sequence[float] = ()
) -> dict[str, float]:
    """Mean metrics over the queries that have relevant documents."""
    scored = [q for q in runs if any(r > 0 for r in qrels.get(q, {}).values())]
    n = len(scored) or 1

    def mean(fn: Callable[[Sequence[str], Mapping[str, int]], float]) -> float:
        return round(sum(fn(runs[q], qrels[q]) for q in scored) / n, 4)

    return {
        "ndcg@10": mean(lambda r, q: ndcg_at_k(r, q, 10)),
        "recall@10": mean(lambda r, q: recall_at_k(r, q, 10)),
        "recall@100": mean(lambda r, q: recall_at_k(r, q, 100)),
        "mrr@10": mean(lambda r, q: mrr_at_k(r, q, 10)),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p95_ms": round(percentile(latencies_ms, 95), 2),
    }


def run_queries(
    search: Callable[[str], list[str]], queries: Mapping[str, str], qrels: Qrels, *, mode: str
) -> EvalReport:
    """Run every judged query through `search` (text -> ranked ids), timing each call."""
    runs: dict[str, list[str]] = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        if qid not in qrels:
            continue
        start = time.perf_counter()
        runs[qid] = search(text)
        latencies.append((time.perf_counter() - start) * 1000)
    return EvalReport(
        mode=mode, queries=len(runs), metrics=score_runs(runs, qrels, latencies), runs=runs
    )
