"""Retrieval evaluation on BEIR-format collections: file readers, metrics (pure) and a runner
that indexes a corpus in a temporary store through the service's own code paths.

Metrics follow trec_eval / BEIR: graded gain = qrel score, nDCG@k over the judged-relevant
ideal ranking, Recall@k = found relevant / all relevant, MRR@10 = 1 / rank of the first relevant.
Queries without any relevant document in the qrels are not scored (as in BEIR).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import ParseError
from paperfeed.models import Paper, utcnow
from paperfeed.search.backend import open_backend
from paperfeed.search.hybrid import HybridParams, QueryEmbedder, SearchService
from paperfeed.storage.db import connect, migrate, write
from paperfeed.storage.papers import upsert_papers
from paperfeed.storage.scratch import claim, clear
from paperfeed.storage.search import refresh_token_docs

log = logging.getLogger(__name__)

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


class EvalStore:
    """A paperfeed store holding a BEIR corpus, indexed by the service's own code: papers
    upserted in one write transaction (the keyword index follows: FTS5 triggers, or the
    generated tsvector) and, when vectors are wanted, embedded by the indexing job into the
    engine's vector index. By default a temporary SQLite store; with `database_url` a scratch
    database (PostgreSQL or SQLite) that is filled and emptied again (`storage.scratch`).

    Use as a context manager; `service(params)` gives a SearchService over it.
    """

    def __init__(
        self,
        corpus: Path,
        *,
        settings: Settings,
        with_vectors: bool,
        cache_dir: Path | None = None,
        workdir: Path | None = None,
        database_url: str | None = None,
    ) -> None:
        self.corpus = corpus
        self.base_settings = settings
        self.with_vectors = with_vectors
        self.cache_dir = cache_dir
        self.workdir = workdir
        self.database_url = database_url
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.embedder: QueryEmbedder | None = None
        self.documents = 0

    @property
    def engine_name(self) -> str:
        """"sqlite" or "postgresql" (+ where vectors live), for reports."""
        assert self.engine is not None and self.settings is not None
        backend = open_backend(self.settings, self.engine)
        return f"{backend.name} + {backend.vector_store}" if self.with_vectors else backend.name

    def __enter__(self) -> EvalStore:
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="paperfeed-eval-")
            root = Path(self._tmp.name)
        else:
            root = self.workdir
            root.mkdir(parents=True, exist_ok=True)
        url = self.database_url or f"sqlite:///{root / 'eval.db'}"
        self.settings = self.base_settings.model_copy(
            update={"data_dir": root, "database_url": url}
        )
        self.engine = connect(self.settings)
        if self.database_url:
            claim(self.engine)
        else:
            migrate(self.engine)
        with write(self.engine) as conn:
            summary = upsert_papers(conn, read_corpus(self.corpus), now=utcnow())
        self.documents = summary.new + summary.updated + summary.unchanged
        refresh_token_docs(self.engine, now=utcnow())  # as after `paperfeed ingest`
        log.info("eval: %d documents in the keyword index (%s)", self.documents, summary.line())
        if self.with_vectors:
            self.embedder = index_vectors(self.engine, self.settings, self.cache_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            if self.database_url:
                clear(self.engine)
            self.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()

    def service(self, params: HybridParams | None = None) -> SearchService:
        assert self.engine is not None and self.settings is not None
        return SearchService(self.engine, self.settings, params=params,
                             embedder=self.embedder)


def index_vectors(engine: Engine, settings: Settings, cache_dir: Path | None) -> QueryEmbedder:
    """Embed every paper through the indexing job (with the on-disk embedding cache) and return
    the query embedder to search with."""
    from paperfeed.search.embed import Embedder
    from paperfeed.search.embed_cache import CachedEmbedder
    from paperfeed.search.indexing import index_papers

    embedder: Any = Embedder.load(settings)
    if cache_dir is not None:
        embedder = CachedEmbedder(embedder, cache_dir)
    index_papers(engine, settings, embedder=embedder)
    if isinstance(embedder, CachedEmbedder):
        embedder.flush()
        log.info("eval: embedding cache %d hits, %d new", embedder.hits, embedder.misses)
    return QueryEmbedder(embedder)


def evaluate(
    store: EvalStore,
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    mode: str = "hybrid",
    params: HybridParams | None = None,
    depth: int = 100,
) -> EvalReport:
    """Score one mode (and parameter set) over a prepared store."""
    service = store.service(params)

    def search(text: str) -> list[str]:
        return [h.paper_id for h in service.search(text, limit=depth, mode=mode).hits]

    return run_queries(search, queries, qrels, mode=mode)
