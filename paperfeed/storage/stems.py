"""How each database's keyword index reduces a word to its index term, asked of the index's own
stemmer, so highlighting (search/highlight.py) marks exactly the words the index matched: on
SQLite the FTS5 `porter unicode61 remove_diacritics 2` tokenizer (run on a private in-memory
database), on PostgreSQL the `paperfeed_porter` dictionary (Snowball's Porter) over the word's
first token as `paperfeed_fts_text` makes it (migration 0017: the same splitting, case and
accent folding as FTS5's), so both engines give the same stems.

A stemmer is a plain callable, the same object for the same database, so callers can key their
caches on it; callers cache the answers (the catalog's vocabulary is finite).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import Connection, Engine, text

from paperfeed.storage.search import fts_tokens

Stemmer = Callable[[Sequence[str]], list[str]]
_PG: dict[str, Stemmer] = {}
_PG_LOCK = threading.Lock()


def fts5_porter(words: Sequence[str]) -> list[str]:
    """The FTS5 index term of each word ('' for a word the tokenizer drops)."""
    return [tokens[0] if tokens else "" for tokens in fts_tokens(list(words))]


_PG_STEMS = text(
    "SELECT x.t, ts_lexize('paperfeed_porter', x.t) FROM (SELECT n, "
    "split_part(btrim(paperfeed_fts_text(w)), ' ', 1) AS t "
    "FROM unnest(CAST(:w AS text[])) WITH ORDINALITY AS u(w, n)) AS x ORDER BY x.n")


def _pg_porter(engine: Engine, words: Sequence[str]) -> list[str]:
    """The index lexeme of each word's first token ('' for no token), in one query. The first
    token, as FTS5's stemmer answers ("(DLMs)" is "dlm"). A two-character word the index
    stores with a "0" appended (kept from the stemmer: "as" -> "as0") is answered as itself,
    as FTS5 does, so the highlighter finds it by its first letters."""
    if not words:
        return []
    with engine.connect() as conn:
        rows = conn.execute(_PG_STEMS, {"w": list(words)}).all()
    out = []
    for token, lexemes in rows:
        stem = (lexemes or [""])[0] if token else ""
        if len(token) == 3 and token[2] == "0" and token[1] in "sy" and stem == token:
            stem = token[:2]
        out.append(stem)
    return out


def stemmer_for(bind: Engine | Connection) -> Stemmer:
    """The stemmer of `bind`'s keyword index (one object per database)."""
    if bind.dialect.name == "sqlite":
        return fts5_porter
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = engine.url.render_as_string(hide_password=False)
    with _PG_LOCK:
        stemmer = _PG.get(key)
        if stemmer is None:
            stemmer = _PG[key] = partial(_pg_porter, engine)
        return stemmer
