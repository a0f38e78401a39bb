"""Workers that share the read-only parts: load them once in `paperfeed serve`, then fork.

uvicorn starts each worker with multiprocessing's *spawn*: a fresh interpreter that imports
the app and loads the ONNX model on its own, so every worker held a private copy of ~85 MB of
imported code and ~55 MB of model (bench/pages.py --memory: the second worker added 215 MB on
the 75k catalog). Here the supervisor imports the app's modules and loads the query model
before the workers start, and uvicorn's supervisor *forks* them: the pages stay shared
(copy-on-write) until a worker writes them, and the model's weights and the code are only ever
read. What each worker builds itself after the fork: its database engine, the vector index
(memory-mapped files, shared through the OS page cache anyway), its caches.

Forking is only safe while the supervisor runs no thread that could hold a lock at the fork:
`serve --with-jobs` runs the scheduler's threads there, so it keeps spawned workers. The one
thread that importing onnxruntime starts is idle (the query session runs on the calling
thread: one intra-op thread, no inter-op pool), and the tokenizer never ran in parallel in
the supervisor, so each worker gets a usable model (tests/web/test_preload.py).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing

from paperfeed.config import Settings
from paperfeed.web import heap

log = logging.getLogger(__name__)
QUERY_THREADS = 1  # as search.hybrid.EmbeddingBackend.load


def preload_and_fork(settings: Settings) -> bool:
    """Import the app and load the query model in this (supervising) process, and make
    uvicorn fork its workers from it. Returns False, changing nothing, where fork is not
    available; a model that cannot load is left for the workers to report (keywords only)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    import uvicorn._subprocess as uvicorn_subprocess

    if not hasattr(uvicorn_subprocess, "spawn"):  # uvicorn changed how it starts workers
        log.warning("serve: this uvicorn starts workers another way; they do not share memory")
        return False
    import paperfeed.web.api  # noqa: F401 - the routers import every page and API module
    import paperfeed.web.app  # noqa: F401
    import paperfeed.web.pages  # noqa: F401
    from paperfeed.search.embed import EmbedderUnavailable, cached_embedder

    try:
        # The key search.hybrid.EmbeddingBackend.load asks for (one intra-op thread): the
        # workers find the model in the cache (tests/web/test_preload.py checks it).
        cached_embedder(settings, threads=QUERY_THREADS)
    except EmbedderUnavailable as exc:
        log.info("serve: query model not preloaded (%s)", exc)
    warm_app(settings)
    # Objects that exist now are never collected: the collector then never walks (and so
    # never writes to, un-sharing) the pages they live on in the workers.
    gc.collect()
    gc.freeze()
    # What loading and the dropped app freed stays in malloc's heap, resident: each worker
    # would reuse (and so copy) those pages while the supervisor keeps the originals for
    # nothing. Handed back now, the workers' first writes there are fresh pages of their own
    # (~10 MB less in the supervisor after the load: bench/serve_memory.py --maps).
    heap.trim()
    uvicorn_subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]
    return True


def warm_app(settings: Settings) -> None:
    """Build the app once here and drop it, so that what building it sets up once per process
    (FastAPI's and pydantic's schemas and signatures, compiled patterns, lazily imported
    modules, the template environment's machinery) lives in the shared pages: a worker that
    built its app from nothing wrote ~26 MB of the supervisor's pages (copy-on-write) and ~10 MB
    fewer after this (bench/serve_memory.py, `--maps`). No request is served here: a request
    runs threads, and a thread holding a lock at the fork would deadlock the worker. A failure
    is left for the workers to report."""
    from paperfeed.web.app import create_app

    try:
        app = create_app(settings)
    except Exception as exc:  # the workers report it the same way, with their own log
        log.info("serve: app not built before forking (%s)", exc)
        return
    app.state.engine.dispose()  # no database connection crosses the fork
