"""Sentence embeddings offline: a bundled MiniLM ONNX model run by onnxruntime + tokenizers.

Why this shape: torch is too heavy for the default install, so the model ships as one ONNX file
inside the package (paperfeed/search/models/<name>/) and runs on ONNX Runtime; pooling (mean over
real tokens) and L2 normalisation happen in numpy, exactly as sentence-transformers does them.
Documents are sorted by token length and padded per batch, so short abstracts do not pay for
long ones. `settings.embedding_model` names the bundled model or a directory holding
`model.onnx` + `tokenizer.json` (and optionally `paperfeed-model.json`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "minilm-l6-v2"
META_FILE = "paperfeed-model.json"
DEFAULT_MAX_TOKENS = 256
_WS = re.compile(r"\s+")

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "ModelInfo",
    "cached_embedder",
    "choose_providers",
    "document_text",
    "model_info",
    "resolve_model_dir",
]


def document_text(title: str, abstract: str) -> str:
    """The one text embedded for a paper: title, then abstract, whitespace collapsed.

    arXiv keeps hard line breaks inside titles and abstracts; collapsing them keeps the text (and
    so its hash, which decides re-embedding) stable across sources that wrap differently.
    """
    title = _WS.sub(" ", title or "").strip()
    abstract = _WS.sub(" ", abstract or "").strip()
    if not title:
        return abstract
    if not abstract:
        return title
    sep = " " if title[-1] in ".?!:" else ". "
    return f"{title}{sep}{abstract}"


def text_hash(text: str) -> str:
    """sha256 of the embedded text: stored with each vector to detect changed content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def choose_providers(available: Sequence[str], *, prefer_gpu: bool = True) -> list[str]:
    """ONNX Runtime execution providers to use: CUDA first when the runtime offers it."""
    if prefer_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory declares (read without loading the model)."""

    directory: Path
    model_id: str
    dim: int | None
    max_tokens: int
    # Cosine below which a paper is not "close in meaning" to a query (calibrated per model:
    # bench/similarity_floor.py); 0.0 when the model declares none.
    similarity_floor: float = 0.0


def resolve_model_dir(name: str) -> Path:
    """The directory for a bundled model name or a local path; EmbedderUnavailable otherwise."""
    bundled = MODELS_DIR / name
    if "/" not in name and "\\" not in name and bundled.is_dir():
        return bundled
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    known = sorted(p.name for p in MODELS_DIR.iterdir() if p.is_dir())
    raise EmbedderUnavailable(
        f"embed: model {name!r} is neither a bundled model ({', '.join(known) or 'none'}) nor a "
        "directory; set PAPERFEED_EMBEDDING_MODEL to `minilm-l6-v2` or to a directory holding "
        "model.onnx and tokenizer.json"
    )


def model_info(name: str) -> ModelInfo:
    """Model id, dimension and token cap of a model, from its metadata file (cheap).

    A directory without `paperfeed-model.json` gets an id from its name, size and the first
    MiB of `model.onnx`, so replacing the file changes the id and triggers re-embedding.
    """
    directory = resolve_model_dir(name)
    meta_path = directory / META_FILE
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except ValueError as exc:
            raise EmbedderUnavailable(f"embed: {meta_path} is not valid JSON ({exc})") from exc
    model_id = meta.get("model_id")
    if not model_id:
        onnx_path = directory / "model.onnx"
        if not onnx_path.is_file():
            raise EmbedderUnavailable(f"embed: {directory} has no model.onnx")
        with onnx_path.open("rb") as fh:
            digest = hashlib.sha256(fh.read(1 << 20)).hexdigest()[:12]
        model_id = f"{directory.name}:{onnx_path.stat().st_size}:{digest}"
    return ModelInfo(
        directory=directory,
        model_id=str(model_id),
        dim=int(meta["dim"]) if meta.get("dim") else None,
        max_tokens=int(meta.get("max_tokens", DEFAULT_MAX_TOKENS)),
        similarity_floor=float(meta.get("similarity_floor") or 0.0),
    )


class Embedder:
    """A loaded sentence-embedding model. Thread-safe; vectors are float32, L2-normalised."""

    def __init__(self, info: ModelInfo, session: Any, tokenizer: Any) -> None:
        self.info = info
        self.model_id = info.model_id
        self.max_tokens = info.max_tokens
        self._session = session
        self._tokenizer = tokenizer
        self._input_names = {i.name for i in session.get_inputs()}
        self._output_name = session.get_outputs()[0].name
        self.providers: list[str] = list(session.get_providers())
        self._lock = threading.Lock()
        self.dim = info.dim or int(self._run(["dimension probe"]).shape[1])

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        model: str | None = None,
        threads: int | None = None,
        prefer_gpu: bool = True,
    ) -> Embedder:
        """Load the configured model (offline, from installed files).

        Raises EmbedderUnavailable with the reason when the runtime, files or model are unusable.
        """
        name = model or (settings.embedding_model if settings is not None else DEFAULT_MODEL)
        info = model_info(name)
        onnx_path = info.directory / "model.onnx"
        tok_path = info.directory / "tokenizer.json"
        for path in (onnx_path, tok_path):
            if not path.is_file():
                raise EmbedderUnavailable(f"embed: {path} is missing; reinstall paperfeed or fix "
                                          "PAPERFEED_EMBEDDING_MODEL")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise EmbedderUnavailable(
                f"embed: {exc.name} is not installed; pip install onnxruntime tokenizers"
            ) from exc
        try:
            tokenizer = Tokenizer.from_file(str(tok_path))
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=info.max_tokens)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            # No busy-waiting between ops: the CPU is shared with the web server and other jobs.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # A one-thread session embeds one query at a time (web workers, preloaded: see
            # web/preload.py): ONNX Runtime's CPU arena would keep its peak (~12 MB) in every
            # worker for the life of the process; plain malloc frees it (web/heap.py trims)
            # at no cost per query (2.2 vs 2.1 ms, 256 tokens 17.2 vs 16.5 ms, same process).
            # Batches keep the arena: without it indexing took 1.7x the CPU.
            opts.enable_cpu_mem_arena = threads != 1
            providers = choose_providers(ort.get_available_providers(), prefer_gpu=prefer_gpu)
            session = ort.InferenceSession(str(onnx_path), opts, providers=providers)
            embedder = cls(info, session, tokenizer)
        except EmbedderUnavailable:
            raise
        except Exception as exc:
            raise EmbedderUnavailable(f"embed: cannot load model {name!r}: {exc}") from exc
        log.info("embed: loaded %s (%d-d) on %s", embedder.model_id, embedder.dim,
                 embedder.providers[0])
        return embedder

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch of texts (used to probe the dimension)."""
        return self._run_encoded(self._tokenizer.encode_batch(list(texts)))

    def _run_encoded(self, encs: Sequence[Any]) -> np.ndarray:
        """Run the model on one batch of encodings, padded to the longest, and pool it."""
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for row, enc in enumerate(encs):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        with self._lock:
            out = self._session.run([self._output_name], feeds)[0]
        if out.ndim == 3:  # token embeddings: mean over real tokens
            weights = mask[:, :, None].astype(np.float32)
            out = (out * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        out = out.astype(np.float32, copy=False)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embeddings of `texts` (build paper texts with `document_text`), shape (n, dim).

        Texts are tokenized once, sorted by length and batched, so padding stays small; the
        result is in the input order."""
        n = len(texts)
        result = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return result
        clean = [t if t and t.strip() else " " for t in texts]
        try:
            encs = self._tokenizer.encode_batch(clean)
            order = np.argsort([len(e.ids) for e in encs], kind="stable")
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                result[idx] = self._run_encoded([encs[i] for i in idx])
        except Exception as exc:
            raise EmbedderUnavailable(f"embed: the model failed on a batch: {exc}") from exc
        return result

    def embed_query(self, text: str) -> np.ndarray:
        """The embedding of one query (or a pasted abstract), shape (dim,)."""
        return self.embed_documents([text])[0]


_CACHE: dict[tuple[str, int | None], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def cached_embedder(settings: Settings, *, threads: int | None = None) -> Embedder:
    """One Embedder per process and model: what web workers and CLI commands should use."""
    key = (settings.embedding_model, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder.load(settings, threads=threads)
        return _CACHE[key]
