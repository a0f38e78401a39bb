"""What a web process holds: numpy's BLAS on one thread (no helper threads busy-waiting beside
requests), and SQLite read through a shared memory map rather than a large private cache per
pooled connection."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from paperfeed.config import Settings
from paperfeed.storage.db import connect
from paperfeed.web.app import create_app


def test_app_limits_blas_to_one_thread(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    create_app(settings)
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)


def test_web_engine_reads_sqlite_through_a_memory_map(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    with app.state.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() > 0
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -4096
    batch = connect(settings)  # the CLI's engine keeps its large private cache for bulk writes
    with batch.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
    batch.dispose()
