"""The supervisor imports what each worker would import for itself once serving (web/preload.py):
uvicorn's protocol, lifespan and loop modules as its "auto" settings pick them, and the modules
of a first search, so that forked workers share them. Run in a fresh interpreter: what this
test process imported already would hide a missing import."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, sys, threading
if len(sys.argv) > 1:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from paperfeed.web.preload import import_server_modules
done = import_server_modules()
print(json.dumps({"done": done, "threads": threading.active_count(),
                  "modules": sorted(m for m in sys.modules)}))
"""


def _probe(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_server_modules_a_worker_would_import_are_imported_before_the_fork(tmp_path) -> None:
    from uvicorn import config as uvicorn_config
    from uvicorn.config import Config

    got = _probe()
    modules = set(got["modules"])  # type: ignore[arg-type]
    # what uvicorn itself resolves for a worker with the serve command's settings
    config = Config("paperfeed.web.app:app_from_env", factory=True)
    assert config.http == config.ws == config.lifespan == "auto"
    for target in (uvicorn_config.HTTP_PROTOCOLS["auto"], uvicorn_config.LIFESPAN["auto"]):
        assert target.split(":")[0] in modules
    assert "uvloop" in modules and "httptools" in modules  # what "auto" picks when installed
    assert {"usearch.index", "anyio._backends._asyncio"} <= modules  # a first search's
    assert got["threads"] == 1  # nothing that could hold a lock at the fork
    assert "prometheus_client" not in modules  # it fixes where values live when imported
    with_metrics = _probe(str(tmp_path))
    assert "prometheus_client.multiprocess" in set(with_metrics["modules"])  # type: ignore[arg-type]
