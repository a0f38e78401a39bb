"""Search storage: the search backends (one per database engine, `backend.py`), filters and the
catalog look-ups search results need. The only search code that talks to the database.

Modules: `filters` (SearchFilters, visible papers), `request` (what search asks a keyword index),
`fts5` (SQLite), `tsquery` (PostgreSQL), `pgvector` (nearest-vector SQL), `nearest` (the vector
side: files or pgvector), `backend` (the two backends and their Protocol).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from paperfeed.storage.search.filters import (
    SearchFilters,
    papers_by_ids,
    texts_by_ids,
    titles_by_ids,
    visible_id,
)
from paperfeed.storage.search.fts5 import TOKEN_DOCS_STATE, fts_tokens, token_doc_counts
from paperfeed.storage.search.request import (
    DEFAULT_FIELDS,
    KeywordHit,
    KeywordHits,
    KeywordRequest,
    StatsRefresh,
    TermStats,
)

DEFAULT_WEIGHTS = DEFAULT_FIELDS  # the name before the backends split (title, authors, abstract)

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_WEIGHTS",
    "TOKEN_DOCS_STATE",
    "KeywordHit",
    "KeywordHits",
    "KeywordRequest",
    "SearchFilters",
    "StatsRefresh",
    "TermStats",
    "fts_tokens",
    "papers_by_ids",
    "refresh_token_docs",
    "texts_by_ids",
    "titles_by_ids",
    "token_doc_counts",
    "visible_id",
]


def refresh_token_docs(engine: Engine, *, now: datetime) -> StatsRefresh:
    """Refresh what keyword search knows of word frequencies after bulk catalog changes
    (SQLite: the stored token document counts, ~1 s at 75k papers; PostgreSQL: nothing to
    store). Any engine; returns the engine's summary (`tokens`, `papers`, `seconds`)."""
    if engine.dialect.name == "sqlite":
        from paperfeed.storage.search.fts5 import refresh_token_docs as refresh

        return refresh(engine, now=now)
    return StatsRefresh(0, 0, 0.0)
