"""BibTeX and RIS for papers, in the form reference managers expect for arXiv preprints.

BibTeX follows arXiv's own "Export BibTeX citation" (an `@misc` with `eprint`,
`archivePrefix={arXiv}`, `primaryClass` and `url`), plus `doi` when the paper has one; the key
is arXiv's style too (first author's family name, year, first significant title word:
`kwak2025aligned`), made unique within one export (`...a`, `...b`). Titles keep their LaTeX
(BibTeX is TeX), with braces balanced so one odd title cannot break a whole file. RIS uses
`TY  - UNPB` (a preprint) with one `AU` per author and the abstract as readable text.
Pure functions of paper rows (mappings with the `papers` columns), so a collection's export
(`citations.bibtex(rows)`) is the same code as one paper's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from paperfeed.texmath import plain_text, split_math_at

STOP_WORDS = frozenset(
    "a an the on of in for and to with from by at via is are do does towards toward how what "
    "when why can we our".split()
)
_NOT_KEY = re.compile(r"[^a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def _names(row: Mapping[str, Any]) -> list[str]:
    out = []
    for a in row.get("authors") or []:
        name = a.get("name", "") if isinstance(a, Mapping) else str(a)
        name = " ".join(_CONTROL.sub("", name).split())
        if name:
            out.append(name)
    return out


def _family(name: str) -> str:
    """'Min-Seop Kwak' -> 'Kwak'; 'Kwak, Min-Seop' -> 'Kwak'."""
    if "," in name:
        return name.split(",", 1)[0].strip()
    parts = name.split()
    return parts[-1] if parts else ""


def _year(row: Mapping[str, Any]) -> str:
    when = row.get("published_at") or row.get("updated_at")
    if isinstance(when, datetime):
        return str(when.year)
    pid = str(row.get("id", ""))
    m = re.match(r"^(\d{2})(\d{2})\.", pid)  # new-style ids carry YYMM
    return f"20{m[1]}" if m else ""


def citation_key(row: Mapping[str, Any]) -> str:
    names = _names(row)
    family = _NOT_KEY.sub("", _ascii(_family(names[0]))) if names else ""
    words = [_NOT_KEY.sub("", _ascii(w)) for w in plain_text(str(row.get("title", ""))).split()]
    word = next((w for w in words if w and w not in STOP_WORDS), "")
    key = f"{family or 'arxiv'}{_year(row)}{word}"
    return key or _NOT_KEY.sub("", str(row.get("id", "")).lower()) or "paper"


def _balanced(text: str) -> str:
    """`text` for a braced BibTeX field: control characters dropped, braces balanced (an
    unmatched brace is removed), a trailing backslash dropped.

    BibTeX counts braces without regard to backslashes, so an escaped `\\{` opens a group
    like `{` does: an unmatched one is dropped with its backslash."""
    text = " ".join(_CONTROL.sub("", text).split())
    out: list[str] = []
    opens: list[int] = []  # positions in `out` of the braces not closed yet
    i = 0
    while i < len(text):
        c = text[i]
        token = c
        if c == "\\":
            if i + 1 == len(text):
                break  # a trailing backslash would escape the field's closing brace
            token = text[i : i + 2]
        brace = token[-1] if token[-1] in "{}" else ""
        if brace == "{":
            opens.append(len(out))
        elif brace == "}":
            if not opens:
                i += len(token)
                continue
            opens.pop()
        out.append(token)
        i += len(token)
    for position in opens:
        out[position] = ""
    return "".join(out)


# In text (outside math): an escape kept whole, or a character LaTeX reads as markup.
_TEX_TEXT = re.compile(r"\\.|[&%#_^$]|(?<!\S)~(?=\d)", re.DOTALL)
_TEX_ESCAPES = {"^": "\\^{}", "~": "{\\textasciitilde}"}


def _tex_text(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith("\\"):
        return token
    return _TEX_ESCAPES.get(token, "\\" + token)


def _tex(text: str) -> str:
    """Text LaTeX compiles as it reads: outside math, plain `&` (an alignment tab), `%` (a
    comment), `#` (a parameter), `_` and `^` (math only: "Missing $ inserted") and a stray
    `$` (one that opens no math, as in "Save $5") are escaped, and a `~` that starts a word
    before a digit ("a ~10x speedup", about) is a tilde rather than LaTeX's unbreakable
    space. A Hugging Face title is plain text, and one such character stopped the citing
    paper's build. Math (`$x_1$`) and
    the escapes arXiv's TeX titles already have (`R\\&D`, `\\_`) are kept as written; other
    backslashes are TeX commands (`\\emph{...}`) and kept too."""
    out: list[str] = []
    for segment, start, end in split_math_at(text):
        piece = text[start:end]
        out.append(piece if segment.kind == "math" else _TEX_TEXT.sub(_tex_text, piece))
    return "".join(out)


def _author_field(names: Sequence[str]) -> str:
    # A name with " and " inside (a team) is braced so BibTeX does not split it.
    return " and ".join(f"{{{n}}}" if " and " in f" {n.lower()} " else n for n in names)


def bibtex_entry(row: Mapping[str, Any], key: str | None = None) -> str:
    pid = str(row["id"])
    fields: list[tuple[str, str]] = [
        ("title", _balanced(_tex(str(row.get("title") or "")))),
        ("author", _balanced(_tex(_author_field(_names(row))))),
        ("year", _year(row)),
        ("eprint", pid),
        ("archivePrefix", "arXiv"),
    ]
    primary = row.get("primary_category") or next(iter(row.get("categories") or []), None)
    if primary:
        fields.append(("primaryClass", _balanced(str(primary))))
    if row.get("doi"):
        fields.append(("doi", _balanced(str(row["doi"]))))
    fields.append(("url", f"https://arxiv.org/abs/{pid}"))
    body = ",\n".join(f"      {name}={{{value}}}" for name, value in fields if value)
    return f"@misc{{{key or citation_key(row)},\n{body},\n}}\n"


def bibtex(rows: Iterable[Mapping[str, Any]]) -> str:
    """BibTeX for several papers, keys made unique in order (`smith2024deep`, `...a`, ...)."""
    seen: dict[str, int] = {}
    parts = []
    for row in rows:
        key = citation_key(row)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n:
            key = f"{key}{_suffix(n)}"
        parts.append(bibtex_entry(row, key))
    return "\n".join(parts)


def _suffix(n: int) -> str:
    letters = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def _ris_value(text: str) -> str:
    return " ".join(_CONTROL.sub("", text).split())


def ris_entry(row: Mapping[str, Any]) -> str:
    pid = str(row["id"])
    lines = ["TY  - UNPB", f"TI  - {_ris_value(plain_text(str(row.get('title') or '')))}"]
    lines += [f"AU  - {_ris_name(n)}" for n in _names(row)]
    when = row.get("published_at")
    year = _year(row)
    if year:
        lines.append(f"PY  - {year}")
    if isinstance(when, datetime):
        lines.append(f"DA  - {when:%Y/%m/%d}")
    abstract = _ris_value(plain_text(str(row.get("abstract") or "")))
    if abstract:
        lines.append(f"AB  - {abstract}")
    lines += [f"KW  - {_ris_value(str(c))}" for c in row.get("categories") or []]
    if row.get("doi"):
        lines.append(f"DO  - {_ris_value(str(row['doi']))}")
    lines += [
        "PB  - arXiv",
        f"UR  - https://arxiv.org/abs/{pid}",
        f"L1  - https://arxiv.org/pdf/{pid}",
        f"M1  - arXiv:{pid}",
        "ER  - ",
    ]
    return "\r\n".join(lines) + "\r\n"


def _ris_name(name: str) -> str:
    """RIS wants 'Family, Given'."""
    if "," in name:
        return name
    parts = name.split()
    if len(parts) < 2:
        return name
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def ris(rows: Iterable[Mapping[str, Any]]) -> str:
    return "\r\n".join(ris_entry(r) for r in rows)
