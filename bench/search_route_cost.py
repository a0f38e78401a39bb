"""What the search page and API routes cost besides the engine, in one thread (issue 11 item 4).

    python bench/search_route_cost.py --data-dir <copy of /tmp/pagecpu-75k> --passes 5
    python bench/search_route_cost.py ... --root /tmp/before     # another checkout's code
    python bench/search_route_cost.py ... --hash --auth member   # a digest of every body

The first `--n` queries of bench/pages.py's search route are searched once
(`SearchService.search`, as `shared_search` would), then the route functions are called
directly with a real Starlette `Request` and `shared_search` answered from those results: no
engine, no TestClient, no thread hop, so `process_time` is the route's own CPU (rows, marking,
items, cards, template, page cache). The card, page and API caches are emptied before each
pass (distinct queries: each page renders anew, as in the pages bench); marking
(`mark_results`, search/highlight.py) is timed apart and taken out. Printed: the median pass's
ms per request, less marking, the cyclic collector's time and young collections per request.

On a loaded machine, run two checkouts side by side (`--root` each, at the same time): both see
the same load, and the route that did not change is the control. `--hash` prints a digest of
the 200 bodies: two checkouts that must answer the same should print the same digest.
"""

from __future__ import annotations

import argparse
import collections
import gc
import hashlib
import os
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pages  # bench/ is on sys.path: this file runs as a script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--root", type=Path, default=pages.ROOT, help="the checkout to measure")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--what", default="page,api")
    ap.add_argument("--auth", choices=("anon", "member"), default="anon")
    ap.add_argument("--hash", action="store_true")
    args = ap.parse_args()
    os.environ.update(pages.env_for(args.data_dir, args.root))
    sys.path.insert(0, str(args.root))
    from starlette.requests import Request

    import paperfeed.web.api.search as api_mod
    import paperfeed.web.pages.search as page_mod
    import paperfeed.web.searching as searching
    from paperfeed.config import Settings
    from paperfeed.web.app import create_app

    if not str(searching.__file__).startswith(str(args.root)):
        sys.exit(f"bench: imported {searching.__file__}, not {args.root}'s")
    paths = pages.route_paths(args.data_dir)
    queries = [urllib.parse.unquote(p.split("q=", 1)[1])
               for p in paths["search"][: args.n + 60]]
    app = create_app(Settings())

    class _Req:
        pass

    _Req.app = app  # type: ignore[attr-defined]
    service = searching.search_service(_Req())  # type: ignore[arg-type]
    stored = {q: service.search(q, limit=searching.SHARED_DEPTH)
              for q in {*queries, *(q[:250] for q in queries)}}

    def answered(_request: Any, q: str, *, filters: Any, limit: int) -> Any:
        r = stored[q]
        if len(r.hits) <= limit:
            return r
        return searching.SearchResult(query=r.query, hits=r.hits[:limit], mode=r.mode,
                                      used=r.used, notes=r.notes, total=r.total,
                                      total_exact=r.total_exact, limited=r.limited)

    page_mod.shared_search = answered  # type: ignore[assignment]
    api_mod.shared_search = answered  # type: ignore[assignment]
    marking = [0.0]
    for mod in (searching, api_mod):
        def timed(*a: Any, _fn: Any = mod.mark_results, **k: Any) -> Any:
            t0 = time.process_time()
            try:
                return _fn(*a, **k)
            finally:
                marking[0] += time.process_time() - t0
        mod.mark_results = timed  # type: ignore[attr-defined]
    collected: collections.Counter[Any] = collections.Counter()
    started = [0.0]

    def collector(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            collected["ms"] += (time.process_time() - started[0]) * 1000
            collected[info["generation"]] += 1

    gc.callbacks.append(collector)
    if args.auth == "member":
        cookies = [f"pf_session={c}; pf_csrf=benchvisitor{i:04d}xxxxxxxxxxxxxxx"
                   for i, c in enumerate(pages.ensure_members(args.data_dir, 50))]
    else:
        cookies = [f"pf_csrf=benchvisitor{i:04d}xxxxxxxxxxxxxxx" for i in range(50)]

    def request(path: str, q: str, cookie: str) -> Request:
        return Request({
            "type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": urllib.parse.urlencode({"q": q}).encode(),
            "headers": [(b"cookie", cookie.encode()), (b"host", b"testserver")], "app": app,
            "client": ("127.0.0.1", 1), "server": ("testserver", 80), "scheme": "http",
            "state": {}})

    def one(what: str, q: str, i: int) -> bytes:
        if what == "page":
            r = page_mod.search_page(request("/search", q, cookies[i % 50]), q=q, cat="",
                                     date_from="", date_to="", featured=False, code=False, p=0)
        else:
            r = api_mod.search_papers(request("/api/papers/search", q[:250], cookies[i % 50]),
                                      q=q[:250], limit=50, cat=None, date_from=None,
                                      date_to=None, featured=False, code=False)
        return bytes(r.body)

    def reset() -> None:
        app.state.card_cache = app.state.page_cache = app.state.search_api_cache = None

    for what in args.what.split(","):  # warm: templates, stems, slot forms
        for i, q in enumerate(queries[args.n:]):
            one(what, q, i)
    gc.collect()
    gc.freeze()  # as a started worker does (web/app.py collect_less)
    measured = queries[: args.n]
    for what in args.what.split(","):
        if args.hash:
            reset()
            digest = hashlib.sha256()
            for i, q in enumerate(measured):
                digest.update(one(what, q, i))
            print(f"{args.root.name} {what} {args.auth} sha256 {digest.hexdigest()[:16]}")
        runs = []
        for _ in range(args.passes):
            reset()
            marking[0] = 0.0
            collected.clear()
            t0 = time.process_time()
            for i, q in enumerate(measured):
                one(what, q, i)
            n = len(measured)
            runs.append(((time.process_time() - t0) * 1000 / n, marking[0] * 1000 / n,
                         collected["ms"] / n, collected[0] / n))
        runs.sort()
        total, marked, gc_ms, young = runs[len(runs) // 2]
        print(f"{args.root.name:>14} {what:<4} {args.auth}: {total:.3f} ms per request, "
              f"{total - marked:.3f} less marking | collector {gc_ms:.3f} ms, {young:.2f} young "
              f"collections per request (median of {len(runs)} passes)", flush=True)


if __name__ == "__main__":
    main()
