"""Where a loaded web worker's anonymous memory is: one worker in this process, part by part.

    python bench/worker_parts.py --data-dir /tmp/pf-pages-75k               # the whole load
    python bench/worker_parts.py --data-dir /tmp/pf-pages-75k --share 2     # one of 2 workers
    python bench/worker_parts.py --data-dir /tmp/pf-pages-75k --tracemalloc # Python's allocations

Serves the app in this process (uvicorn on a thread, the app built as a worker builds it), sends
bench/serve_memory.py's fixed load (with `--share N`: every Nth request, about what one of N
workers gets), trims malloc as a busy worker does (web/heap.py), then reads this process's
anonymous memory (smaps_rollup) at each stage: imported, app built, first search (the query
model loaded), after the load. Then it empties each cache the worker filled (every
`caching.BoundedCache` alive, the SQLite connections' page caches) one at a time, collects and
trims, and prints how much anonymous memory each one gave back: what the cache really held,
its allocator overhead included, which its own size accounting may not say. What remains after
all of them is code, objects built once, the model and fragmentation. `--tracemalloc` instead
prints the Python allocations alive after the load by file (slower; memory figures inflated).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import re
import sys
import threading
import time
from pathlib import Path

import pages  # bench/ is on sys.path: this file runs as a script
import serve_memory


def anon_mb() -> float:
    text = Path("/proc/self/smaps_rollup").read_text()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]
          if line.split()[-1] == "kB"}
    return kb.get("Anonymous", 0) / 1024


def name_of(obj: object) -> str:
    """owner.attribute (or module.name) of the object that holds `obj`."""
    for ref in gc.get_referrers(obj):
        if isinstance(ref, dict):
            key = next((k for k, v in ref.items() if v is obj), None)
            if key is None:
                continue
            if "__name__" in ref and "__builtins__" in ref:
                return f"{ref['__name__']}.{key}"
            for owner in gc.get_referrers(ref):
                if getattr(owner, "__dict__", None) is ref:
                    return f"{type(owner).__name__}.{key}"
            return f"dict[{key!r}]"
        if hasattr(ref, "__dict__") and not isinstance(ref, type):
            for key, val in vars(ref).items():
                if val is obj:
                    return f"{type(ref).__name__}.{key}"
    return "?"


def kind_of(entry: object) -> str:
    """What page an entry is, from its text (the cache's keys are not public)."""
    head = b"".join(p for p in entry.pieces[:3] if isinstance(p, bytes))  # type: ignore[attr-defined]
    found = re.search(rb"<title>([^<]*)</title>", head)
    title = found.group(1).decode() if found else "?"
    if "Search" in title or "search" in title:
        return "search page"
    if title.startswith("Daily Papers"):
        return "list page (" + title.split("·")[0].replace("Daily Papers", "").strip(" -:")[:20] + ")"
    return "paper page"


def hit_cost(entries: list) -> None:  # type: ignore[type-arg]
    """An anonymous hit's join of the largest entry of each kind, against joining the same page
    cut into one bytes object between CSRF tokens (the layout before pieces were shared)."""
    import timeit

    token = b"t" * 64
    largest: dict[str, object] = {}
    for entry in entries:
        if entry.anonymous is not None:
            kind = kind_of(entry)
            if kind not in largest or entry_size(entry) > entry_size(largest[kind]):
                largest[kind] = entry
    for kind, entry in sorted(largest.items()):
        page = entry.anonymous  # type: ignore[attr-defined]
        segments = b"".join(page.filled(b"\0" * 64)).split(b"\0" * 64)
        n = 3000
        shared = min(timeit.repeat(lambda p=page: b"".join(p.filled(token)), number=n,
                                   repeat=5)) / n * 1e6
        copied = min(timeit.repeat(lambda s=segments: token.join(s), number=n,
                                   repeat=5)) / n * 1e6
        print(f"  anonymous hit join, {kind}: {len(page.parts)} parts {shared:.1f} us; "
              f"as {len(segments)} copied segments {copied:.1f} us")


def entry_size(entry: object) -> int:
    from paperfeed.web.pages.cache import entry_bytes

    return entry_bytes(entry)  # type: ignore[arg-type]


def malloc_stats() -> str:
    """glibc's view (mallinfo2: in use, free inside its heaps, mmapped) and pymalloc's
    (arenas held vs bytes in live blocks), in MB."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    mi = libc.mallinfo2()
    import tempfile

    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()

    def num(label: str) -> float:
        for line in text.splitlines():
            if line.strip().startswith(label):
                return float(line.split("=")[-1].replace(",", "").strip())
        return 0.0

    mb = 2**20
    unused = next((float(line.split("=")[-1].replace(",", "")) for line in text.splitlines()
                   if "unused pools" in line), 0.0)
    return (f"glibc: heap {mi.arena / mb:.1f} MB (in use {mi.uordblks / mb:.1f}, free "
            f"{mi.fordblks / mb:.1f}), mmapped {mi.hblkhd / mb:.1f}; pymalloc: "
            f"{num('# arenas allocated current')} arenas, "
            f"{num('# bytes in allocated blocks') / mb:.1f} MB in live blocks, "
            f"{num('# bytes in available blocks') / mb:.1f} MB free in used pools, "
            f"{unused / mb:.1f} MB in unused pools")


def settle() -> tuple[float, str]:
    from paperfeed.web import heap

    gc.collect()
    heap.trim()
    return anon_mb(), malloc_stats()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/pf-pages-75k"))
    ap.add_argument("--share", type=int, default=1, help="every Nth request (one of N workers)")
    ap.add_argument("--distinct", type=int, default=300)
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args()
    paths = pages.route_paths(args.data_dir)
    cookies = pages.ensure_members(args.data_dir, 50)
    requests = serve_memory.fixed_load(paths, cookies, args.distinct)[::args.share]
    for k, v in pages.env_for(args.data_dir).items():
        if k.startswith("PAPERFEED_"):
            os.environ[k] = v
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(1)
    import uvicorn

    import paperfeed.web.api  # noqa: F401
    import paperfeed.web.pages  # noqa: F401
    from paperfeed.caching import BoundedCache
    from paperfeed.web.app import app_from_env

    hits: collections.Counter[tuple[int, bool]] = collections.Counter()
    plain_get, plain_many = BoundedCache.get, BoundedCache.get_many

    def counted_get(self, key):  # type: ignore[no-untyped-def]
        value = plain_get(self, key)
        hits[id(self), value is not None] += 1
        return value

    def counted_many(self, keys):  # type: ignore[no-untyped-def]
        keys = list(keys)
        out = plain_many(self, keys)
        hits[id(self), True] += len(out)
        hits[id(self), False] += len(keys) - len(out)
        return out

    BoundedCache.get, BoundedCache.get_many = counted_get, counted_many  # type: ignore[method-assign]
    stages = [("imported", settle())]
    from paperfeed.config import Settings
    from paperfeed.search.embed import cached_embedder

    cached_embedder(Settings(), threads=1)  # as the supervisor preloads it (web/preload.py)
    stages.append(("query model loaded", settle()))
    app = app_from_env()
    stages.append(("app built", settle()))
    modules_before = set(sys.modules)
    if args.tracemalloc:
        import tracemalloc

        built = tracemalloc.take_snapshot()
    port = pages.free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    serve_memory.load(port, [(paths["search"][-1], None)], clients=1)
    stages.append(("first search", settle()))
    if args.tracemalloc:
        import tracemalloc

        first = tracemalloc.take_snapshot()
        print("Python allocations made by the first search, by file:")
        for stat in first.compare_to(built, "filename")[:15]:
            print(f"{stat.size_diff / 2**20:7.2f} MB  {stat.traceback[0].filename}")
    t0 = time.perf_counter()
    errors = serve_memory.load(port, requests)
    stages.append((f"after {len(requests)} requests ({errors}, "
                   f"{time.perf_counter() - t0:.0f} s)", settle()))
    new_modules = sorted(set(sys.modules) - modules_before)
    print(f"{len(new_modules)} modules imported after the app was built: "
          + " ".join(new_modules))
    for name, (mb, how) in stages:
        print(f"{mb:7.1f} MB anonymous  {name}\n          {how}")
    if args.tracemalloc:
        import tracemalloc

        snap = tracemalloc.take_snapshot()
        by_file: collections.Counter[str] = collections.Counter()
        for stat in snap.compare_to(first, "filename"):
            name = stat.traceback[0].filename
            name = name.split("site-packages/")[-1].split("/mem4/")[-1]
            by_file[name] += stat.size_diff
        print(f"\nPython allocations alive after the load minus after the first search: "
              f"{sum(by_file.values()) / 2**20:.1f} MB; by file:")
        for name, size in by_file.most_common(25):
            print(f"{size / 2**20:7.2f} MB  {name}")
        total = sum(s.size for s in snap.statistics("filename"))
        print(f"all Python allocations alive: {total / 2**20:.1f} MB")
        server.should_exit = True
        return
    page_cache = getattr(app.state, "page_cache", None)
    if page_cache is not None:
        entries = page_cache.entries()
        held: dict[int, int] = {}  # each object an entry holds, counted once
        text = anonymous = members = 0
        for entry in entries:
            for piece in entry.pieces:
                held[id(piece)] = sys.getsizeof(piece)
                text += sys.getsizeof(piece) if isinstance(piece, bytes) else 0
            if entry.anonymous is not None:
                anonymous += 1
                for part in [entry.anonymous.parts, *entry.anonymous.parts]:
                    held[id(part)] = sys.getsizeof(part)
            if entry.member_base is not None:
                members += 1
                for part in [entry.member_base.page.parts, *entry.member_base.page.parts]:
                    held[id(part)] = sys.getsizeof(part)
        print(f"page cache: {len(entries)} entries ({anonymous} assembled for anonymous "
              f"visitors, {members} for members): text {text / 2**20:.1f} MB, all it holds "
              f"{sum(held.values()) / 2**20:.1f} MB; counted {page_cache.bytes / 2**20:.1f} MB")
        from paperfeed.web.pages.cache import entry_bytes

        per_kind: dict[str, list[int]] = collections.defaultdict(list)
        for entry in entries:
            per_kind[kind_of(entry)].append(entry_bytes(entry))
        for kind, sizes in sorted(per_kind.items()):
            print(f"  {kind}: {len(sizes)} entries, {sum(sizes) / len(sizes) / 1024:.0f} kB "
                  "each as counted")
        hit_cost(entries)
    caches = [o for o in gc.get_objects() if isinstance(o, BoundedCache)]
    print(f"\n{len(caches)} BoundedCache objects; emptied one at a time (largest first):")
    where = {id(c): name_of(c) for c in caches}
    rows = []
    before = settle()[0]
    for cache in sorted(caches, key=lambda c: -len(c)):
        n, size = len(cache), cache.size
        cache.clear()
        after = settle()[0]
        rows.append((before - after, where.get(id(cache), "?"), n, size, cache))
        before = after
    for freed, name, n, size, cache in sorted(rows, key=lambda r: -r[0]):
        if n:
            bound = (f"max_size {cache.max_size / 2**20:.1f} MB" if cache.max_size
                     else f"max_entries {cache.max_entries}")
            print(f"{freed:7.1f} MB  {name}: {n} entries, size {size} ({bound}); "
                  f"hits {hits[id(cache), True]}, misses {hits[id(cache), False]}")
    engine = app.state.engine
    pool = engine.pool
    print(f"SQLite pool: {pool.status()}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA shrink_memory")
    shrunk = settle()[0]
    print(f"{before - shrunk:7.1f} MB  one connection's PRAGMA shrink_memory")
    before = shrunk
    engine.dispose()
    after = settle()[0]
    print(f"{before - after:7.1f} MB  SQLite connections (engine.dispose)")
    print(f"{after:7.1f} MB anonymous left")
    print(malloc_stats())
    server.should_exit = True
    thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
