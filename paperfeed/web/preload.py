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
import importlib
import logging
import multiprocessing
import os

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
    import_server_modules()
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


# Modules a worker imports only once it serves (not with the app): the first search opens the
# vector graph (usearch, which imports numpy.ma and tqdm), the first /metrics or instrument
# builds prometheus_client's multiprocess values, the server runs anyio's thread pool.
FIRST_REQUEST_MODULES = ("anyio._backends._asyncio", "usearch.index", "numpy.ma")
METRICS_MODULES = ("prometheus_client", "prometheus_client.multiprocess")


def import_server_modules() -> list[str]:
    """Import here what each worker would import for itself as it starts serving (uvicorn's
    protocol, lifespan and event loop implementations as its "auto" settings pick them, and
    `FIRST_REQUEST_MODULES`), so the workers share those modules' pages instead of each
    building its own copy (~100 modules: bench/worker_parts.py lists them). Importing starts
    no thread. prometheus_client only when the metric files' directory is set already: it
    decides at import time where values live (paperfeed/metrics.py). Returns what was
    imported; a module that is not installed is skipped (the worker does without it too)."""
    from uvicorn import config as uvicorn_config
    from uvicorn.importer import ImportFromStringError, import_from_string

    done: list[str] = []
    for target in (uvicorn_config.HTTP_PROTOCOLS.get("auto"),
                   uvicorn_config.WS_PROTOCOLS.get("auto"),
                   uvicorn_config.LIFESPAN.get("auto"),
                   uvicorn_config.LOOP_FACTORIES.get("auto")):
        if not target:
            continue
        try:
            found = import_from_string(target)
        except ImportFromStringError:
            continue
        if target == uvicorn_config.LOOP_FACTORIES.get("auto") and callable(found):
            found()  # imports the event loop's module (uvloop when installed); makes no loop
        done.append(target)
    names: tuple[str, ...] = FIRST_REQUEST_MODULES
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        names += METRICS_MODULES
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        done.append(name)
    return done
