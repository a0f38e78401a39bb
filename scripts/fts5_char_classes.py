"""Read off SQLite's FTS5 `unicode61 remove_diacritics 2` tokenizer which characters separate
words, which it folds to another (accents beyond lower-casing) and which it drops (combining
marks), for every code point, and print them as the tables of migration 0017
(`paperfeed/storage/migrations/versions/0017_pg_keyword_parity.py`: SEPARATORS, FOLD_FROM,
FOLD_TO, REMOVED), which PostgreSQL's `paperfeed_fts_text` applies so both engines index the
same words. Run it after an SQLite upgrade to see whether its tables moved:

    python scripts/fts5_char_classes.py > /tmp/tables.py   # ~10 s; compare with the migration

Each code point c is tokenised inside "a" + c + "b": two tokens "a", "b" make c a separator,
one token "a?b" gives its fold ("ab": dropped).
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap


def classes() -> tuple[list[tuple[int, int]], dict[int, str], list[tuple[int, int]]]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = "
                 "'unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE tv USING fts5vocab(t, 'instance')")
    codes = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    conn.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)",
                     ((c, "a" + chr(c) + "b") for c in codes))
    tokens: dict[int, list[str]] = {}
    for doc, term in conn.execute("SELECT doc, term FROM tv ORDER BY doc, offset"):
        tokens.setdefault(doc, []).append(term)
    separators, folds, removed = [], {}, []
    for c in codes:
        found = tokens.get(c, [])
        if found == ["a", "b"]:
            separators.append(c)
        elif len(found) == 1 and found[0][1:-1] == "":
            removed.append(c)
        elif len(found) == 1 and found[0][1:-1] not in (chr(c), chr(c).lower()):
            folds[c] = found[0][1:-1]  # what lower() (PostgreSQL's too) does not do
    return _ranges(separators), folds, _ranges(removed)


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for c in codes:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(a, b) for a, b in out]


def _ranges_source(name: str, ranges: list[tuple[int, int]]) -> str:
    body = ", ".join(f"({a:#x}, {b:#x})" for a, b in ranges)
    return f"{name} = [\n" + "\n".join("    " + line for line in textwrap.wrap(body, 95)) + ",\n]\n"


def _string_source(name: str, text: str) -> str:
    escaped = [f"\\u{ord(ch):04x}" if ord(ch) > 126 or ord(ch) < 32 else ch for ch in text]
    lines, line = [], ""
    for piece in escaped:
        if len(line) + len(piece) > 90:
            lines.append(line)
            line = ""
        line += piece
    lines.append(line)
    return f"{name} = (\n" + "\n".join(f'    "{part}"' for part in lines) + "\n)\n"


def main() -> None:
    separators, folds, removed = classes()
    sys.stdout.write(_ranges_source("SEPARATORS", separators))
    sys.stdout.write(_string_source("FOLD_FROM", "".join(chr(c) for c in folds)))
    sys.stdout.write(_string_source("FOLD_TO", "".join(folds.values())))
    sys.stdout.write(_string_source("REMOVED", "".join(chr(c) for a, b in removed
                                                          for c in range(a, b + 1))))


if __name__ == "__main__":
    main()
