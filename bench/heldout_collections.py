"""Held-out retrieval collections (issue #3): does search tuned on SciFact generalise?

    python bench/heldout_collections.py [--out DIR] [--collections titles,summaries,keywords]
                                        [--cache-dir DIR] [--build-only] [--rebuild] [--quick]

SciFact (claims -> biomedical abstracts) is what the fusion and keyword settings were tuned on.
This script builds BEIR-format collections of a different kind from the real data in
../shared/data (never copied into the repository: they are written under `--out`, by default
/work/cache/heldout/collections) and scores every variant of
`variants()` on each, through the service's own code paths (`EvalStore`: upsert -> FTS5
triggers; indexing job -> vector index; `evaluate()` -> `SearchService.search`).

Collections (all deterministic for a given `--seed`; see bench/README.md, "Held-out collections"):
- titles: a short arXiv title -> that paper, whose corpus entry has the abstract only (title
  field empty, so the title cannot match itself and exact-title pinning cannot fire).
- summaries: Hugging Face's one-sentence `ai_summary` of a paper (a long natural-language
  description written by another model) -> that paper; corpus entries carry title + abstract.
- descriptions: the same `ai_summary` with every word that also occurs in the paper's title
  taken out (the method's name, the title's key terms): a description by someone who does not
  remember what the paper is called; same corpus and judged papers as summaries.
- keywords: three of the paper's Hugging Face `ai_keywords` -> that paper (same corpus and
  judged papers as summaries, so the document embeddings are shared).
- scifact: the tuning collection itself, read in place (not in the default list; add it to
  compare a new variant side by side: `--collections scifact,titles`).

Each corpus holds the judged papers plus distractors drawn from the same primary category and
the same arXiv month (hard negatives, so a topic or a period alone does not find the paper).

To try a new variant: add a row to `variants()` (one place) and re-run; document embeddings
come from the on-disk cache (keyed by model id + text hash), query vectors are memoised.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import (  # noqa: E402
    EvalStore,
    evaluate,
    read_qrels,
    read_queries,
)
from paperfeed.search.hybrid import HybridParams  # noqa: E402
from paperfeed.sources.text import clean_text  # noqa: E402


def _shared_default() -> Path:
    """../shared/data beside the checkout (or beside the worktrees' parent)."""
    if os.environ.get("PAPERFEED_SHARED_DATA"):
        return Path(os.environ["PAPERFEED_SHARED_DATA"])
    near = [ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"]
    return next((p for p in near if p.is_dir()), near[0])


SHARED = _shared_default()
ARXIV = Path("arxiv-cs/arxiv_cs_daily_2025-03_2026-07.jsonl.gz")
HF = Path("hf-daily-papers/hf_daily_papers_raw_2024-05-27_2026-08-21.tar.gz")
DEFAULT_OUT = Path("/work/cache/heldout/collections")
DEFAULT_CACHE = Path("/work/cache/heldout/embed")
COLLECTIONS = ("titles", "summaries", "descriptions", "keywords", "questions")  # the default set
KEYWORDS_PER_QUERY = 3
MIN_DESCRIPTION_WORDS = 5
_PARTS = re.compile(r"[^\W_]+")
QUESTION_MIN_WORDS = 30  # a question is the abstract's leading sentences up to this many words
QUESTION_MAX_SENTENCES = 3
QUESTION_TITLE_ONLY = 0.6  # share of documents (judged and distractors alike) with no abstract
QUESTION_CORPUS = 6000
# How people phrase a request to a librarian or a search box (CACM-style "What articles ...").
QUESTION_FRAMES = (
    "I am looking for papers on the following problem. {}",
    "Which papers address this? {}",
    "{} What research has been done on this?",
    "Are there articles that deal with the following: {}",
    "{} I need work that tackles this.",
    "Find me studies about this: {}",
)


@dataclass(frozen=True, slots=True)
class Collection:
    """Where one query set and its corpus live (BEIR file names)."""

    name: str
    corpus: Path
    queries: Path
    qrels: Path


def collection_paths(out: Path, shared: Path = SHARED) -> dict[str, Collection]:
    titles, hf = out / "titles", out / "hf"
    scifact = shared / "scifact"
    return {
        "titles": Collection("titles", titles / "corpus.jsonl.gz", titles / "queries.jsonl",
                             titles / "qrels.tsv"),
        "summaries": Collection("summaries", hf / "corpus.jsonl.gz",
                                hf / "queries_summaries.jsonl", hf / "qrels_summaries.tsv"),
        "descriptions": Collection("descriptions", hf / "corpus.jsonl.gz",
                                   hf / "queries_descriptions.jsonl",
                                   hf / "qrels_descriptions.tsv"),
        "keywords": Collection("keywords", hf / "corpus.jsonl.gz",
                               hf / "queries_keywords.jsonl", hf / "qrels_keywords.tsv"),
        "questions": Collection("questions", out / "questions" / "corpus.jsonl.gz",
                                out / "questions" / "queries.jsonl",
                                out / "questions" / "qrels.tsv"),
        "scifact": Collection("scifact", scifact / "corpus.jsonl.gz",
                              scifact / "queries_train.jsonl", scifact / "qrels_train_cited.tsv"),
    }


# -- the variants (one place: add rows here) ---------------------------------------------------
def variants(quick: bool = False, only: Sequence[str] = ()) -> list[tuple[str, str, HybridParams]]:
    """(mode, label, params) rows scored on every collection. The label containing "(default)"
    marks the service's settings; the table's delta column is relative to the default hybrid."""
    base = HybridParams()
    kw = base.keyword
    unpruned = replace(kw, max_df_ratio=1.0, posting_budget=0)
    rows = [
        ("keyword", "FTS5 bm25, title 3 / authors 2 / abstract 1, pruning on, word pairs for bare keywords at 0.25 (default)", base),
        ("keyword", "title 10 / authors 3 / abstract 1", replace(base, keyword=replace(kw, weights=(10, 3, 1)))),
        ("keyword", "all fields weight 1", replace(base, keyword=replace(kw, weights=(1, 1, 1)))),
        ("keyword", "no common-word pruning", replace(base, keyword=unpruned)),
        ("keyword", "+ adjacent-word phrases (bigrams)", replace(base, keyword=replace(kw, bigrams="all", pair_weight=1.0))),
        ("semantic", "MiniLM-L6 int8, exact cosine (default)", base),
        ("hybrid", "score blend (z-scores) w=0.5, standout rule vs ranks 3-100, shift 0.2, bare keywords: share +0.1 and keyword lead bonus 1.0, coverage check 0.75, phrase check 1.5, depth 100, keyword word pairs (default)", base),
        ("hybrid", "seventh: no phrase check (the sixth pass's default)", replace(base, phrase_bonus=0.0)),
        ("hybrid", "phrase check 1.0", replace(base, phrase_bonus=1.0)),
        ("hybrid", "phrase check 2.0", replace(base, phrase_bonus=2.0)),
        ("hybrid", "fixed blend w=0.5 (no standout rule)", replace(base, standout_shift=0.0, keywords_shift=0.0, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "fourth: standout rule only (the third pass's default)", replace(base, keywords_shift=0.0, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "fourth: standout + bare keywords share +0.1 (no lead bonus)", replace(base, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "fourth: standout + bare keywords lead bonus 1.0 (no share shift)", replace(base, keywords_shift=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "fifth: the fourth pass's default (no coverage check)", replace(base, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "fifth: coverage check, bonus 0.5", replace(base, coverage_bonus=0.5, phrase_bonus=0.0)),
        ("hybrid", "fifth: coverage check, bonus 1.0", replace(base, coverage_bonus=1.0, phrase_bonus=0.0)),
        ("hybrid", "fifth: coverage check, keyword best >= 0.6 of the words", replace(base, coverage_floor=0.6, phrase_bonus=0.0)),
        ("hybrid", "standout rule vs the whole list: shift 0.2", replace(base, standout_shift=0.2, standout_skip=0)),
        ("hybrid", "standout rule vs the whole list: shift 0.4", replace(base, standout_shift=0.4, standout_skip=0)),
        ("hybrid", "standout vs ranks 3-100: shift 0.3", replace(base, standout_shift=0.3, standout_skip=2)),
        ("hybrid", "standout vs ranks 3-100: shift 0.4", replace(base, standout_shift=0.4, standout_skip=2)),
        ("hybrid", "score blend w=0.3", replace(base, blend_weight=0.3, standout_shift=0.0, keywords_shift=0.0, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "score blend w=0.6", replace(base, blend_weight=0.6, standout_shift=0.0, keywords_shift=0.0, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "score blend w=0.7", replace(base, blend_weight=0.7, standout_shift=0.0, keywords_shift=0.0, lead_bonus=0.0, coverage_bonus=0.0, phrase_bonus=0.0)),
        ("hybrid", "RRF k=60", replace(base, fusion="rrf", rrf_k=60)),
        ("hybrid", "RRF k=10", replace(base, fusion="rrf", rrf_k=10)),
        ("hybrid", "score blend, depth 300", replace(base, depth=300)),
        ("hybrid", "score blend, keyword without pruning", replace(base, keyword=unpruned)),
        ("hybrid", "score blend, title 10 / authors 3 / abstract 1", replace(base, keyword=replace(kw, weights=(10, 3, 1)))),
        ("hybrid", "score blend, all fields weight 1", replace(base, keyword=replace(kw, weights=(1, 1, 1)))),
        ("hybrid", "score blend, keyword + bigrams", replace(base, keyword=replace(kw, bigrams="all", pair_weight=1.0))),
        ("keyword", "kwpairs: no word pairs (before)", replace(base, keyword=replace(kw, bigrams="off"))),
        ("hybrid", "kwpairs: no word pairs (before)", replace(base, keyword=replace(kw, bigrams="off"))),
        ("keyword", "kwpairs: word pairs for bare keywords, weight 1", replace(base, keyword=replace(kw, bigrams="bare", pair_weight=1.0))),
        ("hybrid", "kwpairs: word pairs for bare keywords, weight 1", replace(base, keyword=replace(kw, bigrams="bare", pair_weight=1.0))),
        ("keyword", "q: repeated words count, request words dropped", replace(base, keyword=replace(kw, repeats=True, drop_requests=True))),
        ("hybrid", "q: repeated words count, request words dropped", replace(base, keyword=replace(kw, repeats=True, drop_requests=True))),
        ("keyword", "q: budget 20k, no df cut", replace(base, keyword=replace(kw, posting_budget=20_000, max_df_ratio=1.0))),
        ("keyword", "q: budget 20k, no df cut, 64 terms, repeats, requests", replace(base, keyword=replace(kw, posting_budget=20_000, max_df_ratio=1.0, max_terms=64, repeats=True, drop_requests=True))),
        ("hybrid", "q: budget 20k, no df cut, 64 terms, repeats, requests", replace(base, keyword=replace(kw, posting_budget=20_000, max_df_ratio=1.0, max_terms=64, repeats=True, drop_requests=True))),
        ("hybrid", "no similarity floor", replace(base, query_floor=0.0, doc_floor=0.0)),
        ("hybrid", "floor: query 0.43, papers 0.43", replace(base, query_floor=0.43, doc_floor=0.43)),
        ("hybrid", "floor: query 0.43, papers 0.30", replace(base, query_floor=0.43, doc_floor=0.30)),
        ("hybrid", "floor: query 0.43, papers 0.25", replace(base, query_floor=0.43, doc_floor=0.25)),
        ("semantic", "no similarity floor", replace(base, query_floor=0.0, doc_floor=0.0)),
        ("semantic", "floor: query 0.43, papers 0.30", replace(base, query_floor=0.43, doc_floor=0.30)),
    ]
    if quick:
        rows = [r for r in rows if "(default)" in r[1]]
    if only:
        rows = [r for r in rows if any(word in r[1] for word in only)]
    return rows


# -- building (pure functions over records, then writers) --------------------------------------
def load_arxiv(path: Path) -> dict[str, dict[str, Any]]:
    """arxiv-cs records by id, with whitespace-collapsed title and abstract."""
    out: dict[str, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            rec["title"] = clean_text(rec.get("title"))
            rec["abstract"] = clean_text(rec.get("abstract"))
            if rec["title"] and rec["abstract"]:
                out[rec["id"]] = rec
    return out


def load_hf(path: Path) -> dict[str, Any]:
    """Hugging Face daily-papers records (paperfeed's own robust reader) by arXiv id."""
    from paperfeed.sources.hf_daily import iter_path, parse_responses

    records = parse_responses((name, data, None) for name, data in iter_path(path))
    return {p.id: p for p in records.papers}


def stratum(rec: dict[str, Any]) -> tuple[str, str]:
    """Distractors share the judged paper's primary category and arXiv month (yymm)."""
    return (str(rec.get("primary_category") or ""), str(rec["id"])[:4])


def pick_corpus(
    judged: Sequence[str], papers: dict[str, dict[str, Any]], size: int, rng: random.Random
) -> list[str]:
    """The judged ids plus distractors from their strata, `size` ids in all (fewer if the
    strata run out), sorted. Each stratum gets distractors in proportion to its judged count."""
    wanted = set(judged)
    by_stratum: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pid in sorted(papers):
        if pid not in wanted:
            by_stratum[stratum(papers[pid])].append(pid)
    need = max(0, size - len(wanted))
    judged_per: dict[tuple[str, str], int] = defaultdict(int)
    for pid in judged:
        judged_per[stratum(papers[pid])] += 1
    chosen: list[str] = []
    spare: list[str] = []
    for key in sorted(judged_per):
        pool = by_stratum.get(key, [])
        rng.shuffle(pool)
        quota = round(need * judged_per[key] / len(wanted))
        chosen.extend(pool[:quota])
        spare.extend(pool[quota:])
    rng.shuffle(spare)
    chosen.extend(spare[: max(0, need - len(chosen))])
    return sorted(wanted | set(chosen[:need]))


def sample_keywords(keywords: Sequence[str], rng: random.Random, k: int = KEYWORDS_PER_QUERY) -> str:
    """k distinct keywords (case-insensitively), in their original order, joined by spaces."""
    seen: dict[str, str] = {}
    for word in keywords:
        text = clean_text(word)
        if text and text.lower() not in seen:
            seen[text.lower()] = text
    picked = sorted(rng.sample(range(len(seen)), k)) if len(seen) >= k else []
    values = list(seen.values())
    return " ".join(values[i] for i in picked)


def strip_title_words(text: str, title: str) -> str:
    """`text` without any word that shares an alphanumeric part with the title (case-folded):
    "MMaDA, a multimodal diffusion model" with title "MMaDA: Multimodal Large Diffusion
    Language Models" gives "a model"."""
    banned = {w.casefold() for w in _PARTS.findall(title)}
    kept = [tok for tok in clean_text(text).split()
            if not any(w.casefold() in banned for w in _PARTS.findall(tok))]
    return " ".join(kept)


def build_titles(
    papers: dict[str, dict[str, Any]], *, queries: int, size: int, seed: int
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, str]]:
    """(corpus rows with empty titles, {qid: title}, {qid: paper id})."""
    rng = random.Random(f"titles-{seed}")
    judged = rng.sample(sorted(papers), queries)
    ids = pick_corpus(judged, papers, size, rng)
    corpus = [{"_id": pid, "title": "", "text": papers[pid]["abstract"]} for pid in ids]
    qtext = {f"t{pid}": papers[pid]["title"] for pid in judged}
    qrels = {f"t{pid}": pid for pid in judged}
    return corpus, qtext, qrels


def build_hf(
    papers: dict[str, dict[str, Any]], hf: dict[str, Any], *, queries: int, size: int, seed: int
) -> tuple[list[dict[str, str]], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """One corpus (title + abstract from arxiv-cs) and three query sets over the same judged
    papers: `summaries` (the ai_summary sentence), `descriptions` (that sentence without the
    title's words) and `keywords` (three ai_keywords)."""
    rng = random.Random(f"hf-{seed}")
    eligible = sorted(
        pid for pid, p in hf.items()
        if pid in papers and p.ai_summary and len({k.lower() for k in p.ai_keywords or []})
        >= KEYWORDS_PER_QUERY
    )
    judged = rng.sample(eligible, min(queries, len(eligible)))
    ids = pick_corpus(judged, papers, size, rng)
    corpus = [{"_id": pid, "title": papers[pid]["title"], "text": papers[pid]["abstract"]}
              for pid in ids]
    texts = {
        "summaries": {f"s{pid}": clean_text(hf[pid].ai_summary) for pid in judged},
        "descriptions": {f"d{pid}": strip_title_words(hf[pid].ai_summary, papers[pid]["title"])
                         for pid in judged},
        "keywords": {f"k{pid}": sample_keywords(hf[pid].ai_keywords, rng) for pid in judged},
    }
    # a description left with almost nothing once the title's words are out is no query
    texts["descriptions"] = {q: t for q, t in texts["descriptions"].items()
                             if len(t.split()) >= MIN_DESCRIPTION_WORDS}
    qrels = {name: {qid: qid[1:] for qid in texts[name]} for name in texts}
    return corpus, texts, qrels


_LATEX_CMD = re.compile(r"\\[A-Za-z]+\*?\s*(\{([^{}]*)\})?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def plain_text(text: str) -> str:
    """Abstract text without LaTeX markup: `\\emph{x}` -> x, `$x$` -> x, braces dropped."""
    text = _LATEX_CMD.sub(lambda m: m.group(2) or "", text)
    return clean_text(text.replace("$", "").replace("{", "").replace("}", ""))


def leading_sentences(abstract: str) -> tuple[list[str], list[str]]:
    """(the abstract's leading sentences, up to QUESTION_MIN_WORDS words and at most
    QUESTION_MAX_SENTENCES; the rest). The split is the same for every paper."""
    sentences = [s for s in _SENTENCE_END.split(plain_text(abstract)) if s]
    head: list[str] = []
    while sentences and len(head) < QUESTION_MAX_SENTENCES and \
            sum(len(s.split()) for s in head) < QUESTION_MIN_WORDS:
        head.append(sentences.pop(0))
    return head, sentences


def coined_names(title: str) -> set[str]:
    """Casefolded words a reader would not know before finding the paper: the name before a
    title's colon ("FreeEnricher: ...") and words with inner capitals or digits (LLMs, EUGens,
    GPT-4)."""
    names: set[str] = set()
    if ":" in title:
        names |= {w.casefold() for w in _PARTS.findall(title.split(":", 1)[0])
                  if len(title.split(":", 1)[0].split()) <= 3}
    return names


def strip_coined(text: str, title: str) -> str:
    """`text` without the paper's coined names, acronyms and other words that only someone who
    already knows the paper would type (inner capitals or digits), and without parenthesised
    asides emptied by that."""
    banned = coined_names(title)
    kept: list[str] = []
    for tok in text.split():
        parts = _PARTS.findall(tok)
        if not parts:
            continue
        if any(p.casefold() in banned for p in parts):
            continue
        if any(any(ch.isdigit() for ch in p) or any(ch.isupper() for ch in p[1:]) for p in parts):
            continue
        kept.append(tok)
    text = " ".join(kept).replace('"', "")  # quotes around a removed name would be left unpaired
    return re.sub(r"\(\s*\)", "", text).replace(" ,", ",").replace(" .", ".")


def build_questions(
    papers: dict[str, dict[str, Any]], *, queries: int, size: int, seed: int
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, str]]:
    """Long natural-language questions over short documents (the CACM shape): the query is a
    request frame around the leading sentences of a paper's abstract (background and problem,
    >= 30 words) with its coined names removed; every document in the corpus, the judged paper
    included, is its title plus the abstract *without those leading sentences*, and a seeded
    60% of all documents are title-only. So the query's sentences occur in no document
    (no lexical leakage), title-only is no tell, and what links a question to its paper is the
    ordinary overlap of topic words with the title (and, for 40%, the abstract's later part)."""
    rng = random.Random(f"questions-{seed}")
    eligible = sorted(pid for pid, rec in papers.items()
                      if len(leading_sentences(rec["abstract"])[0]) >= 1
                      and len(strip_coined(" ".join(leading_sentences(rec["abstract"])[0]),
                                           rec["title"]).split()) >= QUESTION_MIN_WORDS - 5)
    judged = rng.sample(eligible, min(queries, len(eligible)))
    ids = pick_corpus(judged, papers, size, rng)
    corpus = []
    for pid in ids:
        rest = " ".join(leading_sentences(papers[pid]["abstract"])[1])
        title_only = rng.random() < QUESTION_TITLE_ONLY or len(rest.split()) < 15
        corpus.append({"_id": pid, "title": papers[pid]["title"],
                       "text": "" if title_only else rest})
    qtext: dict[str, str] = {}
    for pid in judged:
        head = " ".join(leading_sentences(papers[pid]["abstract"])[0])
        frame = QUESTION_FRAMES[rng.randrange(len(QUESTION_FRAMES))]
        qtext[f"q{pid}"] = frame.format(strip_coined(head, papers[pid]["title"]))
    qrels = {qid: qid[1:] for qid in qtext}
    return corpus, qtext, qrels


def write_corpus(path: Path, rows: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same rows give the same bytes
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        for row in rows:
            fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def write_queries(path: Path, texts: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for qid, text in texts.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")


def write_qrels(path: Path, qrels: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, pid in qrels.items():
            fh.write(f"{qid}\t{pid}\t1\n")


def build(out: Path, *, shared: Path, queries: int, size: int, seed: int) -> dict[str, Any]:
    """Write every built collection under `out`; returns (and writes) a manifest of sizes."""
    papers = load_arxiv(shared / ARXIV)
    hf = load_hf(shared / HF)
    paths = collection_paths(out, shared)
    manifest: dict[str, Any] = {"seed": seed, "queries": queries, "corpus_size": size}

    corpus, qtext, qrels = build_titles(papers, queries=queries, size=size, seed=seed)
    c = paths["titles"]
    write_corpus(c.corpus, corpus)
    write_queries(c.queries, qtext)
    write_qrels(c.qrels, qrels)
    manifest["titles"] = {"documents": len(corpus), "queries": len(qtext)}

    corpus, qtext, qrels = build_questions(papers, queries=queries, size=QUESTION_CORPUS,
                                           seed=seed)
    c = paths["questions"]
    write_corpus(c.corpus, corpus)
    write_queries(c.queries, qtext)
    write_qrels(c.qrels, qrels)
    manifest["questions"] = {"documents": len(corpus), "queries": len(qtext),
                             "title_only": sum(1 for r in corpus if not r["text"])}

    corpus, texts, rels = build_hf(papers, hf, queries=queries, size=size, seed=seed)
    write_corpus(paths["summaries"].corpus, corpus)
    for name in ("summaries", "descriptions", "keywords"):
        write_queries(paths[name].queries, texts[name])
        write_qrels(paths[name].qrels, rels[name])
        manifest[name] = {"documents": len(corpus), "queries": len(texts[name])}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# -- evaluation -----------------------------------------------------------------------------
def score_collections(
    names: Sequence[str], paths: dict[str, Collection], *, cache_dir: Path, quick: bool,
    only: Sequence[str] = (), database_url: str | None = None,
) -> None:
    """One store per distinct corpus; every variant scored on each query set; one markdown
    table per collection. `database_url`: a scratch database (PostgreSQL) instead of SQLite."""
    settings = Settings()
    by_corpus: dict[Path, list[str]] = defaultdict(list)
    for name in names:
        by_corpus[paths[name].corpus].append(name)
    for corpus, group in by_corpus.items():
        t = time.perf_counter()
        with EvalStore(corpus, settings=settings, with_vectors=True, cache_dir=cache_dir,
                       database_url=database_url) as store:
            print(f"\n{corpus}: {store.documents} documents indexed and embedded "
                  f"({store.engine_name}) in "
                  f"{time.perf_counter() - t:.0f} s (load average {os.getloadavg()[0]:.1f})",
                  flush=True)
            backend = store.embedder
            backend.embed_query = functools.lru_cache(maxsize=None)(backend.embed_query)
            for name in group:
                c = paths[name]
                queries, qrels = read_queries(c.queries), read_qrels(c.qrels)
                judged = sum(1 for q in queries if q in qrels)
                print(f"\n### {name}: {store.documents} documents, {judged} judged queries\n")
                print("| mode | variant | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | Δ nDCG@10 vs default hybrid |")
                print("|---|---|---|---|---|---|---|")
                rows = []
                for mode, label, params in variants(quick, only):
                    m = evaluate(store, queries, qrels, mode=mode, params=params).metrics
                    rows.append((mode, label, m))
                ref = next(m["ndcg@10"] for mode, label, m in rows
                           if mode == "hybrid" and "(default)" in label)
                for mode, label, m in rows:
                    print(f"| {mode} | {label} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | "
                          f"{m['recall@100']:.4f} | {m['mrr@10']:.4f} | "
                          f"{m['ndcg@10'] - ref:+.4f} |", flush=True)
                print(f"\n(load average {os.getloadavg()[0]:.1f})", flush=True)


def _up_to_date(out: Path, wanted: dict[str, int]) -> bool:
    """Whether `out` already holds collections built with these settings."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(manifest.get(k) == v for k, v in wanted.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where collections are written")
    ap.add_argument("--shared", type=Path, default=SHARED, help="../shared/data")
    ap.add_argument("--collections", default=",".join(COLLECTIONS),
                    help="comma-separated subset of titles,summaries,descriptions,keywords,scifact")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                    help="document-embedding cache (keyed by model id + text hash)")
    ap.add_argument("--queries", type=int, default=600, help="judged queries per collection")
    ap.add_argument("--corpus-size", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--rebuild", action="store_true", help="rewrite the collections first")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="only the default of each mode")
    ap.add_argument("--only", default="", help="comma-separated words: only variants whose "
                    "label holds one of them (plus the defaults)")
    ap.add_argument("--database-url", default=None, help="score on this scratch database (e.g. "
                    "PostgreSQL + pgvector; filled, then emptied) instead of a temporary SQLite")
    args = ap.parse_args()
    names = [n.strip() for n in args.collections.split(",") if n.strip()]
    paths = collection_paths(args.out, args.shared)
    unknown = [n for n in names if n not in paths]
    if unknown:
        ap.error(f"unknown collection(s) {unknown}; choose from {sorted(paths)}")
    built = [n for n in names if n != "scifact"]
    wanted = {"seed": args.seed, "queries": args.queries, "corpus_size": args.corpus_size}
    missing = not all(paths[n].qrels.is_file() for n in built)
    if built and (args.rebuild or args.build_only or missing
                  or not _up_to_date(args.out, wanted)):
        t = time.perf_counter()
        manifest = build(args.out, shared=args.shared, queries=args.queries,
                         size=args.corpus_size, seed=args.seed)
        print(f"built in {time.perf_counter() - t:.1f} s under {args.out}: "
              f"{json.dumps(manifest)}", flush=True)
    if not args.build_only:
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        if only:
            only.append("(default)")
        score_collections(names, paths, cache_dir=args.cache_dir, quick=args.quick, only=only,
                          database_url=args.database_url)


if __name__ == "__main__":
    main()
