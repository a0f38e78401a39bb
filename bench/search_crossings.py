"""Count the calls that cross from `paperfeed/search/` into `paperfeed/storage/` for one query.

    python bench/search_crossings.py [--data-dir DIR]

A search should ask the database layer a few precise questions, not bounce between the two
packages. This script loads the 40 test papers (tests/fixtures/search) into a fresh SQLite store,
embeds them with the bundled model, warms the service up (model loaded, caches filled), then runs
each query once under `sys.setprofile` and counts every call whose caller's code is in
paperfeed/search/ and whose callee's code is in paperfeed/storage/ (each distinct function
named; properties of the value types passed between them, such as `SearchFilters.active`,
are not counted). Runs on any checkout (it only uses `SearchService`, `index_papers` and the fixtures), so
the same command measures the code before and after a change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = {
    "words": "diffusion language models",
    "words + filters": "language models cat:cs.CL year:2025..2026",
    "phrase + author + exclusion": '"voice cloning" author:Christop -speech',
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    from paperfeed.config import Settings
    from paperfeed.models import Author, Paper
    from paperfeed.search.hybrid import SearchService
    from paperfeed.search.indexing import index_papers
    from paperfeed.storage.db import connect, migrate, write
    from paperfeed.storage.papers import upsert_papers

    root = args.data_dir or Path(tempfile.mkdtemp(prefix="crossings-"))
    settings = Settings(data_dir=root, environment="development")
    engine = connect(settings)
    migrate(engine)
    rows = [json.loads(line) for line in (ROOT / "tests" / "fixtures" / "search" /
                                          "arxiv_cs_40.jsonl").read_text().splitlines()]
    papers = [Paper(id=r["id"], title=r["title"], abstract=r["abstract"],
                    authors=[Author(name=a) for a in r["authors"]], categories=r["categories"],
                    published_at=datetime.fromisoformat(r["listing_date"]), source="bench")
              for r in rows]
    with write(engine) as conn:
        upsert_papers(conn, papers, now=datetime(2026, 1, 1))
    index_papers(engine, settings)
    search_dir = str(ROOT / "paperfeed" / "search")
    storage_dir = str(ROOT / "paperfeed" / "storage")
    seen: Counter[str] = Counter()
    active = threading.Event()

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or not active.is_set():
            return
        callee = frame.f_code.co_filename
        caller = frame.f_back.f_code.co_filename if frame.f_back else ""
        if callee.startswith(storage_dir) and caller.startswith(search_dir):
            if Path(callee).name == "request.py" or frame.f_code.co_name == "active":
                return  # properties of value types (KeywordRequest, SearchFilters): no I/O
            seen[f"{Path(callee).stem}.{frame.f_code.co_name}"] += 1

    threading.setprofile(profile)  # before the pool exists: its threads are profiled too
    sys.setprofile(profile)
    service = SearchService(engine, settings)
    runs = [("cold: first query of a process", QUERIES["words + filters"]), *QUERIES.items()]
    for n, (label, text) in enumerate(runs):
        if n == 1:
            for warm in QUERIES.values():  # model, index and per-process caches loaded
                service.search(warm)
        seen.clear()
        active.set()
        service.search(text)
        active.clear()
        calls = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(seen.items()))
        print(f"{label:<28} {sum(seen.values()):>3} calls: {calls}")
    sys.setprofile(None)


if __name__ == "__main__":
    main()
