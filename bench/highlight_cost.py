"""What highlighting a search page costs, part by part, replayed on real results (issue 11).

    python bench/highlight_cost.py --data-dir /tmp/pf-pages-75k            # parts, CPU per page
    python bench/highlight_cost.py --data-dir ... --results /tmp/hl.pickle  # keep the results

Takes the search route's first 200 queries of bench/pages.py (titles, first sentences, keyword
triples drawn from the catalog), searches each once (`SearchService.search`, as the page), and
keeps the titles and abstracts of the 50 results a page shows. Then, in this process, one
thread, CPU time (`time.process_time`):

- `mark_results` per page as the search page calls it (HTML, 320-character snippets) and as the
  API then calls it for the same query (TeX source: the page built the query's highlighter);
- the same work split into its parts, each timed on its own over all pages: the texts'
  whitespace check, building the query's highlighter (its words' stems), the candidate scan,
  the verdicts (the stems of words not seen before, through the index's stemmer), titles
  marked, snippet windows and their marking.

With `--before ROOT` (another checkout, e.g. main before a change), that checkout's
search/highlight.py and texmath.py are loaded beside this one's and both are timed in
alternating passes of the same pages, in this process: an A/B that the machine's load does
not tilt.

The worker's state is a live one's: the word -> stem cache warmed by the pages of 200 other
queries first and put back as it was before each pass, the per-query highlighters emptied
(every query is new, as in the pages bench, and brings its new words); `--cold` starts from
an empty stem cache. Each figure is the best of `--passes`.

A live worker runs the engine (FTS5 pages, the query embedding, vectors) between two pages'
marking, so the marking finds the CPU caches cold: `--cold-caches` touches 64 MB (twice the
L3 cache of the bench machine) before each page, times each page's marking alone (thread CPU),
also by the query's length (how many stem prefixes the scan looks for), and with `--before`
does its A/B that way; in-process, hot, the same pages cost a third less.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pages  # bench/ is on sys.path: this file runs as a script

Page = tuple[Any, list[tuple[str, str]]]  # (parsed query, [(title, abstract)] of its results


def load_pages(data_dir: Path, n: int, cache: Path | None) -> tuple[list[Page], list[Page]]:
    """(the measured pages, the warm-up pages): each query's parsed form and shown results."""
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            measured, warm = pickle.load(f)
        return measured, warm
    os.environ.update(pages.env_for(data_dir))
    sys.path.insert(0, str(pages.ROOT))
    from paperfeed.config import Settings
    from paperfeed.search.hybrid import SearchService
    from paperfeed.storage.db import connect
    from paperfeed.storage.search import papers_by_ids
    from paperfeed.web.searching import SHARED_DEPTH

    settings = Settings()
    engine = connect(settings)
    service = SearchService(engine, settings)
    paths = pages.route_paths(data_dir)["search"]
    queries = [urllib.parse.unquote(p.split("q=", 1)[1]) for p in paths[: 2 * n]]
    out: list[Page] = []
    for q in queries:
        result = service.search(q, limit=SHARED_DEPTH)
        ids = [h.paper_id for h in result.hits[: settings.page_size]]
        with engine.connect() as conn:
            rows = papers_by_ids(conn, ids, columns=("id", "title", "abstract"))
        out.append((result.query, [(rows[i]["title"], rows[i]["abstract"])
                                   for i in ids if i in rows]))
    measured, warm = out[:n], out[n:]
    if cache is not None:
        with cache.open("wb") as f:
            pickle.dump((measured, warm), f)
    return measured, warm


def best_of(passes: int, reset: Callable[[], None], run: Callable[[], None]) -> float:
    """The lowest CPU seconds of `passes` runs of `run`, `reset` before each."""
    best = float("inf")
    for _ in range(passes):
        reset()
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best


def load_other(root: Path) -> Any:
    """`root`'s search/highlight.py, with its own texmath.py, as a module beside ours."""
    import importlib.util

    def load(name: str, path: Path) -> Any:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    tex = load("before_texmath", root / "paperfeed" / "texmath.py")
    highlight = load("before_highlight", root / "paperfeed" / "search" / "highlight.py")
    highlight.texmath = tex
    return highlight


_BUFFER: list[Any] = []


