"""/healthz, /readyz, /metrics and request ids, on the real app in-process (SQLite and
PostgreSQL); metrics are read back with prometheus-client's own text-format parser."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, text

from paperfeed.config import Settings
from paperfeed.storage.db import connect, migrate
from paperfeed.web.app import create_app


def samples(body: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of every sample called `name` in a Prometheus text body."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def count(body: str, name: str, **labels: str) -> float:
    return sum(v for k, v in samples(body, name).items()
               if all((key, val) in k for key, val in labels.items()))


@pytest.fixture
def metrics_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    on = settings.model_copy(update={"metrics_enabled": True})
    with TestClient(create_app(on)) as c:
        yield c


def test_healthz_answers_without_the_database_and_names_the_request(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert len(r.headers["x-request-id"]) >= 8


def test_request_id_from_a_proxy_is_kept_and_a_hostile_one_replaced(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"}).headers[
        "x-request-id"] == "lb-1234abcd"
    for bad in ["x", "a" * 300, "<script>alert(1)</script>", "id with spaces"]:
        rid = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert rid != bad and rid.isalnum()


def test_readyz_is_ready_on_a_current_schema(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"].startswith("schema ")
    assert body["checks"]["search"] in ("hybrid (keywords and meaning)", "keywords only")


def test_readyz_goes_503_when_the_sqlite_file_is_gone(client: TestClient, settings: Settings
                                                      ) -> None:
    assert client.get("/readyz").status_code == 200
    db = settings.data_dir / "paperfeed.db"
    moved = db.with_name("moved-away.db")
    os.replace(db, moved)
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        assert "missing" in r.json()["checks"]["database"]
        assert client.get("/healthz").status_code == 200  # liveness is not readiness
    finally:
        os.replace(moved, db)
    assert client.get("/readyz").status_code == 200


def test_readyz_goes_503_on_an_out_of_date_schema(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert "the code needs" in r.json()["checks"]["database"]


@pytest.mark.postgres
def test_readyz_goes_503_when_the_postgres_database_is_dropped(pg_server_url: str,
                                                                tmp_path: Path) -> None:
    from tests.conftest import pg_database

    with pg_database(pg_server_url) as url:
        settings = Settings(data_dir=tmp_path / "data", environment="development",
                            database_url=url, vector_backend="files")
        engine = connect(settings)
        migrate(engine)
        engine.dispose()
        with TestClient(create_app(settings)) as c:
            assert c.get("/readyz").status_code == 200
            from sqlalchemy import create_engine

            admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                name = url.rsplit("/", 1)[1].split("?")[0]
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.dispose()
            r = c.get("/readyz")
            assert r.status_code == 503, r.text
            assert r.json()["checks"]["database"].startswith("failing: database unreachable")
            assert c.get("/healthz").status_code == 200


def test_metrics_are_off_by_default(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_token_is_required_when_set(settings: Settings, engine: Engine) -> None:
    on = settings.model_copy(update={"metrics_enabled": True,
                                     "metrics_token": SecretStr("scrape-secret")})
    with TestClient(create_app(on)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = c.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_metrics_count_requests_by_route_template_with_bounded_labels(
    metrics_client: TestClient,
) -> None:
    c = metrics_client
    before = c.get("/metrics").text  # the process's counters are shared by its tests
    for i in range(30):  # thirty papers, thirty junk paths: two route labels, not sixty
        c.get(f"/papers/2401.{i:05d}")
        c.get(f"/no/such/page/{i}?x={'y' * i}")
    c.get("/api/papers/2401.00001")
    body = c.get("/metrics").text

    def grew(name: str, **labels: str) -> float:
        return count(body, name, **labels) - count(before, name, **labels)

    assert grew("paperfeed_http_requests_total", route="/papers/{arxiv_id}", status="404") == 30
    assert grew("paperfeed_http_requests_total", route="<unmatched>") == 30
    assert grew("paperfeed_http_requests_total", route="/api/papers/{paper_id}") == 1
    routes = {dict(k)["route"] for k in samples(body, "paperfeed_http_requests_total")}
    assert not any("2401" in r or "/no/such" in r for r in routes), routes
    assert grew("paperfeed_http_request_duration_seconds_count", route="/papers/{arxiv_id}") == 30


def test_metrics_record_search_latency_by_mode_and_the_instance_gauges(
    metrics_client: TestClient, engine: Engine,
) -> None:
    from paperfeed.models import utcnow
    from paperfeed.storage.db import write
    from paperfeed.storage.papers import upsert_papers
    from tests.feed_factories import paper

    with write(engine) as conn:
        upsert_papers(conn, [paper("2401.00001", title="Graph networks"),
                             paper("2401.00002", title="Diffusion models")], now=utcnow())
    c = metrics_client
    before = c.get("/metrics").text
    assert c.get("/search", params={"q": "graph"}).status_code == 200
    assert c.get("/api/papers/search", params={"q": "diffusion"}).status_code == 200
    body = c.get("/metrics").text
    assert count(body, "paperfeed_search_duration_seconds_count", mode="hybrid") - count(
        before, "paperfeed_search_duration_seconds_count", mode="hybrid") == 2
    assert samples(body, "paperfeed_papers")[()] == 2
    assert samples(body, "paperfeed_embeddings_pending")[()] == 2  # none embedded yet
    assert samples(body, "paperfeed_database_up")[()] == 1


def test_errors_carry_the_request_id_in_json_pages_and_the_log(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    from paperfeed.logs import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())  # what the server's handlers carry
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/api/boom", boom)
    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/papers/9999.99999", headers={"X-Request-ID": "req-0000abcd"})
        assert r.status_code == 404
        assert r.json()["request_id"] == "req-0000abcd" == r.headers["x-request-id"]
        assert r.headers.get_list("x-request-id") == ["req-0000abcd"]
        with caplog.at_level(logging.ERROR):
            api = c.get("/api/boom")
            page = c.get("/boom", headers={"X-Request-ID": "page-boom-1234"})
    assert api.status_code == 500 and api.json()["request_id"] == api.headers["x-request-id"]
    assert page.status_code == 500 and "page-boom-1234" in page.text
    assert page.headers["x-request-id"] == "page-boom-1234"
    logged = {getattr(rec, "request_id", None) for rec in caplog.records
              if "unhandled error" in rec.getMessage()}
    assert {api.headers["x-request-id"], "page-boom-1234"} <= logged


def test_json_log_lines_carry_the_request_id() -> None:
    import json

    from paperfeed.logs import JsonFormatter, RequestIdFilter, request_id

    record = logging.LogRecord("paperfeed.x", logging.WARNING, __file__, 1, "hello %s",
                               ("world",), None)
    token = request_id.set("abc12345")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    record.route = "/papers/{arxiv_id}"  # an `extra=` field
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world" and line["level"] == "WARNING"
    assert line["request_id"] == "abc12345" and line["route"] == "/papers/{arxiv_id}"
