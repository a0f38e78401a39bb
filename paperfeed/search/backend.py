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
from paperfeed.storage.search.backend import SearchBackend
from paperfeed.storage.search.backend import open_backend as _open

__all__ = ["SearchBackend", "model_dim", "open_backend"]

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
