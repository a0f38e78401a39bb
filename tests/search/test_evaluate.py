"""BEIR readers, metric arithmetic (checked by hand) and `paperfeed eval retrieval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.errors import ParseError
from paperfeed.search.evaluate import (
    mrr_at_k,
    ndcg_at_k,
    percentile,
    read_corpus,
    read_qrels,
    read_queries,
    recall_at_k,
    score_runs,
)
from tests.conftest import FIXTURES

BEIR = FIXTURES / "beir_tiny"


def test_ndcg_binary_by_hand() -> None:
    # relevant d1, d2; d2 at rank 1, d1 at rank 3: DCG = 1 + 1/log2(4); IDCG = 1 + 1/log2(3)
    got = ndcg_at_k(["d2", "x", "d1"], {"d1": 1, "d2": 1}, 10)
    assert got == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert got == pytest.approx(0.919720, abs=1e-6)


def test_ndcg_graded_and_cutoff() -> None:
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}) == pytest.approx(0.859719, abs=1e-6)
    assert ndcg_at_k(["x"] * 10 + ["a"], {"a": 1}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_and_mrr_by_hand() -> None:
    rels = {"d1": 1, "d2": 1, "d3": 1, "d4": 0}
    ranked = ["x", "d4", "d1", "y", "d3"]
    assert recall_at_k(ranked, rels, 3) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, rels, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, rels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, rels, 2) == 0.0


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 10.0
    assert percentile([], 50) == 0.0


def test_score_runs_skips_unjudged_queries_and_averages() -> None:
    runs = {"q1": ["a", "b"], "q2": ["c"], "unjudged": ["a"]}
    qrels = {"q1": {"b": 1}, "q2": {"z": 1}}
    m = score_runs(runs, qrels, [1.0, 2.0, 3.0])
    assert m["mrr@10"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert m["recall@10"] == pytest.approx(0.5)
    assert m["p50_ms"] == 2.0 and m["p95_ms"] == 3.0


def test_readers_parse_beir_files(tmp_path: Path) -> None:
    docs = list(read_corpus(BEIR / "corpus.jsonl.gz"))
    assert len(docs) == 12 and docs[0].id == "d1" and docs[0].title.startswith("Vitamin D")
    assert read_queries(BEIR / "queries.jsonl")["q3"] == "statins reduce heart attacks"
    assert read_qrels(BEIR / "qrels.tsv")["q1"] == {"d1": 1, "d2": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "1"}\nnot json\n')
    with pytest.raises(ParseError, match="bad.jsonl:2"):
        read_queries(bad)


def test_eval_cli_keyword_mode_prints_metrics_and_json(settings, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(
        app,
        ["eval", "retrieval", "--corpus", str(BEIR / "corpus.jsonl"),
         "--queries", str(BEIR / "queries.jsonl"), "--qrels", str(BEIR / "qrels.tsv"),
         "--mode", "keyword", "--json"],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("mode keyword: 12 documents, 4 judged queries")
    metrics = json.loads(lines[-1])
    assert {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"} <= set(metrics)
    # q1 finds d1 only (d2 shares no word); q2, q3, q4 rank their relevant papers first.
    assert metrics["recall@10"] == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert metrics["mrr@10"] == pytest.approx(1.0)
    assert metrics["ndcg@10"] == pytest.approx((1 / (1 + 1 / math.log2(3)) + 3) / 4, abs=1e-4)


def test_eval_cli_rejects_unknown_mode(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "retrieval", "--corpus", str(BEIR / "corpus.jsonl"),
         "--queries", str(BEIR / "queries.jsonl"), "--qrels", str(BEIR / "qrels.tsv"),
         "--mode", "fuzzy"],
    )
    assert result.exit_code != 0
