"""How each database's keyword index reduces a word to its index term, asked of the index's own
stemmer, so highlighting (search/highlight.py) marks exactly the words the index matched: on
SQLite the FTS5 `porter unicode61 remove_diacritics 2` tokenizer (run on a private in-memory
database), on PostgreSQL the `english_stem` Snowball dictionary of the `english` configuration
(`ts_lexize`; PostgreSQL ships an older Snowball than PyStemmer's: "adding" -> "ad", not "add").

A stemmer is a plain callable, the same object for the same database, so callers can key their
caches on it; callers cache the answers (the catalog's vocabulary is finite).
"""

from __future__ import annotations

import re
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


_TOKEN = re.compile(r"[^\W_]+")


def _pg_english(engine: Engine, words: Sequence[str]) -> list[str]:
    """PostgreSQL's `english_stem` lexeme of each word's first token, lower-cased ('' for its
    stopwords and for no token), in one query. The first token, as FTS5's stemmer answers:
    `ts_lexize` stems the string it is given, so "(DLMs)" (a query word) came back "(dlms)",
    which no word of a text is."""
    if not words:
        return []
    tokens = [m.group().lower() if (m := _TOKEN.search(w)) else "" for w in words]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ts_lexize('english_stem', w) FROM unnest(CAST(:w AS text[])) "
                 "WITH ORDINALITY AS u(w, n) ORDER BY n"),
            {"w": tokens},
        ).all()
    return [(r[0] or [""])[0] if r[0] is not None and t else "" for r, t in zip(rows, tokens,
                                                                                strict=True)]


def stemmer_for(bind: Engine | Connection) -> Stemmer:
    """The stemmer of `bind`'s keyword index (one object per database)."""
    if bind.dialect.name == "sqlite":
        return fts5_porter
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = engine.url.render_as_string(hide_password=False)
    with _PG_LOCK:
        stemmer = _PG.get(key)
        if stemmer is None:
            stemmer = _PG[key] = partial(_pg_english, engine)
        return stemmer
