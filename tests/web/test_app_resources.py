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


def test_a_serving_worker_freezes_what_it_holds_once(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    """A full garbage collection must not walk the objects a worker holds once started (~200
    ms in one request at 75k papers): the app's lifespan freezes them, once per process, in a
    fresh process here (freezing is process-wide)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import gc
        from fastapi.testclient import TestClient
        from paperfeed.config import Settings
        from paperfeed.web.app import create_app
        settings = Settings(data_dir={str(settings.data_dir)!r}, environment="development",
                            secret_key="test-secret-key-for-paperfeed-tests")
        assert gc.get_freeze_count() == 0
        with TestClient(create_app(settings)) as client:
            frozen = gc.get_freeze_count()
            assert frozen > 10_000, frozen
            assert client.get("/healthz").status_code == 200
        app = create_app(settings)
        before = gc.get_freeze_count()  # frozen objects freed since leave the count
        with TestClient(app):
            assert gc.get_freeze_count() <= before  # once per process
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
