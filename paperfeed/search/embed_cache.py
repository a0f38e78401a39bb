"""An on-disk cache of document embeddings keyed by (model id, text hash), wrapped around an
Embedder so evaluation runs do not re-embed the same corpus (SciFact: ~5 minutes on 2 cores).

One `.npz` file per model id under the cache directory; it is rewritten (atomically) after each
batch of new texts. Only evaluation uses it: the service stores vectors in the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Duck-types the Embedder (model_id, dim, embed_documents, embed_query) with a disk cache
    for documents; queries are always embedded live (they are what latency measures)."""

    def __init__(self, inner: Any, cache_dir: Path) -> None:
        self.inner = inner
        self.model_id: str = inner.model_id
        self.dim: int = inner.dim
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_id)[:80]
        digest = hashlib.sha256(self.model_id.encode()).hexdigest()[:10]
        self.path = Path(cache_dir) / f"embeddings-{safe}-{digest}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    for key, vec in zip(data["hashes"], data["vectors"], strict=True):
                        self._vectors[str(key)] = vec
            except (OSError, ValueError, KeyError) as exc:
                log.warning("embed cache: ignoring unreadable %s (%s)", self.path, exc)
        self.hits = 0
        self.misses = 0
        self._unsaved = 0

    def __getattr__(self, name: str) -> Any:  # anything else (max_tokens, providers...)
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        keys = [_hash(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.embed_documents([texts[i] for i in missing], **kwargs)
            for i, vec in zip(missing, fresh, strict=True):
                self._vectors[keys[i]] = np.asarray(vec, dtype=np.float32)
            self._unsaved += len(missing)
            if self._unsaved >= 1024:
                self.flush()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32, copy=False)

    def flush(self) -> None:
        """Write new vectors to disk (also done every 1,024 new texts)."""
        if self._unsaved:
            self._save()
            self._unsaved = 0

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        hashes = np.array(list(self._vectors), dtype="U64")
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        np.savez(tmp, hashes=hashes, vectors=vectors)
        os.replace(tmp, self.path)
