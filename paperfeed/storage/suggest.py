"""Search suggestions from the keyword index: titles and authors matching what is typed so far.

The last word typed is a prefix, the others whole words. SQLite asks FTS5 (`papers_fts`,
column filters `title :` / `authors :`, newest rows first so a LIMIT stops early instead of
ranking every match); PostgreSQL asks the weighted `search_vector` (title is weight A, authors
weight B) with `:*` prefixes, each word tokenised as the index is (`paperfeed_field_query`,
migration 0017). Both return at most `pool` candidate rows; the caller ranks them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, cast, false, func, literal, literal_column, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import RowMapping

from paperfeed.storage.authors import name_key
from paperfeed.storage.schema import papers

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 6


def words_of(query: str) -> list[str]:
    """The query's words (letters and digits only: nothing reaches FTS syntax unquoted)."""
    return [w.lower() for w in _WORD.findall(query or "")][:MAX_WORDS]


def _fts_match(column: str, words: Sequence[str]) -> str:
    terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}" *']
    return f"{column} : (" + " AND ".join(terms) + ")"


NAME_STEM_SAFE = 3  # a name's first letters the porter stemmer never changes
NAME_STEM_CUT = 4  # letters the stemmer may take off a word's end ("Hastings" -> "hast")
NAME_SCAN = 1000  # rows of the shorter prefix read at most, newest first


def _names_typed_past_their_stem(conn: Connection, words: Sequence[str], wanted: int,
                                 have: set[str]) -> list[str]:
    """SQLite: papers with a name a word of which starts with the last word typed, when the
    index missed them. FTS5 stems names as words ("Turing" is stored "ture"), so a typed
    prefix that runs into the stemmed ending ("Turi") is no prefix of any token; PostgreSQL
    keeps the names unstemmed beside (migration 0017). Asks instead for the typed word less the
    letters a stem may lose (never under `NAME_STEM_SAFE`), and keeps the rows whose names have
    a word starting with what was typed, compared as the suggestions compare names
    (`authors.name_key`)."""
    last = words[-1]
    shorter = last[:max(NAME_STEM_SAFE, len(last) - NAME_STEM_CUT)]
    rows = conn.execute(
        text("SELECT paper_id, authors FROM papers_fts WHERE papers_fts MATCH :q "
             "ORDER BY rowid DESC LIMIT :k"),
        {"q": _fts_match("authors", [*words[:-1], shorter]), "k": NAME_SCAN},
    ).all()
    out: list[str] = []
    for paper_id, authors in rows:
        if paper_id in have:
            continue
        if any(part.startswith(last) for part in name_key(str(authors or "")).split()):
            out.append(paper_id)
            if len(out) >= wanted:
                break
    return out


def _pg_query(words: Sequence[str], weight: str) -> Any:
    """The tsquery: each whole word in the field, AND the last as a prefix there. A name's
    prefix is matched unstemmed (migration 0017's `paperfeed_name_words`: "Turi" is no prefix
    of "ture", Porter's stem of "Turing"); a title's prefix of one or two characters is not
    stemmed either (the index protects such words from its stemmer: "is" is stored "is0",
    which the stemmed prefix "is0" would miss in "isolation")."""
    parts: list[Any] = [func.paperfeed_field_query(w, weight) for w in words[:-1]]
    last = words[-1]
    if weight == "B":  # a name as typed, against the authors' unstemmed '~word' lexemes
        token = func.nullif(func.split_part(func.btrim(func.paperfeed_fts_text(last)), " ", 1),
                            "")
        parts.append(cast(func.quote_literal(literal("~").op("||")(token)).op("||")(":*"),
                          TSQUERY))
    elif len(last) <= 2:
        parts.append(func.to_tsquery("simple", func.quote_literal(last).op("||")(f":*{weight}")))
    else:
        parts.append(func.paperfeed_field_query(last, f"*{weight}"))
    out = parts[0]
    for part in parts[1:]:
        out = func.tsquery_and(out, part)
    return out


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
        ids = list(conn.execute(
            text("SELECT paper_id FROM papers_fts WHERE papers_fts MATCH :q "
                 "ORDER BY rowid DESC LIMIT :k"),
            {"q": _fts_match(column, words), "k": pool},
        ).scalars().all())
        if field != "title" and len(ids) < pool and len(words[-1]) > NAME_STEM_SAFE:
            ids += _names_typed_past_their_stem(conn, words, pool - len(ids), set(ids))
        if not ids:
            return []
        where: list[Any] = [papers.c.id.in_(list(ids))]
    else:
        weight = "A" if field == "title" else "B"
        where = [literal_column("papers.search_vector").op("@@")(_pg_query(words, weight))]
    wanted = papers.c.title if field == "title" else papers.c.authors_text
    rows = conn.execute(
        select(papers.c.id, wanted,
               (papers.c.upstream_upvotes + papers.c.member_upvotes).label("upvotes"))
        .where(*where, papers.c.hidden == false())
        .order_by(papers.c.published_at.desc().nulls_last())
        .limit(pool)
    ).mappings().all()
    return list(rows)
