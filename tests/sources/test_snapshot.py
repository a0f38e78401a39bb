"""JSON-lines snapshots: arxiv-cs crawl lines and Kaggle metadata-snapshot lines."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.sources.snapshot import import_file, parse_line
from paperfeed.storage.papers import get_paper
from tests.conftest import FIXTURES

SNAP = FIXTURES / "snapshot"


def lines(name: str) -> list[bytes]:
    return (SNAP / name).read_bytes().splitlines()


def test_arxiv_cs_line_is_cleaned_and_keeps_latex() -> None:
    paper = parse_line(lines("arxiv_cs_sample.jsonl")[0])
    assert paper.id == "2212.09525" and paper.version is None
    assert paper.title == "FreeEnricher: Enriching Face Landmarks without Additional Cost"
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.abstract.startswith("Recent years have witnessed significant growth of face")
    assert paper.categories == ["cs.CV", "cs.AI", "cs.GR", "cs.IR", "cs.LG"]
    assert paper.primary_category == "cs.CV" and paper.comment == "AAAI 2023"
    # listed 2025-06-30 but submitted 2022-12: the id's month, not the listing day
    assert paper.published_at == datetime(2022, 12, 1)
    latex = [parse_line(x) for x in lines("arxiv_cs_sample.jsonl") if b"$" in x]
    assert latex and all("$" in p.abstract for p in latex)


def test_arxiv_cs_new_paper_is_published_on_its_listing_day() -> None:
    raws = [json.loads(x) for x in lines("arxiv_cs_sample.jsonl")]
    fresh = [r for r in raws if r["id"][:4] == r["listing_date"][2:4] + r["listing_date"][5:7]]
    assert fresh
    for raw in fresh:
        paper = parse_line(json.dumps(raw).encode())
        assert paper.published_at == datetime.fromisoformat(raw["listing_date"])


def test_kaggle_snapshot_line_maps_versions_authors_and_refs() -> None:
    paper = parse_line(lines("kaggle_snapshot_sample.json")[0])
    assert paper.id == "0704.0001" and paper.version == 2
    assert paper.title.startswith("Calculation of prompt diphoton production cross sections")
    assert [a.name for a in paper.authors][:2] == ["C. Balázs", "E. L. Berger"]
    assert paper.categories == ["hep-ph"] and paper.primary_category == "hep-ph"
    assert paper.published_at == datetime(2007, 4, 2, 19, 18, 42)
    assert paper.updated_at == datetime(2007, 7, 24, 20, 10, 27)
    assert paper.journal_ref == "Phys.Rev.D76:013009,2007"
    assert paper.doi == "10.1103/PhysRevD.76.013009"
    old = parse_line(lines("kaggle_snapshot_sample.json")[1])
    assert old.id == "hep-th/9901001" and old.categories == ["hep-th", "math.QA"]


def test_malformed_lines_are_reported_by_number_and_good_lines_kept(engine, tmp_path: Path) -> None:
    good = lines("arxiv_cs_sample.jsonl")
    path = tmp_path / "mixed.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(good[0] + b"\n")
        out.write(b'{"id": "2401.00001", "title": \n')  # line 2: truncated JSON
        out.write(good[1] + b"\n")
        out.write(b"\n")  # blank line 4: ignored
        out.write(b'{"id": "nonsense", "title": "x"}\n')  # line 5
        out.write(b'["a list"]\n')  # line 6
        out.write(good[2] + b"\n")
    summary = import_file(engine, path)
    assert summary.new == 3 and summary.rejected == 3
    assert summary.errors[0].startswith("jsonl: mixed.jsonl.gz line 2: not JSON")
    assert summary.errors[1] == "jsonl: mixed.jsonl.gz line 5: id 'nonsense' is not an arXiv id; skipped"
    assert summary.errors[2].startswith("jsonl: mixed.jsonl.gz line 6: expected a JSON object")


def test_second_import_changes_nothing(engine) -> None:
    first = import_file(engine, SNAP / "arxiv_cs_sample.jsonl")
    assert first.new == len(lines("arxiv_cs_sample.jsonl")) and first.rejected == 0
    second = import_file(engine, SNAP / "arxiv_cs_sample.jsonl")
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.new)
    with engine.connect() as conn:
        row = get_paper(conn, "2212.09525")
        assert row is not None and row["authors"][0] == {"name": "Yangyu Huang", "hf_user": None}
        assert row["source"] == "snapshot"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_value_error(data: bytes) -> None:
    try:
        parse_line(data)
    except ValueError:
        pass


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=15)
records = st.dictionaries(
    st.sampled_from(["id", "title", "abstract", "authors", "categories", "versions",
                     "authors_parsed", "listing_date", "comments", "primary_category"]),
    st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["version", "created"]), c, max_size=2), max_leaves=8),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(records)
def test_arbitrary_records_raise_only_value_error(record: dict) -> None:
    try:
        parse_line(json.dumps(record).encode())
    except ValueError:
        pass
