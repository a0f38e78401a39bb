"""`paperfeed eval recommend`: the task, the statistics, and one real run on the demo archive."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.demo import archive_path
from paperfeed.recommend.evaluate import bootstrap_diff, build_task, score_member

D = [date(2026, 1, d) for d in range(1, 29)]


def test_task_excludes_curators_and_thin_histories_and_says_why() -> None:
    lists = {d: [(f"p{d.day}-{i}", i) for i in range(10)] for d in D}
    subs = []
    for d in D:  # the curator puts 6 of every day's 10 papers up
        subs += [("curator", f"p{d.day}-{i}", d) for i in range(6)]
    subs += [("reader", f"p{d.day}-7", d) for d in D[:12]]  # 8 before the cut, 4 after
    subs += [("late", f"p{d.day}-8", d) for d in D[4:16]]  # 4 before
    subs += [("gone", f"p{d.day}-{j}", d) for d in D[:5] for j in (8, 9)]  # nothing after
    subs += [("oneoff", "p1-9", D[0])]
    ids = {u: n for n, u in enumerate(["curator", "reader", "late", "gone", "oneoff"])}
    task = build_task(subs, lists, ids, D[8])
    assert [m.username for m in task.members] == ["reader"]
    assert sorted(task.members[0].days) == D[8:12]
    why = dict(task.excluded)
    assert why["curator"].startswith("curator: ")
    assert "4 submissions before the cut" in why["late"]
    assert why["gone"] == "no submission on or after the cut"
    assert "oneoff" not in why  # the long tail is not listed one by one


def test_score_member_puts_metrics_on_where_the_submission_lands() -> None:
    lists = {D[0]: [(f"p{i}", 0) for i in range(20)]}
    subs = [("m", f"x{i}", date(2025, 12, i + 1)) for i in range(10)] + [("m", "p3", D[0])]
    task = build_task(subs, lists, {"m": 1}, D[0], min_total=5)
    member = task.members[0]
    first = score_member(lambda _u, c: ["p3"] + [p for p in c if p != "p3"], member, lists)
    assert first == {"recall@10": 1.0, "ndcg@10": 1.0, "mrr": 1.0}
    twelfth = score_member(lambda _u, c: [p for p in c if p != "p3"][:11] + ["p3"], member, lists)
    assert twelfth["recall@10"] == 0.0 and twelfth["ndcg@10"] == 0.0
    assert abs(twelfth["mrr"] - 1 / 12) < 1e-9


def test_bootstrap_interval_brackets_the_mean_and_excludes_zero_only_when_clear() -> None:
    rng = np.random.default_rng(0)
    clear = bootstrap_diff(0.5 + 0.05 * rng.normal(size=40), 0.3 + 0.05 * rng.normal(size=40))
    assert clear[1] <= clear[0] <= clear[2] and clear[1] > 0
    noise = rng.normal(size=40)
    unclear = bootstrap_diff(noise, noise[::-1].copy())
    assert unclear[1] < 0 < unclear[2]


def test_eval_recommend_on_the_demo_archive_ends_with_the_json_line(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development"}
    result = CliRunner().invoke(
        app,
        ["eval", "recommend", "--from", str(archive_path()), "--cut", "2026-06-15", "--json",
         "--cache-dir", str(tmp_path / "cache")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    report = json.loads(lines[-1])
    for key in ("recall@10", "ndcg@10", "mrr", "members"):
        assert key in report
    for baseline in ("popularity", "random", "tfidf"):
        assert set(report[baseline]) >= {"recall@10", "ndcg@10", "mrr"}
    assert report["members"] >= 3
    assert report["tfidf"]["method"] in ("tfidf_centroid", "tfidf_svm")
    # Real submitters on real papers: far better than the day's popularity or chance.
    assert report["ndcg@10"] > report["popularity"]["ndcg@10"] + 0.2
    assert report["ndcg@10"] > report["random"]["ndcg@10"] + 0.2
    assert any(line.strip().startswith("taesiri: curator") for line in lines)
    # The catalog section: each member's top 50 of everything published from the cut.
    catalog = report["catalog"]
    for name in ("served", "with_keywords"):
        assert 0 < catalog[name]["recall@50"] <= 1 and 0 < catalog[name]["ndcg@50"] <= 1
    low, high = catalog["ndcg@50_diff_served_vs_with_keywords"]["ci95"]
    assert low <= catalog["ndcg@50_diff_served_vs_with_keywords"]["mean"] <= high
    assert any(line.strip().startswith("catalog top 50, as served") for line in lines)


def test_eval_recommend_refuses_a_cut_nobody_qualifies_for(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development"}
    result = CliRunner().invoke(
        app, ["eval", "recommend", "--from", str(archive_path()), "--cut", "2020-01-01",
              "--no-svm", "--cache-dir", str(tmp_path / "cache")], env=env)
    assert result.exit_code == 1
    assert "eval: no submitter has" in result.output + str(result.exception)


@pytest.mark.parametrize("cut", ["2026-02-30", "garbage"])
def test_eval_recommend_refuses_a_bad_cut_before_loading_the_archive(
    settings: Settings, tmp_path: Path, cut: str
) -> None:
    """A typo in --cut was found only after the whole archive had been loaded (10 s on the
    demo's); an unreadable archive shows that the date is checked first."""
    unreadable = tmp_path / "2026-08-20.json"
    unreadable.write_text("not json", encoding="utf-8")
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_ENVIRONMENT": "development"}
    result = CliRunner().invoke(
        app, ["eval", "recommend", "--from", str(unreadable), "--cut", cut, "--no-svm",
              "--cache-dir", str(tmp_path / "cache")], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: eval: --cut must be YYYY-MM-DD, not {cut!r}"
