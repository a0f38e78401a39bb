"""The one step after papers are imported, whatever imported them: `paperfeed ingest ...`,
the scheduler's ingest job in `serve --with-jobs`, or a member's submission.

It makes new papers findable, and tells the members who wait for them: the stored keyword
token counts are refreshed (SQLite keeps
them for keyword search; a single submission refreshes them only once the catalog has grown
by `STALE_FRACTION` since the last refresh, since a refresh reads every posting list), and
the papers are embedded into the vector index, so they are in semantic search and "Similar
papers" at once. A missing embedding model only warns: the papers stay stored and a later
`paperfeed index` (or the next ingest) embeds them. When only given papers were added (a
submission), the members who acted on them before they had a vector get their "For you" model
refitted. Last, the new papers are matched against the saved searches (`alerts.run`: words now,
meaning once embedded).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import utcnow
from paperfeed.search.embed import EmbedderUnavailable
from paperfeed.storage.db import is_sqlite

log = logging.getLogger(__name__)
STALE_FRACTION = 0.01  # refresh the counts after a small import once the catalog grew 1%


@dataclass
class AfterIngest:
    """What the step did, as lines for a terminal or a log."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    embedded: int = 0


def after_ingest(
    engine: Engine,
    settings: Settings,
    *,
    paper_ids: Sequence[str] | None = None,
    index: bool = True,
    progress: bool = False,
    alerts: bool = True,
) -> AfterIngest:
    """Refresh keyword counts and embed new papers. `paper_ids`: only these papers were
    added (a submission): embed just them and refresh the counts only when stale. `alerts`:
    False for an instance move (`paperfeed import`), which copies the matcher's state as is."""
    done = AfterIngest()
    _keyword_counts(engine, done, small=paper_ids is not None)
    if index:
        _embed(engine, settings, done, paper_ids=paper_ids, progress=progress)
    if alerts:
        _alerts(engine, settings, done)
    return done


def after_ingest_quietly(engine: Engine, settings: Settings, paper_ids: Sequence[str]) -> None:
    """`after_ingest` for work done after a web response: logged, never raised."""
    try:
        done = after_ingest(engine, settings, paper_ids=paper_ids)
    except Exception:  # noqa: BLE001 - the submission succeeded; the hourly job retries
        log.exception("after ingest of %s failed; the next ingest or index run retries",
                      ", ".join(paper_ids))
        return
    for line in done.lines:
        log.info("after ingest of %s: %s", ", ".join(paper_ids), line)
    for line in done.warnings:
        log.warning("after ingest of %s: %s", ", ".join(paper_ids), line)


def _alerts(engine: Engine, settings: Settings, done: AfterIngest) -> None:
    """Match the papers stored since the last run against the saved searches (a run that
    finds nothing new costs two small queries)."""
    from paperfeed.alerts.run import match_new_papers

    report = match_new_papers(engine, settings)
    done.warnings.extend(report.notes)
    if report.papers or report.meaning_papers:
        done.lines.append(report.line())


def _keyword_counts(engine: Engine, done: AfterIngest, *, small: bool) -> None:
    if not is_sqlite(engine):
        return  # PostgreSQL's full-text search keeps its own statistics
    from paperfeed.storage.search import refresh_token_docs

    if small and not _counts_stale(engine):
        return
    refreshed = refresh_token_docs(engine, now=utcnow())
    done.lines.append(
        f"keyword counts: {refreshed.tokens} tokens over {refreshed.papers} papers refreshed "
        f"in {refreshed.seconds:.1f} s"
    )


def _counts_stale(engine: Engine) -> bool:
    """Whether the catalog changed by `STALE_FRACTION` since the counts were last stored."""
    from paperfeed.storage.jobs import get_state
    from paperfeed.storage.papers import count_papers
    from paperfeed.storage.search import TOKEN_DOCS_STATE

    state = get_state(engine, TOKEN_DOCS_STATE)
    if not isinstance(state, dict) or not isinstance(state.get("papers"), int):
        return True
    with engine.connect() as conn:
        now = count_papers(conn)
    return abs(now - state["papers"]) >= max(1.0, STALE_FRACTION * state["papers"])


def _embed(
    engine: Engine,
    settings: Settings,
    done: AfterIngest,
    *,
    paper_ids: Sequence[str] | None,
    progress: bool,
) -> None:
    from paperfeed.search.indexing import IndexBusy, index_papers

    try:
        summary = index_papers(engine, settings, paper_ids=paper_ids, progress=progress)
    except EmbedderUnavailable as exc:
        done.warnings.append(f"papers stored, semantic indexing skipped: {exc}")
        return
    except IndexBusy as exc:  # the run holding the lease embeds these papers too
        done.lines.append(str(exc))
        return
    done.embedded = summary.embedded
    done.lines.extend(f"note: {note}" for note in summary.notes)
    done.lines.append(summary.line())
    if paper_ids and summary.embedded:
        # A member who upvoted or submitted one of these before it had a vector gets a
        # model that counts it now, not on their next action.
        from paperfeed.recommend.service import papers_embedded

        refitted = papers_embedded(engine, settings, paper_ids)
        if refitted:
            done.lines.append(f"for you: {refitted} member model(s) refitted")
