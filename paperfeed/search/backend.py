"""The configured search backend of an engine, opened once per process (and per model).

Everything that searches (the search service, "similar papers", recommendations, saved-search
alerts, the indexing job) goes through the one `SearchBackend` of its engine, so a web worker
loads the vector files (or learns that pgvector answers) once. The backend itself, one class per
database engine, is in `paperfeed.storage.search.backend`.
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import EmbedderUnavailable
from paperfeed.storage.search.backend import SearchBackend
from paperfeed.storage.search.backend import open_backend as _open

__all__ = ["SearchBackend", "model_dim", "model_mismatch", "open_backend"]

_CACHE: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int, str, str], SearchBackend]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def model_dim(settings: Settings) -> tuple[str, int]:
    """(model id, width) of the configured embedding model, from its metadata (no model load
    unless the metadata does not say its width)."""
    from paperfeed.search.embed import cached_embedder, model_info

    info = model_info(settings.embedding_model)
    return info.model_id, int(info.dim or cached_embedder(settings).dim)


def model_mismatch(settings: Settings, engine: Engine) -> str | None:
    """One line saying why searching by meaning cannot work yet, when the catalog's vectors were
    all made by another model than the configured one (PAPERFEED_EMBEDDING_MODEL changed and
    `paperfeed index` has not re-embedded the catalog); None otherwise, also mid-way through
    that re-embedding (the papers done are searched). Vectors are stored and searched per model
    id, so the two are never compared; this only says why nothing is found by meaning."""
    from paperfeed.search.embed import model_info
    from paperfeed.storage.embeddings import has_model, other_models

    try:
        model_id = model_info(settings.embedding_model).model_id
    except EmbedderUnavailable:  # reported where the model is loaded
        return None
    with engine.connect() as conn:
        others = other_models(conn, model_id)
        if not others or has_model(conn, model_id):
            return None
    made_by = ", ".join(f"{m} ({n:,} papers)" for m, n in sorted(others.items()))
    return (f"the catalog's vectors were made by {made_by}, not by the configured model "
            f"{settings.embedding_model} ({model_id}); run `paperfeed index` to re-embed the "
            "catalog with it, or set PAPERFEED_EMBEDDING_MODEL back")


def open_backend(
    settings: Settings, engine: Engine, *, model_id: str | None = None, dim: int | None = None
) -> SearchBackend:
    """The search backend of `engine` for the configured model (or `model_id`/`dim`), created on
    first use and shared by every caller in this process."""
    if model_id is None or dim is None:
        known_id, known_dim = model_dim(settings)
        model_id, dim = model_id or known_id, dim or known_dim
    key = (model_id, int(dim), settings.vector_backend, str(settings.data_dir))
    with _LOCK:
        per_engine = _CACHE.setdefault(engine, {})
        backend = per_engine.get(key)
        if backend is None:
            backend = _open(engine, data_dir=settings.data_dir, model_id=model_id, dim=int(dim),
                            vectors=settings.vector_backend)
            per_engine[key] = backend
        return backend
