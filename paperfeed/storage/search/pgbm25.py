"""BM25 on PostgreSQL, computed in SQL the way SQLite's FTS5 `bm25()` computes it, so keyword
search ranks alike on both engines (`ts_rank` has no inverse document frequency: in an OR query
of many words a paper holding a common word outranked one holding the rare, telling word).

FTS5's score of a document D for query items q_1..q_n (sqlite/ext/fts5/fts5_aux.c):

    sum_i idf(q_i) * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * |D| / avgdl))

with k1 = 1.2, b = 0.75, idf(q) = ln((N - n(q) + 0.5) / (n(q) + 0.5)) (1e-6 when not positive),
f_i the occurrences of q_i in D weighted by field (title 3, authors 2, abstract 1), |D| the
document's length in words and avgdl the catalog's average.

- n(q) and N come from the backend's per-process cache (`tsquery.DocCounts`, counted on the
  GIN index, at most 10 minutes stale, as FTS5's counts are as of its last refresh), avgdl
  too (sampled on large catalogs).
- |D| is `papers.search_length` (migration 0015: a generated column, the word positions of
  title + authors + abstract, stopwords included as FTS5 counts them).
- f_i per field: PostgreSQL has no function returning how often a lexeme occurs in a tsvector,
  but `ts_rank` of a one-lexeme query is a known function of that count. With weights over
  the position labels (the tsvector labels title A, authors B, abstract C, in that order of
  positions), ts_rank = sum_{j<m} 1/j^2 / (pi^2/6) when the m occurrences labelled with
  weight 1 come first and the others have weight 0 (`calc_rank_or` in tsrank.c). So weights
  {A}, {A,B} and {A,B,C} give the counts in the title, in title + authors and in all fields,
  read back with `width_bucket` over the midpoints of that strictly increasing series (a
  lexeme keeps at most 256 positions). Items of several lexemes (phrases, words such as
  "gpt-4") count 1 per field holding them (`ts_filter(v, field) @@ q`).

One statement, one round trip: the items' tsqueries built once (a MATERIALIZED CTE over array
parameters, so the SQL text is the same for every query), the matching papers (GIN, filters)
with each tsvector detoasted once (`v || ''` in a subquery the planner keeps; each ts_rank
would otherwise decompress it again), each paper's score as a subquery over the items, best
first (ties by id). At 75k papers this costs about what `ts_rank` did (bench/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, column, func, literal, literal_column, or_, select, text

from paperfeed.storage.schema import papers

K1 = 1.2  # FTS5's bm25() constants
B = 0.75
MAX_POSITIONS = 256  # positions a tsvector keeps per lexeme (MAXNUMPOS)

_VECTOR: Any = literal_column("papers.search_vector")
_LENGTH: Any = literal_column("papers.search_length")
_ADDED: Any = literal_column("papers.added_seq")  # the order papers were added (0016)


@dataclass(frozen=True, slots=True)
class Corpus:
    """What BM25 needs of the whole catalog: papers, their average length, and how many papers
    hold each query item ((kind, text) -> papers)."""

    papers: int
    avgdl: float
    docs: dict[tuple[str, str], int]

    def idf(self, key: tuple[str, str]) -> float:
        n = self.docs.get(key, 0)
        value = math.log((self.papers - n + 0.5) / (n + 0.5)) if self.papers > 0 else 0.0
        return value if value > 0 else 1e-6


def _thresholds() -> list[float]:
    """Midpoints between ts_rank's values for 0, 1, ..., 256 occurrences (see the docstring)."""
    values = [0.0]
    total = 0.0
    for m in range(1, MAX_POSITIONS + 1):
        total += 1.0 / (m * m)
        values.append(total / (math.pi ** 2 / 6))
    return [(values[m - 1] + values[m]) / 2 for m in range(1, len(values))]


THRESHOLDS = _thresholds()

# The query items, their tsqueries built once per statement (kinds as in `tsquery.py`).
_ITEMS = text(
    "SELECT x.w, x.q, numnode(x.q) = 1 AS single FROM ("
    " SELECT u.w, CASE u.kind WHEN 'author' THEN paperfeed_field_query(u.t, 'B')"
    " ELSE paperfeed_words_query(u.t) END AS q"
    " FROM unnest(CAST(:bm25_kinds AS text[]), CAST(:bm25_texts AS text[]),"
    " CAST(:bm25_weights AS float8[])) AS u(kind, t, w)) AS x"
).columns(column("w"), column("q"), column("single"))

