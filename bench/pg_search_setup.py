"""What the PostgreSQL search benches share: the service on `PAPERFEED_DATABASE_URL`, the
server backends' pids (their CPU is read from /proc: the server runs on this machine) and the
bench queries. Imported after a bench has put the checkout it measures on `sys.path`."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class PgSearch:
    engine: Any
    service: Any
    pids: set[int]  # the PostgreSQL backends this process's connections talk to
    papers: int
    queries: list[str]


def pg_search(n_queries: int) -> PgSearch:
    """The SearchService on the configured PostgreSQL catalog and `n_queries` bench queries
    (`search_latency.queries_from`: real titles, first sentences, 3-word phrases)."""
    from search_latency import DATA, queries_from
    from sqlalchemy import event, text

    from paperfeed.config import Settings
    from paperfeed.search.hybrid import SearchService
    from paperfeed.storage.db import connect

    settings = Settings()
    engine = connect(settings)
    pids: set[int] = set()

    @event.listens_for(engine, "connect")
    def _remember(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pids.add(int(cur.fetchone()[0]))

    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM papers")).scalar_one()
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return PgSearch(engine=engine, service=SearchService(engine, settings), pids=pids,
                    papers=int(n), queries=queries_from(rows, n_queries))
