"""`GET /api/suggest?q=` : titles and authors for the search box, as the user types.

From the keyword index (`storage/suggest.py`): the 40 newest candidate papers for the title
side and the 120 newest for the author side, ranked here in Python — titles that start with
the typed text first, then by upvotes and recency; authors by how many of the candidates they
wrote. Measured by `bench/suggest.py` (p95 under 30 ms at 75k papers is the target). Answers
are cached per worker for a few seconds: many visitors' keystrokes repeat the same prefixes.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed.caching import BoundedCache
from paperfeed.storage import suggest as store
from paperfeed.storage.authors import name_key
from paperfeed.texmath import plain_text
from paperfeed.web.api.json import json_response
from paperfeed.web.cards import author_url

router = APIRouter(tags=["search"])
MAX_TITLES = 6
MAX_AUTHORS = 4
MIN_PREFIX = 2
CACHE_SECONDS = 10.0
# {(app, the typed words): answer}; shared by the worker's apps, told apart by id(app)
_CACHE: BoundedCache[tuple[int, str], dict[str, Any]] = BoundedCache(
    ttl=CACHE_SECONDS, max_entries=2048)


def rank_titles(rows: list[Any], words: list[str], typed: str) -> list[dict[str, str]]:
    """Titles: starts with what was typed > has every word > upvotes > newest."""
    wanted = typed.strip().lower()
    scored = []
    for i, row in enumerate(rows):
        title = plain_text(str(row["title"]))
        low = title.lower()
        starts = low.startswith(wanted)
        scored.append(((not starts, -(row["upvotes"] or 0), i), row["id"], title))
    scored.sort(key=lambda x: x[0])
    return [{"id": pid, "title": title, "url": f"/papers/{pid}"}
            for _key, pid, title in scored[:MAX_TITLES]]


def rank_authors(rows: list[Any], words: list[str]) -> list[dict[str, Any]]:
    """Authors among the candidates whose name words start with the typed words."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for row in rows:
        for name in (n.strip() for n in str(row["authors_text"] or "").split(";")):
            if not name:
                continue
            key = name_key(name)
            parts = key.split()
            if all(any(p.startswith(w) for p in parts) for w in words):
                counts[key] += 1
                shown.setdefault(key, name)
    return [{"name": shown[k], "papers": n, "url": author_url(shown[k])}
            for k, n in counts.most_common(MAX_AUTHORS)]


def suggestions(request: Request, q: str) -> dict[str, Any]:
    words = store.words_of(q)
    if not words or (len(words) == 1 and len(words[0]) < MIN_PREFIX):
        return {"query": q, "papers": [], "authors": []}
    key = (id(request.app), " ".join(words))
    hit = _CACHE.get(key)
    if hit is not None:
        return {**hit, "query": q}
    with request.app.state.engine.connect() as conn:
        titles = store.candidates(conn, words, field="title", pool=40)
        people = store.candidates(conn, words, field="authors", pool=120)
    answer = {"query": q, "papers": rank_titles(titles, words, q),
              "authors": rank_authors(people, words)}
    _CACHE.put(key, answer)
    return answer


@router.get("/suggest")
def suggest(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Paper titles and authors matching `q` as typed so far (its last word as a prefix)."""
    return json_response(suggestions(request, q), headers={"Cache-Control": "public, max-age=60"})
