"""Web fixtures: `live_server`, the real app under a real uvicorn on 127.0.0.1 (random port).

For clients that need a real HTTP server (huggingface_hub, a browser). It serves the same
`settings` and migrated `engine` as the in-process `client` fixture, so tests can load data
through the engine before or while the server runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.web.app import create_app


@pytest.fixture
def live_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT`, no trailing slash) of a running server."""
    with serve(settings) as url:
        yield url


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run `create_app(settings)` under uvicorn on a free loopback port until the block ends
    (for fixtures of any scope); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # As deployed: the site's base URL is where it is served (links in mail and the API's
    # Link header are built from it, never from the request's Host header).
    served = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    config = uvicorn.Config(
        create_app(served), log_level="warning", access_log=False, lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live_server: uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
