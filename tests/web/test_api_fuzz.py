"""Any query string the JSON API can receive gives 200 or 4xx with a JSON error, never 5xx."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARAMS = ("date", "week", "month", "submitter", "sort", "p", "limit", "cursor")
values = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(
        ["2025-06-16", "2025-W25", "2025-06", "trending", "publishedAt", "0", "100"]
        + ["9999-12-31", "9999-W52", "9999-12", "0001-01-01", "0001-W01", "0001-01", "2024-W53"]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/api/daily_papers", "/api/papers", "/api/papers/2506.11924"]),
    query=st.dictionaries(st.sampled_from(PARAMS), values, max_size=4),
)
def test_api_never_answers_5xx_to_any_query(client: TestClient, path: str, query: dict[str, str]) -> None:
    r = client.get(path, params=query)
    assert r.status_code < 500, (path, query, r.text[:200])
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/json") and r.json()["error"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(min_size=1, max_size=40))
def test_paper_info_never_answers_5xx_to_any_id(client: TestClient, ref: str) -> None:
    r = client.get("/api/papers/" + quote(ref, safe=""))
    assert r.status_code < 500, (ref, r.text[:200])
