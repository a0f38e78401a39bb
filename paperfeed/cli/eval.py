"""`paperfeed eval retrieval`: score search quality on a BEIR-format collection.

The corpus is indexed through the service's own code paths (upsert -> keyword index; indexing
job -> vector index) in a temporary SQLite store, or with `--database-url` in a scratch database
(e.g. PostgreSQL, to measure tsvector + pgvector) that is filled and emptied again; then every
judged query is searched and scored.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from paperfeed.cli.common import load_settings
from paperfeed.errors import BadRequest
from paperfeed.search.evaluate import EvalStore, evaluate, read_qrels, read_queries
from paperfeed.search.hybrid import MODES

app = typer.Typer(
    help="Measure search and recommendation quality on real data.", no_args_is_help=True
)


@app.command("retrieval")
def retrieval(
    corpus: Path = typer.Option(..., exists=True, dir_okay=False, help="corpus.jsonl(.gz)"),
    queries: Path = typer.Option(..., exists=True, dir_okay=False, help="queries.jsonl"),
    qrels: Path = typer.Option(..., exists=True, dir_okay=False, help="qrels TSV with header"),
    mode: str = typer.Option("hybrid", help="hybrid | keyword | semantic"),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line of metrics."),
    cache_dir: Path | None = typer.Option(
        None, help="Document-embedding cache (default: <data_dir>/cache)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url",
        help="A scratch database to evaluate on (e.g. postgresql+psycopg://.../scratch): it must "
        "be empty or left by an earlier eval; it is filled, then emptied. Default: a temporary "
        "SQLite file.",
    ),
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and query latency of one search mode."""
    if mode not in MODES:
        raise BadRequest(f"eval: --mode must be one of {', '.join(MODES)}, not {mode!r}")
    settings = load_settings()
    cache = cache_dir or settings.data_dir / "cache"
    wanted_queries = read_queries(queries)
    judged = read_qrels(qrels)
    with EvalStore(
        corpus, settings=settings, with_vectors=mode != "keyword", cache_dir=cache,
        database_url=database_url,
    ) as store:
        report = evaluate(store, wanted_queries, judged, mode=mode)
        engine_name = store.engine_name
    m = report.metrics
    typer.echo(f"mode {mode}: {store.documents} documents, {report.queries} judged queries "
               f"({engine_name})")
    typer.echo(
        f"nDCG@10 {m['ndcg@10']:.4f}  Recall@10 {m['recall@10']:.4f}  "
        f"Recall@100 {m['recall@100']:.4f}  MRR@10 {m['mrr@10']:.4f}"
    )
    typer.echo(f"latency per query: p50 {m['p50_ms']:.1f} ms, p95 {m['p95_ms']:.1f} ms")
    if as_json:
        typer.echo(json.dumps({**report.as_json(), "engine": engine_name}, sort_keys=True))


@app.command("recommend")
def recommend(
    from_path: Path = typer.Option(
        ..., "--from", exists=True,
        help="Saved /api/daily_papers responses: a file, a directory of YYYY-MM-DD.json, "
        "or a .tar.gz (as `ingest hf-daily --from` takes).",
    ),
    cut: str | None = typer.Option(
        None, help="Train on submissions before this day, rank the lists from it on "
        "(YYYY-MM-DD; default: two thirds into the archive)."
    ),
    svm: bool = typer.Option(True, "--svm/--no-svm",
                             help="Also run the per-member tf-idf linear SVM baseline (slower)."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line of metrics."),
    cache_dir: Path | None = typer.Option(
        None, help="Document-embedding cache (default: <data_dir>/cache)."
    ),
) -> None:
    """"For you" on real submitters: recall@10, nDCG@10, MRR vs popularity, random, tf-idf."""
    from paperfeed.recommend.evaluate import (
        RecommendEvalStore,
        default_cut,
        format_report,
        load_task,
        parse_cut,
        run,
    )
    from paperfeed.storage.recommend_eval import day_lists

    parse_cut(cut, date.min)  # a typo in --cut fails before the archive is loaded
    settings = load_settings()
    cache = cache_dir or settings.data_dir / "cache"
    with RecommendEvalStore(from_path, settings=settings, cache_dir=cache) as store:
        assert store.engine is not None and store.settings is not None
        with store.engine.connect() as conn:
            when = parse_cut(cut, default_cut(day_lists(conn)))
        task = load_task(store.engine, when)
        store.embed()
        report = run(store.engine, store.settings, task, svm=svm)
    for line in format_report(report):
        typer.echo(line)
    if as_json:
        typer.echo(json.dumps(report.as_json(), sort_keys=True))
