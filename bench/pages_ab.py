"""Two checkouts' live servers A/B'd in one run, turn by turn (issue 11; bench/README "what
every search request pays outside the engine").

On a loaded machine a before-then-after run (`bench/pages.py --compare`) measures each side
under a different load. Here both `paperfeed serve --workers 2` run at once, and short wrk
turns (1 client, anonymous) alternate between them route by route, the order flipped every
round; the server CPU per request (from /proc, both sides' processes) is summed per side:

    python bench/pages_ab.py --data-dir /tmp/pf-pages-75k --before /tmp/pages-before \\
        --rounds 6 --seconds 4 --routes search-api search paper

`--before` is another checkout with its own `.venv` (as for `pages.py --compare`; its copy of
the catalog is migrated down to its schema). The catalog is bench/pages.py's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pages
from serve_bench import cpu_seconds  # bench/ is on sys.path: this file runs as a script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--before", type=Path, required=True, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--routes", nargs="+", default=["search-api", "search"],
                    choices=[r for r in pages.ROUTES if r not in pages.MEMBER_ONLY])
    ap.add_argument("--auth", choices=("anon", "member"), default="anon",
                    help="member: each request carries the next of the bench members' "
                    "session cookies (as bench/pages.py's signed-in runs)")
    args = ap.parse_args()
    paths = pages.route_paths(args.data_dir)
    sides = {"before": pages.env_for(pages.compare_copy(args.data_dir, args.before),
                                     args.before),
             "after": pages.env_for(args.data_dir)}
    anon = [f"pf_csrf=benchvisitor{k:04d}xxxxxxxxxxxxxxx" for k in range(50)]
    if args.auth == "member":  # sessions live in the database: the before copy has them too
        sessions = pages.ensure_members(args.data_dir, 50)
        anon = [f"pf_session={c}; {anon[i % 50]}" for i, c in enumerate(sessions)]
    servers = {}
    try:
        for name, env in sides.items():
            servers[name] = pages.start_server(env, 2)
        for _proc, port in servers.values():
            for route in args.routes:
                pages.warm(port, paths[route], anon[0], n=30)
        spent = {(name, route): [0.0, 0] for name in servers for route in args.routes}
        for i in range(args.rounds):
            order = list(servers.items())
            order = order if i % 2 == 0 else order[::-1]
            for route in args.routes:
                for name, (proc, port) in order:
                    pids = pages.tree(proc.pid)
                    cpu0 = cpu_seconds(pids)
                    run = pages.run_wrk(port, paths[route], anon, args.seconds, 1, seed=i)
                    spent[(name, route)][0] += cpu_seconds(pids) - cpu0
                    spent[(name, route)][1] += int(run["requests"])
        print(f"\n== {args.before} -> this checkout, {args.rounds} rounds of {args.seconds} s, "
              f"1 client, {args.auth}, load average {os.getloadavg()[0]:.1f}")
        for route in args.routes:
            (b_cpu, b_n), (a_cpu, a_n) = spent[("before", route)], spent[("after", route)]
            before, after = b_cpu * 1000 / max(b_n, 1), a_cpu * 1000 / max(a_n, 1)
            print(f"{route:<11} server CPU per request: before {before:6.2f} ms ({b_n} req)  "
                  f"after {after:6.2f} ms ({a_n} req)  ratio {after / before:.3f}", flush=True)
    finally:
        for proc, _port in servers.values():
            pages.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
