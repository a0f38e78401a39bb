"""The held-out collection builder (bench/heldout_collections.py) on real shared data: titles
cannot match themselves, every judgement points into its corpus, distractors share the judged
papers' category and month, and the same seed gives the same files."""

from __future__ import annotations

import importlib.util
import random
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from paperfeed.search.evaluate import read_corpus, read_qrels, read_queries
from tests.conftest import shared_data

BENCH = Path(__file__).resolve().parents[2] / "bench" / "heldout_collections.py"


@pytest.fixture(scope="module")
def heldout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("heldout_collections", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def papers(heldout: ModuleType) -> dict:
    return heldout.load_arxiv(shared_data("arxiv-cs/sample_5000.jsonl.gz"))


def test_titles_collection_hides_titles_and_judges_only_corpus_papers(
    heldout: ModuleType, papers: dict
) -> None:
    corpus, queries, qrels = heldout.build_titles(papers, queries=40, size=400, seed=1)
    ids = {row["_id"] for row in corpus}
    assert len(corpus) == len(ids) == 400
    assert all(row["title"] == "" and row["text"] for row in corpus)
    assert len(queries) == len(qrels) == 40
    for qid, pid in qrels.items():
        assert pid in ids
        assert queries[qid] == papers[pid]["title"]


def test_distractors_come_from_the_judged_papers_strata(heldout: ModuleType, papers: dict) -> None:
    rng = random.Random(5)
    judged = rng.sample(sorted(papers), 30)
    chosen = heldout.pick_corpus(judged, papers, 300, rng)
    assert len(chosen) == 300 and set(judged) <= set(chosen)
    strata = {heldout.stratum(papers[p]) for p in judged}
    assert all(heldout.stratum(papers[p]) in strata for p in chosen)


def test_same_seed_same_files_and_files_read_back(
    heldout: ModuleType, papers: dict, tmp_path: Path
) -> None:
    outputs = []
    for run, seed in enumerate((3, 3, 4)):
        corpus, queries, qrels = heldout.build_titles(papers, queries=20, size=200, seed=seed)
        base = tmp_path / str(run)
        heldout.write_corpus(base / "corpus.jsonl.gz", corpus)
        heldout.write_queries(base / "queries.jsonl", queries)
        heldout.write_qrels(base / "qrels.tsv", qrels)
        outputs.append([(base / n).read_bytes() for n in
                        ("corpus.jsonl.gz", "queries.jsonl", "qrels.tsv")])
    assert outputs[0] == outputs[1]
    assert outputs[0][1] != outputs[2][1]
    base = tmp_path / "0"
    docs = {p.id: p for p in read_corpus(base / "corpus.jsonl.gz")}
    judged = read_qrels(base / "qrels.tsv")
    asked = read_queries(base / "queries.jsonl")
    assert len(docs) == 200 and set(judged) == set(asked)
    assert all(set(rel) <= set(docs) and list(rel.values()) == [1] for rel in judged.values())


def test_hf_query_sets_share_one_corpus_and_use_ai_text(heldout: ModuleType, papers: dict) -> None:
    hf = heldout.load_hf(shared_data(str(heldout.HF)))
    corpus, texts, qrels = heldout.build_hf(papers, hf, queries=25, size=250, seed=2)
    ids = {row["_id"] for row in corpus}
    assert len(ids) == 250 and all(row["title"] for row in corpus)
    for name, prefix in (("summaries", "s"), ("descriptions", "d"), ("keywords", "k")):
        assert len(texts[name]) == len(qrels[name]) and len(texts[name]) >= 20
        assert {pid for pid in qrels[name].values()} <= ids
        assert all(qid.startswith(prefix) for qid in qrels[name])
    for qid, pid in qrels["summaries"].items():
        assert texts["summaries"][qid] == " ".join(hf[pid].ai_summary.split())
    for qid, pid in qrels["descriptions"].items():
        title_words = {w.casefold() for w in re.findall(r"[^\W_]+", papers[pid]["title"])}
        words = {w.casefold() for w in re.findall(r"[^\W_]+", texts["descriptions"][qid])}
        assert words and not words & title_words
        assert len(texts["descriptions"][qid].split()) >= heldout.MIN_DESCRIPTION_WORDS
    for qid, pid in qrels["keywords"].items():
        keywords = {" ".join(k.split()) for k in hf[pid].ai_keywords}
        assert texts["keywords"][qid] != ""
        assert any(k in texts["keywords"][qid] for k in keywords)


def test_keyword_sample_is_distinct_ordered_and_needs_enough_keywords(heldout: ModuleType) -> None:
    rng = random.Random(0)
    words = ["diffusion", "Diffusion", "  video  generation", "LoRA", "FID"]
    picked = heldout.sample_keywords(words, rng, k=3)
    parts = ["diffusion", "video generation", "LoRA", "FID"]
    kept = [p for p in parts if p in picked]
    assert len(kept) == 3 and picked == " ".join(kept)
    assert heldout.sample_keywords(["a", "A", "b"], rng, k=3) == ""


def test_title_words_are_taken_out_of_a_description(heldout: ModuleType) -> None:
    title = "MMaDA: Multimodal Large Diffusion Language Models"
    text = "MMaDA, a multimodal diffusion foundation model, beats text-to-image models."
    assert heldout.strip_title_words(text, title) == "a foundation model, beats text-to-image"
