"""The bundled demo corpus: six months of real Hugging Face daily papers (see README.md here).

`load_demo(engine)` imports it through `sources.hf_daily.import_path` — the same code path as
`paperfeed ingest hf-daily --from` — and records the archive's SHA-256 in `job_state`, so a
second load (every `serve --demo` start) is skipped in milliseconds. Given the settings, it
also stores the precomputed vectors of these papers (`vectors.npy`, `ids.txt`, `model.txt`,
made by scripts/demo_vectors.py) through the same code as `paperfeed index --import`, so
semantic search is ready at once.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, func, select

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.models import IngestSummary, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.jobs import get_state, set_state
from paperfeed.storage.schema import papers
from paperfeed.storage.search import refresh_token_docs

log = logging.getLogger(__name__)

ARCHIVE_NAME = "hf_daily_papers_2026-03-02_2026-08-21.tar.gz"
STATE_KEY = "demo:corpus"
VECTORS_NAME, IDS_NAME, MODEL_NAME = "vectors.npy", "ids.txt", "model.txt"


def archive_path() -> Path:
    """Where the bundled archive is (inside the installed package)."""
    path = Path(str(resources.files(__package__).joinpath(ARCHIVE_NAME)))
    if not path.is_file():
        raise SourceError(
            f"demo: the bundled corpus {ARCHIVE_NAME} is missing from {path.parent}; "
            "reinstall paperfeed (`pip install .` ships it as package data)"
        )
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_demo_vectors(engine: Engine, settings: Settings, *, progress: bool = False) -> int:
    """Store the bundled vectors of the demo papers; returns how many (0 when the files are
    absent or were made by another model than the configured one: run `paperfeed index`)."""
    from paperfeed.search.embed import model_info
    from paperfeed.search.indexing import import_vectors

    folder = Path(str(resources.files(__package__)))
    vectors, ids, model = folder / VECTORS_NAME, folder / IDS_NAME, folder / MODEL_NAME
    if not (vectors.is_file() and ids.is_file() and model.is_file()):
        return 0
    made_by = model.read_text("utf-8").strip()
    configured = model_info(settings.embedding_model).model_id
    if made_by != configured:
        log.info("demo: bundled vectors are from %s, the configured model is %s; run "
                 "`paperfeed index` for semantic search", made_by, configured)
        return 0
    summary = import_vectors(
        engine, settings, vectors, ids, model_id=made_by, skip_unknown=True, progress=progress
    )
    log.info("demo: %d precomputed vectors stored (%s)", summary.imported, made_by)
    return summary.imported


def _vectors_missing(engine: Engine) -> bool:
    from paperfeed.storage.embeddings import count_embeddings

    with engine.connect() as conn:
        return count_embeddings(conn) == 0


def load_demo(
    engine: Engine, *, progress: bool = False, settings: Settings | None = None
) -> IngestSummary:
    """Load the demo corpus into a migrated database; idempotent and fast when already loaded.

    Skips the import when `job_state['demo:corpus']` holds this archive's checksum and the
    catalog still has at least the papers it recorded; the returned summary then counts them
    as unchanged. With `settings`, the precomputed vectors are stored too (once).
    """
    path = archive_path()
    checksum = sha256_of(path)
    state = get_state(engine, STATE_KEY)
    if isinstance(state, dict) and state.get("sha256") == checksum:
        with engine.connect() as conn:
            present = conn.execute(select(func.count()).select_from(papers)).scalar_one()
        recorded = int(state.get("papers", 0))
        if present >= recorded:
            log.info("demo: corpus %s already loaded (%d papers)", checksum[:12], recorded)
            if settings is not None and _vectors_missing(engine):
                import_demo_vectors(engine, settings)
            return IngestSummary(unchanged=recorded)
    from paperfeed.sources.hf_daily import import_path

    summary = import_path(engine, path, progress=progress)
    total = summary.new + summary.updated + summary.unchanged
    with write(engine) as conn:
        set_state(
            conn,
            STATE_KEY,
            {"sha256": checksum, "archive": ARCHIVE_NAME, "papers": total},
            now=utcnow(),
        )
    refresh_token_docs(engine, now=utcnow())  # keyword search reads these counts
    log.info("demo: loaded %s: %s", ARCHIVE_NAME, summary.line())
    if settings is not None:
        import_demo_vectors(engine, settings, progress=progress)
    return summary