# One paper's score: sum over items of w * (1 - norm / (f + norm)), which is
# idf * times * f * (k1 + 1) / (f + norm) with w = idf * times * (k1 + 1), f read once.
# f = (wt - wa) x title + (wa - wb) x (title + authors) + wb x all fields (one-lexeme items),
# else the fields holding the item, weighted. ts_rank's weights are ordered {D, C, B, A}.
_SCORE = (
    "(SELECT coalesce(sum(i.w * (1.0 - m.norm / (m.norm + CASE WHEN i.single THEN"
    " :bm25_ta * width_bucket(ts_rank('{0,0,0,1}', m.v, i.q)::float8, :bm25_th)"
    " + :bm25_ab * width_bucket(ts_rank('{0,0,1,1}', m.v, i.q)::float8, :bm25_th)"
    " + :bm25_b * width_bucket(ts_rank('{0,1,1,1}', m.v, i.q)::float8, :bm25_th)"
    " WHEN NOT m.v @@ i.q THEN 0"  # (cheap) before copying the vector per field
    " ELSE :bm25_t * (ts_filter(m.v, '{a}') @@ i.q)::int"
    " + :bm25_a * (ts_filter(m.v, '{b}') @@ i.q)::int"
    " + :bm25_b * (ts_filter(m.v, '{c}') @@ i.q)::int END))), 0.0)"
    " FROM bm25_items AS i)"
)


def scan_newest(tsq: Any, cap: int) -> Any:
    """SELECT (id, seq) of the `cap` + 1 most recently added papers matching `tsq`."""
    return (select(papers.c.id, _ADDED.label("seq")).where(_VECTOR.op("@@")(tsq))
            .order_by(_ADDED.desc()).limit(cap + 1))


def scan_counted(tsq: Any, cap: int) -> Any:
    """The scan, each row with how many were read (`n`) and the oldest one's `seq`."""
    scan = scan_newest(tsq, cap).subquery("scan")
    return select(scan.c.id, scan.c.seq, func.count().over().label("n"),
                  func.min(scan.c.seq).over().label("oldest")).subquery("counted")


def bm25_ranked(
    tsq: Any, items: Sequence[tuple[str, str, float]], clauses: Sequence[Any], *,
    fields: tuple[float, float, float], avgdl: float, limit: int, scan_limit: int | None = None,
) -> Any:
    """SELECT (id, score, title[, n]) of papers matching `tsq` and `clauses`, by BM25 over
    `items` ((kind, text, idf x times counted)), best first, at most `limit`.

    With `scan_limit` only the most recently added `scan_limit` matches are ranked (highest
    `papers.added_seq`, migration 0016: the order SQLite's FTS5 walks), and `clauses` apply to
    those, as on SQLite: the scan carries ids only and reads one more, so each row also says
    how many it read (`n` > the limit: cut), and that oldest one is left out."""
    wt, wa, wb = fields
    items_cte = _ITEMS.bindparams(
        bindparam("bm25_kinds", [k for k, _, _ in items]),
        bindparam("bm25_texts", [t for _, t, _ in items]),
        bindparam("bm25_weights", [w * (K1 + 1.0) for _, _, w in items]),
    ).cte("bm25_items").prefix_with("MATERIALIZED")
    norm = literal(K1) * (literal(1.0 - B) + literal(B) * func.coalesce(_LENGTH, 0)
                          / literal(max(avgdl, 1.0)))
    columns = [papers.c.id, papers.c.title,
               _VECTOR.op("||")(literal_column("''::tsvector")).label("v"), norm.label("norm")]
    if scan_limit is None:
        matching = select(*columns).where(_VECTOR.op("@@")(tsq), *clauses)
    else:
        cap = max(0, scan_limit)
        counted = scan_counted(tsq, cap)
        matching = (select(*columns, counted.c.n)
                    .select_from(counted.join(papers, papers.c.id == counted.c.id))
                    .where(or_(counted.c.n <= cap, counted.c.seq != counted.c.oldest),
                           *clauses))
    m = matching.offset(0).subquery("m")  # kept: one detoasted copy of each vector
    score = text(_SCORE).bindparams(
        bindparam("bm25_ta", wt - wa), bindparam("bm25_ab", wa - wb), bindparam("bm25_b", wb),
        bindparam("bm25_t", wt), bindparam("bm25_a", wa), bindparam("bm25_th", THRESHOLDS),
    ).columns(column("score")).scalar_subquery().label("score")
    out = [m.c.id, score, m.c.title] + ([m.c.n] if scan_limit is not None else [])
    return (select(*out).add_cte(items_cte)
            .order_by(literal_column("score").desc(), m.c.id).limit(limit))
