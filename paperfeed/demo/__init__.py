"""The bundled demo corpus: six months of real Hugging Face daily papers (see README.md here).

`load_demo(engine)` imports it through `sources.hf_daily.import_path` — the same code path as
`paperfeed ingest hf-daily --from` — and records the archive's SHA-256 in `job_state`, so a
second load (every `serve --demo` start) is skipped in milliseconds. Search may add its
precomputed vectors for this corpus to this folder.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, func, select

from paperfeed.errors import SourceError
from paperfeed.models import IngestSummary, utcnow
from paperfeed.storage.db import write
from paperfeed.storage.jobs import get_state, set_state
from paperfeed.storage.schema import papers

log = logging.getLogger(__name__)

ARCHIVE_NAME = "hf_daily_papers_2026-03-02_2026-08-21.tar.gz"
STATE_KEY = "demo:corpus"


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


def load_demo(engine: Engine, *, progress: bool = False) -> IngestSummary:
    """Load the demo corpus into a migrated database; idempotent and fast when already loaded.

    Skips the import when `job_state['demo:corpus']` holds this archive's checksum and the
    catalog still has at least the papers it recorded; the returned summary then counts them
    as unchanged.
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
    log.info("demo: loaded %s: %s", ARCHIVE_NAME, summary.line())
    return summary
