"""`paperfeed serve` with two workers (the quick start's default): the workers are forked from
a supervisor that loaded the code and the query model once (web/preload.py), so that memory
is shared between them, and each still answers semantic searches with it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.quickstart.conftest import DemoServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _workers(pid: int) -> list[int]:
    return [c for c in _children(pid)
            if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _shared_anon_mb(pid: int) -> float:
    """Anonymous memory (heap, the model's tensors, Python objects) this process shares with
    another: copy-on-write pages from the fork. A spawned worker shares none of its own."""
    kb, anon = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and ":" not in head[0]:
            anon = len(head) < 6 or head[5] in ("[heap]", "[anon]")
        elif anon and head[0] in ("Shared_Clean:", "Shared_Dirty:"):
            kb += int(head[1])
    return kb / 1024


def test_two_workers_are_forked_and_share_the_model(demo_server: DemoServer) -> None:
    workers = _workers(demo_server.proc.pid)
    assert len(workers) == 2, demo_server.log()
    for pid in workers:  # forked: the supervisor's command line, not multiprocessing's spawn
        assert b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # Enough searches that both workers embed queries with the preloaded model.
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for k in range(12):
            r = client.get("/api/papers/search", params={"q": f"diffusion models for images {k}"})
            assert r.status_code == 200 and r.json(), r.text
    for pid in workers:
        # code and the ONNX model (~55 MB of tensors) stay shared after serving searches
        assert _shared_anon_mb(pid) > 60, _shared_anon_mb(pid)
