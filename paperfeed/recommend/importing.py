"""Cold start from a list of the member's own papers: BibTeX (arXiv's, Google Scholar's, ORCID's
export), ORCID's works JSON, or plain lines of arXiv ids, URLs, DOIs or titles.

Parsing is a pure function of the text (bounded: at most `MAX_ENTRIES` entries of a
`MAX_BYTES` upload); matching against the catalog happens in `actions.import_papers`.
An entry is matched by its arXiv id (eprint field, arXiv URL or DOI 10.48550/arXiv.*), else by
DOI, else by exact title.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from paperfeed.errors import BadRequest

MAX_BYTES = 1_000_000
MAX_ENTRIES = 2000
ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
ARXIV_OLD = re.compile(r"\b([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
ARXIV_HINT = re.compile(r"arxiv", re.IGNORECASE)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>{}]+)", re.IGNORECASE)
ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]")
FIELD = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*", re.ASCII)


@dataclass(slots=True)
class Wanted:
    """What a list names: arXiv ids, DOIs and titles (in the list's order, deduplicated)."""

    arxiv_ids: list[str] = field(default_factory=list)
    dois: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    entries: int = 0

    def add(self, fields: dict[str, str]) -> None:
        self.entries += 1
        found = arxiv_id_in(fields)
        if found:
            self.arxiv_ids.append(found)
            return
        doi = fields.get("doi", "").strip()
        if doi:
            self.dois.append(doi.removeprefix("https://doi.org/").lower())
            return
        title = " ".join(re.sub(r"[{}\\]", "", fields.get("title", "")).split())
        if title:
            self.titles.append(title)


def arxiv_id_in(fields: dict[str, str]) -> str | None:
    """An arXiv id named by an entry's eprint, arXiv DOI, URL, journal or note fields."""
    eprint = fields.get("eprint", "").strip()
    prefix = fields.get("archiveprefix", "") + fields.get("eprinttype", "")
    candidates = [eprint] if eprint and (not prefix or ARXIV_HINT.search(prefix)) else []
    for key in ("doi", "url", "journal", "note", "howpublished", "volume", "arxiv"):
        value = fields.get(key, "")
        if value and (key == "arxiv" or ARXIV_HINT.search(value)):
            candidates.append(value)
    for text in candidates:
        m = ARXIV_NEW.search(text) or ARXIV_OLD.search(text)
        if m:
            return m.group(1)
    return None


def _braced(text: str, pos: int) -> tuple[str, int]:
    """The content of a {...} group starting at text[pos] == '{', and the index after it."""
    depth, start = 0, pos
    for i in range(pos, len(text)):
        ch = text[i]
        if ch == "\\":
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return text[start + 1 :], len(text)


def _value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == "{":
        return _braced(text, pos)
    if pos < len(text) and text[pos] == '"':
        end = pos + 1
        depth = 0
        while end < len(text) and not (text[end] == '"' and depth == 0):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        return text[pos + 1 : end], end + 1
    m = re.compile(r"[^,}\s]*").match(text, pos)
    assert m is not None
    return m.group(0), m.end()


def parse_bibtex(text: str) -> list[dict[str, str]]:
    """Entries as {field (lower-case): value} dicts; @comment/@string/@preamble skipped,
    malformed entries skipped rather than fatal."""
    entries: list[dict[str, str]] = []
    pos = 0
    while len(entries) < MAX_ENTRIES:
        m = ENTRY_START.search(text, pos)
        if m is None:
            break
        kind = m.group(1).lower()
        pos = m.end()
        if kind in ("comment", "string", "preamble"):
            continue
        comma = text.find(",", pos)
        if comma < 0:
            break
        pos = comma + 1
        fields: dict[str, str] = {}
        while pos < len(text):
            fm = FIELD.match(text, pos)
            if fm is None:
                break
            value, pos = _value(text, fm.end())
            # "#" concatenation of strings: keep the pieces' text
            while True:
                rest = re.compile(r"\s*#\s*").match(text, pos)
                if rest is None:
                    break
                more, pos = _value(text, rest.end())
                value += more
            fields[fm.group(1).lower()] = " ".join(value.split())
            sep = re.compile(r"\s*,?").match(text, pos)
            pos = sep.end() if sep else pos
        if fields:
            entries.append(fields)
    return entries


def _orcid_works(doc: Any) -> list[dict[str, str]]:
    """ORCID API `works` JSON (group[].work-summary[] with external-ids and title)."""
    out: list[dict[str, str]] = []
    groups = doc.get("group") if isinstance(doc, dict) else None
    for group in groups if isinstance(groups, list) else []:
        for summary in (group or {}).get("work-summary") or []:
            fields: dict[str, str] = {}
            title = (((summary or {}).get("title") or {}).get("title") or {}).get("value")
            if isinstance(title, str):
                fields["title"] = title
            ext = ((summary or {}).get("external-ids") or {}).get("external-id") or []
            for e in ext if isinstance(ext, list) else []:
                kind = str((e or {}).get("external-id-type", "")).lower()
                value = str((e or {}).get("external-id-value", ""))
                if kind == "arxiv":
                    fields["arxiv"] = value
                elif kind == "doi":
                    fields["doi"] = value
            if fields:
                out.append(fields)
            break  # one summary per group is the same work
    return out[:MAX_ENTRIES]


def parse_list(text: str) -> Wanted:
    """Whatever the member pasted or uploaded, as the ids, DOIs and titles it names."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise BadRequest(f"for you: the list is larger than {MAX_BYTES // 1000} kB; "
                         "split it or keep your own papers only")
    wanted = Wanted()
    stripped = text.strip()
    if not stripped:
        return wanted
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError:
            doc = None
        if doc is not None:
            for fields in _orcid_works(doc):
                wanted.add(fields)
            return _dedupe(wanted)
    if ENTRY_START.search(stripped):
        for fields in parse_bibtex(stripped):
            wanted.add(fields)
        return _dedupe(wanted)
    for line in stripped.splitlines()[:MAX_ENTRIES]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = ARXIV_NEW.search(line) or ARXIV_OLD.search(line)
        doi = DOI.search(line)
        if m and (ARXIV_HINT.search(line) or m.group(0) == line.removeprefix("arXiv:")):
            wanted.add({"arxiv": m.group(1)})
        elif doi:
            wanted.add({"doi": doi.group(1)})
        elif m:
            wanted.add({"arxiv": m.group(1)})
        else:
            wanted.add({"title": line})
    return _dedupe(wanted)


def _dedupe(w: Wanted) -> Wanted:
    w.arxiv_ids = list(dict.fromkeys(w.arxiv_ids))
    w.dois = list(dict.fromkeys(w.dois))
    w.titles = list(dict.fromkeys(w.titles))
    return w
