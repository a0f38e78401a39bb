"""Search suggestions from the keyword index: titles and authors matching what is typed so far.

The last word typed is a prefix, the others whole words. SQLite asks FTS5 (`papers_fts`,
column filters `title :` / `authors :`, newest rows first so a LIMIT stops early instead of
ranking every match); PostgreSQL asks the weighted `search_vector` (title is weight A, authors
weight B) with `:*` prefixes. Both return at most `pool` candidate rows; the caller ranks them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, false, select, text
from sqlalchemy.engine import RowMapping

from paperfeed.storage.schema import papers

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 6


def words_of(query: str) -> list[str]:
    """The query's words (letters and digits only: nothing reaches FTS syntax unquoted)."""
    return [w.lower() for w in _WORD.findall(query or "")][:MAX_WORDS]


def _fts_match(column: str, words: Sequence[str]) -> str:
    terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}" *']
    return f"{column} : (" + " AND ".join(terms) + ")"


def _pg_query(words: Sequence[str], weight: str) -> str:
    terms = [f"{w}:{weight}" for w in words[:-1]] + [f"{words[-1]}:*{weight}"]
    return " & ".join(terms)


def candidates(
    conn: Connection, words: Sequence[str], *, field: str, pool: int = 60
) -> list[RowMapping]:
    """Visible papers whose title (field="title") or authors (field="authors") match `words`,
    newest first, at most `pool`: rows of id, title, authors_text ("A; B; C"), upvotes.

    Light columns only (no JSON to decode): this runs on every keystroke."""
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        column = "title" if field == "title" else "authors"
        ids = conn.execute(
            text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q "
                 "ORDER BY rowid DESC LIMIT :k"),
            {"q": _fts_match(column, words), "k": pool},
        ).scalars().all()
        if not ids:
            return []
        where: list[Any] = [papers.c.id.in_(list(ids))]
    else:
        config, weight = ("english", "A") if field == "title" else ("simple", "B")
        tsq = text(f"search_vector @@ to_tsquery('{config}', :q)").bindparams(
            q=_pg_query(words, weight))
        where = [tsq]
    wanted = papers.c.title if field == "title" else papers.c.authors_text
    rows = conn.execute(
        select(papers.c.id, wanted,
               (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"))
        .where(*where, papers.c.hidden == false())
        .order_by(papers.c.published_at.desc().nulls_last())
        .limit(pool)
    ).mappings().all()
    return list(rows)
