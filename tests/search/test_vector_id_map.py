"""The vector files' id map (numpy arrays, binary search) finds the same rows as the Python
dict it replaced, on real arXiv ids, through replacements, removals, reloads and odd ids."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from paperfeed.storage.vectors.files import VectorFiles
from tests.conftest import REPO_ROOT

DIM = 8
SAMPLE = REPO_ROOT.parent / "shared" / "data" / "arxiv-cs" / "sample_5000.jsonl.gz"


def real_ids(n: int) -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["id"] for line, _ in zip(fh, range(n), strict=False)]


def vecs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal((n, DIM)).astype(np.float32)


class Reference:
    """What the files held before: the last row written for an id, unless tombstoned."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.row_of: dict[str, int] = {}

    def add(self, ids: list[str]) -> None:
        last = {pid: i for i, pid in enumerate(ids)}
        for i in sorted(last.values()):
            self.row_of[ids[i]] = len(self.rows)
            self.rows.append(ids[i])

    def remove(self, ids: list[str]) -> None:
        for pid in ids:
            self.row_of.pop(pid, None)


def check(files: VectorFiles, ref: Reference, probes: list[str]) -> None:
    st = files._state
    assert st.live_ids() == ref.row_of
    assert len(files) == len(ref.row_of)
    for pid in probes:
        assert st.row(pid) == ref.row_of.get(pid), pid
        assert (pid in files) == (pid in ref.row_of)
    want = [ref.row_of[p] for p in probes if p in ref.row_of]
    assert st.rows_of(probes).tolist() == want
    for pid, row in ref.row_of.items():
        assert st.id_at(row) == pid


def odd_probes(ids: list[str]) -> list[str]:
    """Ids that are not stored but look like ones that are: prefixes, extensions, NUL-padded,
    longer than any stored, non-ASCII, empty."""
    a = ids[0]
    return [a[:-1], a + "0", a + "\0", "\0", "", "x" * 200, "2401.0001é", "ü", a.upper(),
            " " + a, a + " "]


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/data")
def test_rows_match_a_dict_on_real_ids_through_writes_and_reloads(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ids = real_ids(3000)
    files = VectorFiles(tmp_path / "v", "m", DIM)
    ref = Reference()
    files.add(ids[:2000], vecs(rng, 2000))
    ref.add(ids[:2000])
    probes = ids[:50] + ids[2000:2050] + odd_probes(ids)
    check(files, ref, probes)
    # replace some, add new ones (with a duplicate inside one batch), remove some
    batch = ids[10:30] + ids[2000:2500] + [ids[2000]]
    files.add(batch, vecs(rng, len(batch)))
    ref.add(batch)
    files.remove(ids[40:60] + ["not-stored"])
    ref.remove(ids[40:60])
    check(files, ref, probes)
    # a removed id comes back; a longer id than any widens the map
    files.add(ids[45:47] + ["cs/0101001v1-a-longer-id"], vecs(rng, 3))
    ref.add(ids[45:47] + ["cs/0101001v1-a-longer-id"])
    check(files, ref, probes + ["cs/0101001v1-a-longer-id", "cs/0101001v1"])
    # another process reading the same files, fresh and after an incremental reload
    fresh = VectorFiles(tmp_path / "v", "m", DIM)
    check(fresh, ref, probes)
    files.add(ids[2500:], vecs(rng, 500))
    ref.add(ids[2500:])
    files.remove(ids[:5])
    ref.remove(ids[:5])
    fresh.refresh()
    check(fresh, ref, probes + ids[2990:])
    assert (fresh._state.alive == VectorFiles(tmp_path / "v", "m", DIM)._state.alive).all()


def test_search_answers_paper_ids_with_odd_characters(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ids = ["2401.00001", "hep-th/9901001", "ünïcode-id", "a" * 40, "tab-free id with spaces"]
    m = vecs(rng, len(ids))
    files = VectorFiles(tmp_path / "v", "m", DIM)
    files.add(ids, m)
    for i, pid in enumerate(ids):
        assert files.search(m[i], 1)[0][0] == pid
        assert files.search(m[i], 5, allowed_ids=[pid, "missing"])[0][0] == pid
        assert files.vector(pid) is not None
    assert files.vector("2401.0000") is None and files.vector("2401.00001\0") is None
    assert files.search(m[0], 3, allowed_ids=["nope", "2401.000011"]) == []


def test_an_empty_index_finds_nothing(tmp_path: Path) -> None:
    files = VectorFiles(tmp_path / "v", "m", DIM)
    assert files._state.row("x") is None and files._state.rows_of(["x", ""]).size == 0
    assert "x" not in files and files.remove(["x"]) == 0 and len(files) == 0
