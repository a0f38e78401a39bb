"""Search fixtures: 40 real arXiv CS papers in a real SQLite store (see fixtures/search/README)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, update

from paperfeed.models import Author, Featured, Paper
from paperfeed.storage.db import write
from paperfeed.storage.papers import add_featured, upsert_papers
from paperfeed.storage.schema import papers
from tests.conftest import FIXTURES

PAPERS_FILE = FIXTURES / "search" / "arxiv_cs_40.jsonl"
FEATURED_ID = "2602.22661"  # dLLM: Simple Diffusion Language Modeling
CODE_ID = "2504.20581"  # ClonEval: An Open Voice Cloning Benchmark
HIDDEN_ID = "2505.18477"  # ZooplanktonBench


def real_papers() -> list[Paper]:
    out = []
    for line in PAPERS_FILE.read_text("utf-8").splitlines():
        r = json.loads(line)
        out.append(
            Paper(
                id=r["id"],
                title=r["title"],
                abstract=r["abstract"],
                authors=[Author(name=a) for a in r["authors"]],
                categories=r["categories"],
                primary_category=r["primary_category"],
                published_at=datetime.fromisoformat(r["listing_date"]),
                comment=r.get("comment"),
                github_repo="https://github.com/x/cloneval" if r["id"] == CODE_ID else None,
                source="test",
            )
        )
    return out


def load_catalog(engine: Engine, now: datetime) -> Engine:
    """The 40 real papers, one of them featured and one hidden (SQLite or PostgreSQL)."""
    with write(engine) as conn:
        upsert_papers(conn, real_papers(), now=now)
        add_featured(conn, [Featured(paper_id=FEATURED_ID, day=date(2026, 2, 27))], now=now)
        conn.execute(update(papers).where(papers.c.id == HIDDEN_ID).values(hidden=True))
    return engine


class MemoEmbedder:
    """The real bundled model, remembering document vectors across a module's tests (the
    machine is small; every test would otherwise re-embed the same 40 papers)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.memo: dict[str, np.ndarray] = {}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.inner.embed_documents(todo), strict=True))
        return np.stack([self.memo[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture
def catalog(engine: Engine, now: datetime) -> Engine:
    return load_catalog(engine, now)
