"""The recommender's shared inputs, loaded once per process (and every `CACHE_SECONDS`) from the
newest papers, never per request:

- the background sample: `BACKGROUND` of the `POOL` newest papers with a vector, the sampled
  negatives of every member's fit, with their Gram matrix (`model.Background`), so a fit only
  adds the member's own rows;
- the keyword and author idf, estimated on the pool's titles, abstracts and bylines (a few
  thousand recent papers tell common words and names from rare ones as well as the whole
  catalog does, in a second, with no table to keep in step);
- the cold-start topics: the pool's Hugging Face `ai_keywords`, for catalogs whose papers carry
  no arXiv category, each with its newest papers;
- each paper's sparse features (keyword vector, normalised author names), computed on first
  use and kept in a bounded LRU keyed by paper id, so ranking a day that other members already
  ranked, or refitting a member after one more vote, reads and tokenises at most the new
  papers. The cache lives and dies with the idf it was computed with. Catalog rankings ask for
  the author part only (`bylines`): reading and tokenising the abstracts of 200 candidates
  nobody asked for before cost ~70 ms of CPU, and the keyword part does not measurably help
  there (bench/README.md, "For you").
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.caching import BoundedCache
from paperfeed.recommend import authors as au
from paperfeed.recommend import keywords as kw
from paperfeed.recommend.model import Background
from paperfeed.search.neighbours import Neighbours
from paperfeed.storage import recommend as store
from paperfeed.storage.authors import name_key

BACKGROUND = 500  # sampled negatives per fit
POOL = 3000  # recent papers the sample, the idf and the topics come from
FEATURE_CACHE = 20_000  # papers whose sparse features a process keeps
TOPIC_MIN = 3  # a topic is offered once this many recent papers carry it


@dataclass(slots=True)
class Features:
    """A paper's sparse features."""

    keywords: kw.KeywordVector = field(default_factory=dict)
    authors: list[str] = field(default_factory=list)  # normalised names, byline order
    names: dict[str, str] = field(default_factory=dict)  # normalised name -> name as printed


class RecentPapers:
    """The shared inputs of one embedding model, as of one load."""

    empty = Features()

    def __init__(
        self, model_id: str, sample_ids: list[str], sample: Background,
        docs: dict[str, store.PaperDoc], pool: Sequence[str],
    ) -> None:
        self.model_id = model_id
        self.ids = sample_ids
        self.sample = sample
        self.row = {pid: i for i, pid in enumerate(sample_ids)}
        counts = {pid: kw.term_counts(f"{d.title} {d.abstract}") for pid, d in docs.items()}
        self.space = kw.KeywordSpace(counts=counts.values())
        self.author_space = au.AuthorSpace(
            [name_key(n) for n in d.authors] for d in docs.values())
        self.topic_ids: dict[str, list[str]] = {}
        for pid in pool:  # newest first
            doc = docs.get(pid)
            for topic in dict.fromkeys(doc.topics if doc else []):
                self.topic_ids.setdefault(topic, []).append(pid)
        self.loaded = time.monotonic()
        # Papers' features are computed when first asked for, not for the whole pool here:
        # that halves the load (a second of CPU every CACHE_SECONDS per worker).
        self._features: BoundedCache[str, Features] = BoundedCache(max_entries=FEATURE_CACHE)
        # authors only
        self._bylines: BoundedCache[str, Features] = BoundedCache(max_entries=FEATURE_CACHE)

    def _compute(self, doc: store.PaperDoc, counts: Counter[str] | None = None) -> Features:
        words = counts if counts is not None else kw.term_counts(f"{doc.title} {doc.abstract}")
        return _byline(doc.authors, self.space.vector_of(words))

    @staticmethod
    def _cached(paper_ids: Sequence[str], *caches: BoundedCache[str, Features]
                ) -> tuple[dict[str, Features], list[str]]:
        """({paper id: features} found in the first of `caches` holding each, the rest)."""
        out: dict[str, Features] = {}
        missing = list(dict.fromkeys(paper_ids))
        for cache in caches:
            if missing:
                out.update(cache.get_many(missing))
                missing = [pid for pid in missing if pid not in out]
        return out, missing

    def bylines(self, db: Engine | Connection, paper_ids: Sequence[str]) -> dict[str, Features]:
        """{paper id: features without the keyword vector} of those papers that exist: the
        authors only, read without the abstracts (papers with full features cached reuse
        them). `db`: an engine, or the connection of the caller's other reads."""
        out, missing = self._cached(paper_ids, self._features, self._bylines)
        if missing:
            with _connection(db) as conn:
                found = {pid: _byline(names)
                         for pid, names in store.paper_bylines(conn, missing).items()}
            self._bylines.put_many(found)
            out.update(found)
        return out

    def features(self, db: Engine | Connection, paper_ids: Sequence[str]
                 ) -> dict[str, Features]:
        """{paper id: features} of those papers that exist (read once, then cached)."""
        out, missing = self._cached(paper_ids, self._features)
        if missing:
            with _connection(db) as conn:
                docs = store.paper_docs(conn, missing)
            found = {pid: self._compute(doc) for pid, doc in docs.items()}
            self._features.put_many(found)
            out.update(found)
        return out


@contextmanager
def _connection(db: Engine | Connection) -> Iterator[Connection]:
    """`db` itself when it is a connection, else a connection of the engine for the block."""
    if isinstance(db, Connection):
        yield db
    else:
        with db.connect() as conn:
            yield conn


def _byline(authors: Sequence[str], keywords: kw.KeywordVector | None = None) -> Features:
    names: dict[str, str] = {}
    for name in authors:
        names.setdefault(name_key(name), name)
    names.pop("", None)
    return Features(keywords if keywords is not None else {}, list(names), names)


def top_topics(topic_ids: dict[str, list[str]], limit: int) -> list[tuple[str, int]]:
    """The `limit` commonest topics carried by at least TOPIC_MIN papers, with their counts."""
    counts = Counter({t: len(ids) for t, ids in topic_ids.items() if len(ids) >= TOPIC_MIN})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def load_recent(engine: Engine, nb: Neighbours, *, before: datetime | None) -> RecentPapers:
    """Read the pool of newest papers with a vector of the current model and build the inputs."""
    with engine.connect() as conn:
        pool = store.recent_ids(conn, nb.model_id, limit=POOL, before=before)
        docs = store.paper_docs(conn, pool)
    rng = np.random.default_rng(len(pool))
    pick = sorted(rng.choice(len(pool), size=min(BACKGROUND, len(pool)), replace=False)
                  ) if pool else []
    sample = [pool[i] for i in pick]
    found = nb.vectors(sample)
    ids = [pid for pid in sample if pid in found]
    matrix = (np.stack([found[p] for p in ids]) if ids
              else np.zeros((0, nb.dim), dtype=np.float32))
    return RecentPapers(nb.model_id, ids, Background.of(matrix), docs, pool)
