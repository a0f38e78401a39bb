"""Storing parsed records: committed batches, a progress bar, one IngestSummary per run.

Every batch is its own write transaction, so a crash or Ctrl-C loses at most the batch in
flight; the upserts are idempotent, so re-running the same ingest completes the job and changes
nothing already stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine
from tqdm import tqdm

from paperfeed.models import Featured, IngestSummary, Paper, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, upsert_papers

DEFAULT_BATCH = 2000


@dataclass(slots=True)
class Batch:
    """Parsed records to commit together; `units` advances the progress bar (files, lines...)."""

    papers: list[Paper] = field(default_factory=list)
    featured: list[Featured] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    units: int = 0


def store_batches(
    engine: Engine,
    batches: Iterable[Batch],
    *,
    progress: bool = False,
    total: int | None = None,
    unit: str = "paper",
    desc: str = "ingest",
) -> IngestSummary:
    """Commit each batch (papers first, then their featured days); rejected = errors seen."""
    summary = IngestSummary()
    with tqdm(
        total=total, unit=unit, desc=desc, disable=not progress, dynamic_ncols=True, leave=True
    ) as bar:
        for batch in batches:
            if batch.papers or batch.featured:
                now = utcnow()
                with write(engine) as conn:
                    part = upsert_papers(conn, batch.papers, now=now)
                    part.featured_new += add_featured(conn, batch.featured, now=now)
                summary.merge(part)
            summary.rejected += len(batch.errors)
            summary.errors.extend(batch.errors)
            bar.update(batch.units)
            bar.set_postfix_str(f"{summary.new} new, {summary.rejected} rejected", refresh=False)
    return summary


def chunk_papers(
    papers: list[Paper],
    featured: list[Featured],
    errors: list[str],
    size: int = DEFAULT_BATCH,
) -> Iterator[Batch]:
    """Split records into batches that keep each paper with its featured days."""
    by_paper: dict[str, list[Featured]] = {}
    for item in featured:
        by_paper.setdefault(item.paper_id, []).append(item)
    first = True
    for start in range(0, max(len(papers), 1), size):
        chunk = papers[start : start + size]
        batch = Batch(papers=chunk, units=len(chunk))
        for paper in chunk:
            batch.featured.extend(by_paper.pop(paper.id, []))
        if first:
            batch.errors = list(errors)
            first = False
        yield batch
