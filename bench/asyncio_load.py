"""Fallback load generator for bench/serve_bench.py when `wrk` is not installed: a small
asyncio HTTP/1.1 keep-alive client. It shares the machine's CPUs with the server (and Python is
slower than wrk), so its figures are a lower bound.
"""

from __future__ import annotations

import asyncio
import time


async def _worker(port: int, path: str, deadline: float, lat: list[float], bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length is not None:
            await reader.readexactly(length)
        else:  # chunked
            while True:
                size = int((await reader.readline()).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        lat.append(time.perf_counter() - t0)
        if status != 200:
            bad.append(status)
    writer.close()


async def hammer(port: int, path: str, connections: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    bad: list[int] = []
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(_worker(port, path, deadline, lat, bad) for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000

    return {
        "requests": len(lat),
        "duration_us": elapsed * 1e6,
        "bytes": 0,
        "status_errors": len(bad),
        "p50_us": pct(0.5) * 1000,
        "p95_us": pct(0.95) * 1000,
        "p99_us": pct(0.99) * 1000,
    }


def run(port: int, path: str, connections: int, seconds: float) -> dict[str, float]:
    """Same figures as wrk_report.lua prints, from the asyncio client."""
    return asyncio.run(hammer(port, path, connections, seconds))