def cool() -> None:
    """Evict the CPU caches as a live worker's engine does between two pages (touch 64 MB)."""
    if not _BUFFER:
        import numpy as np

        _BUFFER.append(np.ones(64 * 1024 * 1024 // 8))
    buffer = _BUFFER[0]
    buffer.sum()
    buffer[::8] += 1  # written too: dirty lines, as the engine's allocations leave them


def timed_pages(module: Any, pages: list[Page], stem: Any, width: int, source: bool,
                cold: bool) -> list[float]:
    """Thread CPU seconds of each page's `mark_results` (caches cooled first if `cold`)."""
    out = []
    for query, papers in pages:
        if cold:
            cool()
        t0 = time.thread_time()
        module.mark_results(query, stem, papers, width=width, source=source)
        out.append(time.thread_time() - t0)
    return out


def ab(root: Path, measured: list[Page], warm: list[Page], stem: Any, width: int,
       passes: int, cold: bool = False) -> None:
    """Page, then API, marking of every page by `root`'s code and by ours, alternating."""
    from paperfeed.search import highlight as ours

    sides = {"before": load_other(root), "after": ours}
    warmed = {}
    for name, module in sides.items():
        module._STEMS.clear()
        for query, papers in warm:
            module.mark_results(query, stem, papers, width=width)
        cache = module._stem_cache(stem)
        warmed[name] = cache.get_many(list(cache._data))
    spent: dict[tuple[str, bool], list[float]] = {
        (name, api): [] for name in sides for api in (False, True)}
    for k in range(passes):
        order = list(sides.items()) if k % 2 == 0 else list(sides.items())[::-1]
        for name, module in order:
            module._RECENT.clear()
            cache = module._stem_cache(stem)
            cache.clear()
            cache.put_many(warmed[name])
            for api in (False, True):
                spent[(name, api)].append(
                    sum(timed_pages(module, measured, stem, width, api, cold)))
    n = len(measured)
    for api in (False, True):
        b = sorted(spent[("before", api)])[passes // 2] * 1000 / n
        a = sorted(spent[("after", api)])[passes // 2] * 1000 / n
        label = ("API after the page" if api else "page") + (", cold" if cold else "")
        print(f"A/B {label:<26} before {b:6.3f} ms, after {a:6.3f} ms per page "
              f"(median of {passes} alternating passes): {a / b:.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--results", type=Path, help="pickle of the results (made if missing)")
    ap.add_argument("--cold", action="store_true", help="empty the stem cache before passes")
    ap.add_argument("--before", type=Path, help="another checkout to A/B against")
    ap.add_argument("--cold-caches", action="store_true",
                    help="touch 64 MB before each page, as the engine does live")
    args = ap.parse_args()
    measured, warm = load_pages(args.data_dir, args.queries, args.results)
    os.environ.update(pages.env_for(args.data_dir))
    sys.path.insert(0, str(pages.ROOT))
    from paperfeed import texmath
    from paperfeed.config import Settings
    from paperfeed.search import highlight as hl
    from paperfeed.storage.db import connect
    from paperfeed.storage.stems import stemmer_for
    from paperfeed.web.searching import SNIPPET_WIDTH

    stem = stemmer_for(connect(Settings()))
    width = SNIPPET_WIDTH
    n = len(measured)

    def warm_up() -> None:
        hl._STEMS.clear()
        for query, papers in warm:
            hl.mark_results(query, stem, papers, width=width)

    warm_up()
    cache = hl._stem_cache(stem)
    stems_warm = {} if args.cold else cache.get_many(list(cache._data))

    def reset() -> None:  # every pass meets the measured queries' new words anew
        hl._RECENT.clear()
        cache.clear()
        cache.put_many(stems_warm)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000 / n:7.3f} ms"

    def page_marks() -> None:
        for query, papers in measured:
            hl.mark_results(query, stem, papers, width=width)

    def page_then_api() -> None:
        for query, papers in measured:
            hl.mark_results(query, stem, papers, width=width)
            hl.mark_results(query, stem, papers, width=width, source=True)

    if args.before is not None:
        ab(args.before, measured, warm, stem, width, args.passes, cold=args.cold_caches)
    if args.cold_caches:
        cold_caches(measured, stem, width, args.passes, reset)
        return
    page = best_of(args.passes, reset, page_marks)
    both = best_of(args.passes, reset, page_then_api)
    texts = sum(len(p) for _, p in measured) * 2
    print(f"{n} pages, {texts} texts, stem cache {'cold' if args.cold else 'warm'}; "
          f"CPU per page, best of {args.passes}:")
    print(f"  mark_results, page (HTML)            {ms(page)}")
    print(f"  mark_results, then the API (source)  {ms(both - page)}")

    # -- the parts, each over all pages, in the order mark_results does them -------------
    raw = [[t for pair in papers for t in map(str, pair)] for _, papers in measured]
    normal = [hl._single_spaced_all(ts) for ts in raw]
    parts: dict[str, float] = {}
    parts["whitespace check"] = best_of(args.passes, reset, lambda: [
        hl._single_spaced_all(ts) for ts in raw])
    lighters: list[Any] = []

    def build() -> None:
        lighters[:] = [hl.highlighter(q, stem) for q, _ in measured]

    parts["query highlighter (query's stems)"] = best_of(args.passes, reset, build)
    def verdicts_reset() -> None:
        for h in lighters:
            h._verdicts.clear()
        cache.clear()
        cache.put_many(stems_warm)

    spans: list[list[list[tuple[int, int]]]] = []

    def scan() -> None:
        spans[:] = [h.spans_many(ts) for h, ts in zip(lighters, normal, strict=True)]

    parts["spans (scan, verdicts, new stems)"] = best_of(args.passes, verdicts_reset, scan)
    calls = [0, 0]
    stem_cpu = [0.0]

    def counting(words: Any) -> list[str]:
        calls[0] += 1
        calls[1] += len(words)
        t0 = time.process_time()
        try:
            return stem(words)
        finally:
            stem_cpu[0] += time.process_time() - t0

    verdicts_reset()
    for h, ts in zip(lighters, normal, strict=True):
        h._stem = counting
        h.spans_many(ts)
        h._stem = stem
    parts["  of which the stemmer's calls"] = stem_cpu[0]
    plain = [[texmath.is_plain(t) for t in ts] for ts in normal]
    parts["is_plain checks"] = best_of(args.passes, lambda: None, lambda: [
        [texmath.is_plain(t) for t in ts] for ts in normal])

    def titles(source: bool) -> Callable[[], None]:
        def run() -> None:
            for ts, ss in zip(normal, spans, strict=True):
                for k in range(0, len(ts), 2):
                    texmath.marked_html(ts[k], ss[k], source=source, ordered=True)
        return run

    def snippets(source: bool) -> Callable[[], None]:
        def run() -> None:
            for ts, ss in zip(normal, spans, strict=True):
                for k in range(1, len(ts), 2):
                    texmath.marked_snippet(ts[k], ss[k], width=width, source=source,
                                           ordered=True)
        return run

    parts["titles marked (page)"] = best_of(args.passes, lambda: None, titles(False))
    parts["snippets windowed + marked (page)"] = best_of(args.passes, lambda: None,
                                                         snippets(False))
    parts["titles marked (API)"] = best_of(args.passes, lambda: None, titles(True))
    parts["snippets windowed + marked (API)"] = best_of(args.passes, lambda: None,
                                                        snippets(True))
    for name, seconds in parts.items():
        print(f"  {name:<36} {ms(seconds)}")
    maths = sum(1 for ps in plain for p in ps if not p)
    print(f"  ({calls[1] / n:.1f} new words stemmed per page in {calls[0] / n:.2f} calls; "
          f"{maths / n:.1f} of {texts / n:.0f} texts per page hold math or TeX markup; "
          f"{sum(len(s) for ss in spans for s in ss) / n:.0f} marked words per page)")


def cold_caches(measured: list[Page], stem: Any, width: int, passes: int,
                reset: Callable[[], None]) -> None:
    """Each page's marking with the caches hot and cooled, overall and by query length."""
    from paperfeed.search import highlight as hl

    prefixes = [len(hl.Highlighter(hl.query_words(q), stem)._prefixes) for q, _ in measured]
    groups = {"1-3": [k for k, p in enumerate(prefixes) if p <= 3],
              "4-7": [k for k, p in enumerate(prefixes) if 3 < p <= 7],
              "8+": [k for k, p in enumerate(prefixes) if p > 7]}
    print(f"{len(measured)} pages, thread CPU per page's mark_results, median of {passes} "
          "passes (hot: one page after another; cold: 64 MB touched before each):")
    for source in (False, True):
        for cold in (False, True):
            runs = []
            for _ in range(passes):
                reset()
                runs.append(timed_pages(hl, measured, stem, width, source, cold))
            runs.sort(key=sum)
            each = runs[passes // 2]
            by = "  ".join(f"{name} prefixes ({len(ks)}): "
                           f"{sum(each[k] for k in ks) * 1000 / max(len(ks), 1):.3f}"
                           for name, ks in groups.items())
            print(f"  {'API ' if source else 'page'} {'cold' if cold else 'hot '} "
                  f"{sum(each) * 1000 / len(each):7.3f} ms   by query: {by}")


if __name__ == "__main__":
    main()
