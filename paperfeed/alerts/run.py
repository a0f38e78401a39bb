"""Matching new papers to saved searches: the step run after every ingest and index (and by
the scheduler as a catch-up), never a re-run of every search over the catalog.

Each run takes the papers first stored since the last run (`papers.indexed_at`, with a
lookback so a batch that committed late is not skipped) that no run has looked at yet
(`alert_scans`), in batches: the words pass finds candidate searches by the batch's tokens
(storage's anchor index) and tests them; the meaning pass (when any search is matched by
meaning) reads the batch's vectors through `search.neighbours` and multiplies them with the
searches' vectors. Papers that had no vector yet are matched by meaning on a later run, once
indexed. Matches and scans commit together per batch, so a crash loses at most the batch in
flight and a re-run (or a concurrent run) adds nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from paperfeed.alerts.match import Candidate, Found, match_meaning, match_words, postings
from paperfeed.alerts.rules import PaperTerms, Rule, compile_rule, paper_terms
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import utcnow
from paperfeed.storage import alerts as store
from paperfeed.storage.alerts import NewPaper, SearchRow
from paperfeed.storage.db import write
from paperfeed.storage.jobs import get_state, set_state

log = logging.getLogger(__name__)
CURSOR = "alerts:cursor"  # the newest indexed_at matched so far
LOOKBACK = timedelta(days=2)  # how far behind the cursor a late-committed paper is still seen
BATCH = 2000


@dataclass(slots=True)
class MatchReport:
    papers: int = 0  # new papers matched by words
    meaning_papers: int = 0  # papers matched by meaning (had a vector)
    candidates: int = 0  # (search, batch) candidates of the words pass
    semantic_searches: int = 0
    matches: int = 0  # new (search, paper) matches stored
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"alerts: {self.papers} new papers matched against saved searches "
            f"({self.meaning_papers} by meaning too), {self.matches} new matches "
            f"in {self.seconds:.1f} s"
        )


def _rule(row: SearchRow) -> Rule:
    return Rule.from_json(row.rule) if row.rule else compile_rule(row.query)


def _candidates(rows: Sequence[SearchRow], anchors: dict[int, list[str]]) -> list[Candidate]:
    return [
        Candidate(
            id=r.id, rule=_rule(r), created_at=r.created_at,
            anchors=tuple(anchors.get(r.id, ())), like_paper_id=r.like_paper_id,
            semantic=r.semantic,
        )
        for r in rows
    ]


def _terms(batch: Sequence[NewPaper]) -> list[PaperTerms]:
    return paper_terms(
        [(p.id, p.title, p.abstract, p.authors, p.categories, p.published_at) for p in batch]
    )


class Matcher:
    """One run. `neighbours` (tests pass one) defaults to `search.neighbours.open_neighbours`."""

    def __init__(
        self, engine: Engine, settings: Settings, *, neighbours: object | None = None,
        now: datetime | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self._neighbours = neighbours
        self.now = now or utcnow()
        self.report = MatchReport()
        self._semantic: list[tuple[Candidate, np.ndarray]] | None = None
        self._vectors_ok = True

    # -- vectors --------------------------------------------------------------------------
    def neighbours(self) -> object | None:
        if self._neighbours is None and self._vectors_ok:
            try:
                from paperfeed.search.neighbours import open_neighbours

                self._neighbours = open_neighbours(self.settings, self.engine)
            except PaperfeedError as exc:
                self._vectors_ok = False
                self.report.notes.append(f"matching by meaning skipped: {exc}")
        return self._neighbours

    def paper_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        nb = self.neighbours()
        if nb is None or not ids:
            return {}
        return nb.vectors(list(ids))  # type: ignore[attr-defined, no-any-return]

    def semantic_searches(self) -> list[tuple[Candidate, np.ndarray]]:
        """Every search matched by meaning with its unit vector (loaded once per run). A
        vector made by another model (or not made yet) is remade here and stored."""
        if self._semantic is not None:
            return self._semantic
        out: list[tuple[Candidate, np.ndarray]] = []
        with self.engine.connect() as conn:
            rows = [r for b in store.iter_semantic_searches(conn) for r in b]
            anchors = store.anchors_of(conn, [r.id for r in rows]) if rows else {}
        nb = self.neighbours() if rows else None  # no semantic search: no vector index needed
        if nb is None:
            self._semantic = out
            return out
        model_id, dim = str(nb.model_id), int(nb.dim)  # type: ignore[attr-defined]
        stale = [r for r in rows if r.vector is None or r.model_id != model_id]
        fresh = self._remake(stale, model_id) if stale else {}
        for cand, row in zip(_candidates(rows, anchors), rows, strict=True):
            raw = fresh.get(row.id) if row.id in fresh else (
                row.vector if row.model_id == model_id else None
            )
            if raw is None:
                continue
            vec = np.frombuffer(raw, dtype=np.float32)
            if vec.shape != (dim,):
                continue
            out.append((cand, vec))
        self._semantic = out
        self.report.semantic_searches = len(out)
        return out

    def _remake(self, rows: Sequence[SearchRow], model_id: str) -> dict[int, bytes]:
        """Vectors for searches whose stored one is missing or of another model."""
        made: dict[int, bytes] = {}
        likes = [r for r in rows if r.like_paper_id]
        if likes:
            found = self.paper_vectors([str(r.like_paper_id) for r in likes])
            for r in likes:
                vec = found.get(str(r.like_paper_id))
                if vec is not None:
                    made[r.id] = np.asarray(vec, dtype=np.float32).tobytes()
        texts = [r for r in rows if not r.like_paper_id and r.semantic and _rule(r).text]
        if texts:
            try:
                from paperfeed.search.embed import cached_embedder

                embedder = cached_embedder(self.settings)
                for r in texts:
                    vec = np.asarray(embedder.embed_query(_rule(r).text), dtype=np.float32)
                    made[r.id] = vec.tobytes()
            except PaperfeedError as exc:
                self.report.notes.append(f"semantic saved searches not embedded: {exc}")
        if made:
            with write(self.engine) as conn:
                for sid, raw in made.items():
                    store.update_search(conn, sid, now=self.now, vector=raw, model_id=model_id)
        return made

    # -- passes ---------------------------------------------------------------------------
    def words(self, batch: Sequence[NewPaper], terms: Sequence[PaperTerms]) -> list[Found]:
        index = postings(terms)
        keys = [k for k in index if len(k) <= 80]
        with self.engine.connect() as conn:
            ids = store.candidates_by_anchor(conn, keys)
            rows = store.load_searches(conn, ids) if ids else []
        self.report.candidates += len(rows)
        return match_words(_candidates(rows, {}), terms, [p.indexed_at for p in batch], index)

    def meaning(
        self, batch: Sequence[NewPaper], terms: Sequence[PaperTerms]
    ) -> tuple[list[Found], set[str]]:
        """Matches by meaning, and the ids of the papers that had a vector."""
        searches = self.semantic_searches()
        if not searches:
            return [], set()
        vectors = self.paper_vectors([p.id for p in batch])
        keep = [i for i, p in enumerate(batch) if p.id in vectors]
        if not keep:
            return [], set()
        found = match_meaning(
            [c for c, _v in searches],
            np.stack([v for _c, v in searches]),
            [terms[i] for i in keep],
            np.stack([vectors[batch[i].id] for i in keep]),
            [batch[i].indexed_at for i in keep],
            text_threshold=self.settings.alerts_meaning_threshold,
            like_threshold=self.settings.alerts_like_threshold,
        )
        return found, {batch[i].id for i in keep}

    def run(self) -> MatchReport:
        started = time.perf_counter()
        with self.engine.connect() as conn:
            earliest = store.earliest_search(conn)
            cursor = get_state(conn, CURSOR)
        if earliest is None:
            self.report.seconds = time.perf_counter() - started
            return self.report  # nobody saved a search: nothing to match
        since = earliest
        if isinstance(cursor, str):
            since = max(earliest, datetime.fromisoformat(cursor) - LOOKBACK)
        self._new_papers(since)
        self._pending_meaning(since)
        with write(self.engine) as conn:
            store.purge_scans(conn, before=since - LOOKBACK)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _new_papers(self, since: datetime) -> None:
        while True:
            with self.engine.connect() as conn:
                batch = store.unscanned_papers(conn, since=since, limit=BATCH)
            if not batch:
                return
            terms = _terms(batch)
            found = self.words(batch, terms)
            by_meaning, with_vectors = self.meaning(batch, terms)
            newest = max(p.indexed_at for p in batch)
            with write(self.engine) as conn:
                self.report.matches += store.add_matches(
                    conn, _rows(found + by_meaning), now=self.now
                )
                store.record_scans(conn, batch, with_vectors, now=self.now)
                old = get_state(conn, CURSOR)
                if not isinstance(old, str) or datetime.fromisoformat(old) < newest:
                    set_state(conn, CURSOR, newest.isoformat(), now=self.now)
            self.report.papers += len(batch)
            self.report.meaning_papers += len(with_vectors)

    def _pending_meaning(self, since: datetime) -> None:
        if not self.semantic_searches():
            return
        after = ""
        while True:
            with self.engine.connect() as conn:
                batch = store.meaning_pending(conn, since=since, after=after, limit=BATCH)
            if not batch:
                return
            after = batch[-1].id
            terms = _terms(batch)
            found, with_vectors = self.meaning(batch, terms)
            if with_vectors:
                with write(self.engine) as conn:
                    self.report.matches += store.add_matches(conn, _rows(found), now=self.now)
                    store.mark_meaning(conn, sorted(with_vectors), now=self.now)
                self.report.meaning_papers += len(with_vectors)


def _rows(found: Sequence[Found]) -> list[tuple[int, str, float, str]]:
    """One row per (search, paper): a words match wins over the same pair by meaning."""
    best: dict[tuple[int, str], Found] = {}
    for f in found:
        key = (f.search_id, f.paper_id)
        if key not in best or (best[key].via != "words" and f.via == "words"):
            best[key] = f
    return [(f.search_id, f.paper_id, f.score, f.via) for f in best.values()]


def match_new_papers(
    engine: Engine, settings: Settings, *, now: datetime | None = None,
    neighbours: object | None = None,
) -> MatchReport:
    """Match every paper stored since the last run against the saved searches."""
    return Matcher(engine, settings, neighbours=neighbours, now=now).run()


def match_quietly(engine: Engine, settings: Settings) -> None:
    """`match_new_papers` after an ingest or a submission: logged, never raised (the
    scheduler's catch-up run, or the next ingest, retries)."""
    try:
        report = match_new_papers(engine, settings)
    except Exception:  # noqa: BLE001 - the papers are stored; matching is retried later
        log.exception("alerts: matching new papers failed; the next run retries")
        return
    if report.papers or report.matches:
        log.info("%s", report.line())
    for note in report.notes:
        log.warning("alerts: %s", note)
