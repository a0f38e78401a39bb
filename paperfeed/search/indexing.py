"""The indexing job: embed papers that need it, store the vectors, keep the vector index in step
(through the engine's search backend: vector files, or pgvector on PostgreSQL).

Resumable by construction: each batch is committed on its own, and which papers are due is
recomputed from the table (missing vector, another model, or a changed title/abstract), so an
interrupted run loses at most the batch in flight and a re-run continues. Precomputed vectors
(`import_vectors`) go through the same storage and index code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed import shutdown
from paperfeed.config import Settings
from paperfeed.errors import BadRequest, Conflict
from paperfeed.models import utcnow
from paperfeed.search.backend import open_backend
from paperfeed.search.embed import Embedder, document_text, model_info, text_hash
from paperfeed.storage import embeddings as store
from paperfeed.storage import leases
from paperfeed.storage.db import write

log = logging.getLogger(__name__)

SCAN_CHUNK = 2000
MAX_ERRORS_SHOWN = 5
INDEX_LEASE = "index"  # the job_leases row a whole-catalog run holds (storage/leases.py)
INDEX_LEASE_SECONDS = 600  # renewed after every batch; a crashed run's lease lapses this soon
RESCANS = 3  # passes over papers that became due while a run embedded


class IndexBusy(Conflict):
    """Another whole-catalog index run holds the lease."""


@dataclass(slots=True)
class IndexSummary:
    """What one `index` run did."""

    model_id: str = ""
    papers: int = 0  # papers in the catalog
    due: int = 0  # needed (re-)embedding at the start
    embedded: int = 0
    imported: int = 0
    removed: int = 0  # vectors of deleted papers dropped
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        parts = [f"index: {self.model_id}", f"{self.papers} papers"]
        if self.imported:
            parts.append(f"{self.imported} vectors imported")
        parts.append(f"{self.embedded} embedded")
        if self.embedded:
            parts.append(f"{self.rate:.1f}/s")
        parts.append(f"{self.papers - self.due} already current")
        if self.removed:
            parts.append(f"{self.removed} removed")
        parts.append(f"{self.seconds:.1f} s")
        return ", ".join(parts)


def due_papers(engine: Engine, model_id: str) -> tuple[list[str], int]:
    """Ids of papers whose stored vector is missing, from another model, or of other text;
    and the number of papers scanned."""
    due: list[str] = []
    scanned = 0
    after: str | None = None
    with engine.connect() as conn:
        while True:
            rows = store.scan_papers(conn, after=after, limit=SCAN_CHUNK)
            if not rows:
                break
            after = rows[-1].paper_id
            scanned += len(rows)
            for r in rows:
                if r.model_id != model_id or r.content_hash != text_hash(
                    document_text(r.title, r.abstract)
                ):
                    due.append(r.paper_id)
    return due, scanned


def due_among(engine: Engine, model_id: str, paper_ids: Sequence[str]) -> list[str]:
    """Those of `paper_ids` (that exist) whose vector is missing or of other text: the check
    `due_papers` makes, for a few papers instead of a scan of the catalog."""
    with engine.connect() as conn:
        texts = store.paper_texts(conn, list(dict.fromkeys(paper_ids)))
        stored = store.stored_hashes(conn, model_id, list(texts))
    return [
        pid for pid, (title, abstract) in texts.items()
        if stored.get(pid) != text_hash(document_text(title, abstract))
    ]


def index_papers(
    engine: Engine,
    settings: Settings,
    *,
    embedder: Any = None,
    batch_size: int = 256,
    limit: int | None = None,
    progress: bool = False,
    on_batch: Callable[[int], None] | None = None,
    paper_ids: Sequence[str] | None = None,
) -> IndexSummary:
    """Embed every paper that needs it (committing every `batch_size`), then sync the index.

    `embedder` defaults to the configured model (loaded only when there is work); anything with
    `model_id`, `dim` and `embed_documents` works (e.g. an evaluation cache). `paper_ids`:
    consider only these papers (a member's submission), with no scan of the catalog.

    A whole-catalog run (no `paper_ids`) holds the `index` lease for its duration, so two of
    them (`paperfeed index` twice, or beside the scheduler's post-ingest step) never embed the
    same papers: the second raises IndexBusy at once, naming the holder. The holder embeds
    what became due while it ran too (up to RESCANS more passes), so nothing is left for the
    run it turned away. A submission's few papers take no lease."""
    holder = _claim(engine) if paper_ids is None else None
    try:
        return _index(engine, settings, embedder=embedder, batch_size=batch_size, limit=limit,
                      progress=progress, on_batch=on_batch, paper_ids=paper_ids, holder=holder)
    finally:
        if holder is not None:
            leases.release(engine, INDEX_LEASE, holder)


def _claim(engine: Engine) -> str:
    """Take the `index` lease (or the lease of a run on this machine whose process is gone);
    IndexBusy naming the live holder otherwise."""
    from paperfeed.digests.send import claimer_gone, sender_id

    holder = sender_id()
    for _ in range(2):  # a lease that lapses between the two reads is tried once more
        now = utcnow()
        if leases.acquire(engine, INDEX_LEASE, holder, ttl_seconds=INDEX_LEASE_SECONDS,
                          now=now):
            return holder
        held = leases.lease_of(engine, INDEX_LEASE, now=now)
        if held is None:
            continue
        other, until = held
        if claimer_gone(other) and leases.take_over(
                engine, INDEX_LEASE, other, holder, ttl_seconds=INDEX_LEASE_SECONDS, now=now):
            log.warning("index: the run that held the lease (%s) is gone; taken over", other)
            return holder
        raise IndexBusy(
            f"index: another index run ({_who(other)}) is embedding papers, lease until "
            f"{until:%Y-%m-%d %H:%M} UTC; it also embeds papers added while it runs. Nothing "
            "done here: run again once it has finished"
        )
    raise IndexBusy("index: another index run keeps taking the lease; run again later")


def _who(holder: str) -> str:
    """"process 123 on host" from a `machine:pid:random` holder id."""
    try:
        machine, pid, _ = holder.rsplit(":", 2)
    except ValueError:
        return holder
    return f"process {pid} on {machine.split('/')[0]}"


def _index(
    engine: Engine, settings: Settings, *, embedder: Any, batch_size: int, limit: int | None,
    progress: bool, on_batch: Callable[[int], None] | None, paper_ids: Sequence[str] | None,
    holder: str | None,
) -> IndexSummary:
    start = time.perf_counter()
    model_id = embedder.model_id if embedder is not None else model_info(
        settings.embedding_model).model_id
    summary = IndexSummary(model_id=model_id)
    if paper_ids is None:
        with write(engine) as conn:
            summary.removed = store.delete_orphans(conn, now=utcnow())
        due, summary.papers = due_papers(engine, model_id)
    else:
        due = due_among(engine, model_id, paper_ids)
        with engine.connect() as conn:
            summary.papers = store.count_embeddings(conn, model_id) + len(due)
    summary.due = len(due)
    if limit is not None:
        due = due[:limit]
    if due and embedder is None:
        embedder = Embedder.load(settings)
    dim = embedder.dim if embedder is not None else model_info(settings.embedding_model).dim
    if dim is None:  # no metadata and nothing to embed: load the model for its width
        embedder = Embedder.load(settings)
        dim = embedder.dim
    backend = open_backend(settings, engine, model_id=model_id, dim=int(dim))
    backend.prepare_vectors()
    bar = _bar(len(due), progress, "embedding")
    seen = set(due)
    try:
        for _ in range(RESCANS + 1):
            for pos in range(0, len(due), batch_size):
                with engine.connect() as conn:
                    texts = store.paper_texts(conn, due[pos : pos + batch_size])
                ids = list(texts)
                docs = [document_text(*texts[pid]) for pid in ids]
                empty = np.zeros((0, int(dim or 0)), np.float32)
                vecs = embedder.embed_documents(docs) if ids else empty
                hashes = [text_hash(d) for d in docs]
                with write(engine) as conn:
                    stamp = store.store_embeddings(
                        conn, model_id=model_id, paper_ids=ids, content_hashes=hashes,
                        vectors=vecs, now=utcnow(),
                    )
                backend.add_vectors(ids, vecs, hashes, db_version=stamp)
                summary.embedded += len(ids)
                if bar is not None:
                    bar.update(len(ids))
                if on_batch is not None:
                    on_batch(summary.embedded)
                if holder is not None:
                    _renew(engine, holder)
                shutdown.check("index")  # serve is stopping: end after this committed batch
            if holder is None or limit is not None or not due:
                break
            # papers stored (or edited) while this run embedded: a run turned away left them
            due = [pid for pid in due_papers(engine, model_id)[0] if pid not in seen]
            seen.update(due)
            summary.due += len(due)
            if due and bar is not None:
                bar.total += len(due)
    finally:
        if bar is not None:
            bar.close()
        summary.seconds = time.perf_counter() - start
    backend.sync_vectors()  # pgvector: fill the column, build the model's HNSW index
    if paper_ids is None and summary.embedded >= summary.due:
        # every paper has the configured model's vector: the previous model's index can go
        for old in backend.retire_other_models():
            summary.notes.append(f"removed the vector index of the previous model {old}")
    summary.seconds = time.perf_counter() - start
    return summary


def _renew(engine: Engine, holder: str) -> None:
    """Extend this run's lease after a batch; IndexBusy if another run took it meanwhile
    (this one stalled past INDEX_LEASE_SECONDS): its committed batches are kept."""
    if not leases.acquire(engine, INDEX_LEASE, holder, ttl_seconds=INDEX_LEASE_SECONDS,
                          now=utcnow()):
        raise IndexBusy("index: this run stalled past its lease and another run took over; "
                        "its finished batches are kept")


def _bar(total: int, enabled: bool, desc: str) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="paper", smoothing=0.1)


def read_ids(path: Path) -> list[str]:
    """One paper id per line (blank lines ignored)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise BadRequest(f"index: cannot read ids file {path}: {exc.strerror}") from exc
    return [line.strip() for line in lines if line.strip()]


def load_vector_file(path: Path) -> np.ndarray:
    """A 2-D .npy matrix (float16/32/64), as float32; BadRequest with the reason otherwise."""
    try:
        matrix = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise BadRequest(f"index: cannot read vectors {path}: {exc}") from exc
    if matrix.ndim != 2 or matrix.dtype.kind != "f":
        raise BadRequest(
            f"index: {path} holds a {matrix.ndim}-d {matrix.dtype} array; expected a 2-d float "
            "matrix (one row per paper)"
        )
    return np.asarray(matrix, dtype=np.float32)


def import_vectors(
    engine: Engine,
    settings: Settings,
    vectors_path: Path,
    ids_path: Path,
    *,
    model_id: str | None = None,
    skip_unknown: bool = False,
    batch_size: int = 2000,
    progress: bool = False,
) -> IndexSummary:
    """Store precomputed vectors (rows of `vectors_path`, ids in `ids_path`, same order).

    The vectors must come from the configured model: `model_id` (or a `model.txt` beside the
    vectors) must equal its id, and the width its dimension. Each vector is recorded against the
    paper's current text hash, as if the job had embedded it."""
    start = time.perf_counter()
    info = model_info(settings.embedding_model)
    declared = model_id
    sidecar = vectors_path.parent / "model.txt"
    if declared is None and sidecar.is_file():
        declared = sidecar.read_text("utf-8").strip()
    if declared is None:
        raise BadRequest(
            "index: say which model made these vectors with --model-id (or a model.txt beside "
            f"them); the configured model is {info.model_id}"
        )
    if declared != info.model_id:
        raise BadRequest(
            f"index: the vectors were made by {declared!r} but the configured model is "
            f"{info.model_id!r}; import vectors of the configured model, or set "
            "PAPERFEED_EMBEDDING_MODEL to the model that made them"
        )
    ids = read_ids(ids_path)
    matrix = load_vector_file(vectors_path)
    if matrix.shape[0] != len(ids):
        raise BadRequest(
            f"index: {vectors_path} has {matrix.shape[0]} rows but {ids_path} has {len(ids)} "
            "ids; they must match line for line"
        )
    if info.dim is not None and matrix.shape[1] != info.dim:
        raise BadRequest(
            f"index: the vectors have {matrix.shape[1]} dimensions, model {info.model_id} "
            f"makes {info.dim}"
        )
    if not np.isfinite(matrix).all():
        bad = int((~np.isfinite(matrix).all(axis=1)).sum())
        raise BadRequest(f"index: {bad} vectors in {vectors_path} hold NaN or infinite values")
    norms = np.linalg.norm(matrix, axis=1)
    if (norms < 1e-6).any():
        raise BadRequest(f"index: {int((norms < 1e-6).sum())} vectors in {vectors_path} are zero")
    seen: set[str] = set()
    dupes = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
    if dupes:
        raise BadRequest(f"index: {ids_path} repeats ids, e.g. {', '.join(dupes[:3])}")
    matrix = matrix / norms[:, None]
    with engine.connect() as conn:
        texts = store.paper_texts(conn, ids)
    unknown = [i for i in ids if i not in texts]
    if unknown and not skip_unknown:
        raise BadRequest(
            f"index: {len(unknown)} ids are not in the catalog (e.g. "
            f"{', '.join(unknown[:MAX_ERRORS_SHOWN])}); ingest those papers first or pass "
            "--skip-unknown"
        )
    summary = IndexSummary(model_id=info.model_id)
    if unknown:
        summary.notes.append(f"{len(unknown)} unknown ids skipped")
    keep = [n for n, pid in enumerate(ids) if pid in texts]
    backend = open_backend(settings, engine, model_id=info.model_id, dim=int(matrix.shape[1]))
    backend.prepare_vectors()
    bar = _bar(len(keep), progress, "importing")
    try:
        with backend.bulk():  # one graph build at the end, not one extension per ANN_DELTA rows
            for pos in range(0, len(keep), batch_size):
                rows = keep[pos : pos + batch_size]
                batch_ids = [ids[n] for n in rows]
                hashes = [text_hash(document_text(*texts[pid])) for pid in batch_ids]
                vecs = matrix[rows]
                with write(engine) as conn:
                    stamp = store.store_embeddings(
                        conn, model_id=info.model_id, paper_ids=batch_ids, content_hashes=hashes,
                        vectors=vecs, now=utcnow(),
                    )
                backend.add_vectors(batch_ids, vecs, hashes, db_version=stamp)
                summary.imported += len(rows)
                if bar is not None:
                    bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    backend.sync_vectors()  # pgvector: create the model's HNSW index when missing
    with engine.connect() as conn:
        summary.papers = store.count_embeddings(conn, info.model_id)
    summary.due = 0
    summary.seconds = time.perf_counter() - start
    return summary


def export_vectors(
    engine: Engine, model_id: str, dim: int, paper_ids: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """(ids, matrix) of stored vectors, all of them or those among `paper_ids`."""
    with engine.connect() as conn:
        if paper_ids is not None:
            ids, _, matrix = store.load_vectors(conn, model_id, paper_ids, dim)
            return ids, matrix
        parts = list(store.iter_vectors(conn, model_id, dim))
    if not parts:
        return [], np.zeros((0, dim), dtype=np.float32)
    return [i for p in parts for i in p[0]], np.concatenate([p[2] for p in parts])
