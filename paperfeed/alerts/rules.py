"""Saved-search rules, the pure part: a query in the search syntax compiled into what a new
paper must hold, and the test of one paper against one rule.

The words of a query are reduced to index terms by the same tokenizer as the keyword index
(FTS5 `porter unicode61 remove_diacritics 2`, run in memory; `storage.search.fts_tokens`), so
"diffusion models" matches a paper about a "diffusion model" here exactly as it does in
search, on SQLite and PostgreSQL alike. An alert is stricter than a ranked search: every word
must be in the paper (title, abstract or authors), phrases and `author:` names must appear as
written, `-excluded` words must not, `cat:` needs one of the categories (`cat:cs` any cs.*
category) and `year:` bounds the publication year. A query of filters only (`cat:cs.CL`)
matches every new paper that passes them. Semantic searches replace the plain words by
closeness in meaning (threshold in settings); the other conditions still hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperfeed.search.query import STOPWORDS, Query, keyword_terms, parse

Tokenize = Callable[[Sequence[str]], list[list[str]]]
Seq = tuple[str, ...]
ANY = "*"  # the anchor of a rule that any paper may match (no words, no categories)
FIELD_GAP = " "  # between title, abstract and each author (the tokenizer never makes it)


def default_tokenize(texts: Sequence[str]) -> list[list[str]]:
    from paperfeed.storage.search import fts_tokens

    return fts_tokens(list(texts))


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled saved search. Every tuple of tokens is one required sequence."""

    terms: tuple[Seq, ...] = ()  # plain words (a word the tokenizer splits is a sequence)
    phrases: tuple[Seq, ...] = ()
    authors: tuple[Seq, ...] = ()
    excluded: tuple[Seq, ...] = ()
    categories: tuple[str, ...] = ()  # lower-cased; any of them
    year_from: int | None = None
    year_to: int | None = None
    text: str = ""  # the free text (what a semantic search embeds)

    @property
    def has_words(self) -> bool:
        return bool(self.terms or self.phrases or self.authors)

    @property
    def empty(self) -> bool:
        return not (self.has_words or self.categories or self.year_from or self.year_to)

    def to_json(self) -> dict[str, object]:
        return {
            "terms": [list(t) for t in self.terms],
            "phrases": [list(t) for t in self.phrases],
            "authors": [list(t) for t in self.authors],
            "excluded": [list(t) for t in self.excluded],
            "categories": list(self.categories),
            "year_from": self.year_from,
            "year_to": self.year_to,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Rule:
        def seqs(key: str) -> tuple[Seq, ...]:
            raw = data.get(key) or []
            return tuple(tuple(str(t) for t in seq) for seq in raw)  # type: ignore[attr-defined]

        def year(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, int) else None

        return cls(
            terms=seqs("terms"),
            phrases=seqs("phrases"),
            authors=seqs("authors"),
            excluded=seqs("excluded"),
            categories=tuple(str(c) for c in data.get("categories") or []),  # type: ignore[attr-defined]
            year_from=year("year_from"),
            year_to=year("year_to"),
            text=str(data.get("text") or ""),
        )

    @property
    def needs_check(self) -> bool:
        """Whether a paper holding every required token may still fail the rule (sequences,
        author names, exclusions, categories, years): False for plain words only."""
        return bool(
            self.phrases or self.authors or self.excluded or self.categories
            or self.year_from or self.year_to or any(len(t) > 1 for t in self.terms)
        )

    def required_tokens(self) -> list[str]:
        return [t for seq in (*self.terms, *self.phrases, *self.authors) for t in seq]

    def anchors(self, rarity: Callable[[str], Any] | None = None) -> list[str]:
        """Tokens of which a matching paper must hold at least one (the matcher's index
        keys): the rarest required token (every one is required, so one is enough), else
        each category, else ANY. `rarity(token)`: higher is rarer (default: longer)."""
        tokens = self.required_tokens()
        if tokens:
            score: Callable[[str], Any] = rarity or (lambda t: len(t))
            return [max(tokens, key=lambda t: (score(t), t))]
        if self.categories:
            return sorted({f"cat:{c}" for c in self.categories})
        return [ANY]


def compile_rule(query: str | Query, tokenize: Tokenize = default_tokenize) -> Rule:
    """The rule of a query string (or parsed query). Never raises; may be `empty`."""
    q = parse(query) if isinstance(query, str) else query
    # Unlike ranked search, a query of stopwords alone is not kept as words: an alert that
    # needs "the" would match every paper.
    words = [w for w in keyword_terms(q) if w not in STOPWORDS and len(w) > 1]
    groups = [words, list(q.phrases), list(q.authors), list(q.excluded)]
    flat = [text for group in groups for text in group]
    tokens = tokenize(flat) if flat else []
    seqs: list[list[Seq]] = []
    i = 0
    for group in groups:
        seqs.append([tuple(t) for t in tokens[i : i + len(group)] if t])
        i += len(group)
    return Rule(
        terms=tuple(dict.fromkeys(seqs[0])),
        phrases=tuple(dict.fromkeys(seqs[1])),
        authors=tuple(dict.fromkeys(seqs[2])),
        excluded=tuple(dict.fromkeys(seqs[3])),
        categories=tuple(dict.fromkeys(c.strip().lower() for c in q.categories if c.strip())),
        year_from=q.year_from,
        year_to=q.year_to,
        text=q.text,
    )


@dataclass(slots=True)
class PaperTerms:
    """A paper as the matcher sees it: its index terms in order (for phrases) and as a set."""

    paper_id: str
    text: list[str]  # title, FIELD_GAP, abstract
    author_text: list[str]  # each author's tokens, FIELD_GAP between authors
    categories: frozenset[str]  # lower-cased, plus each one's archive ("cs.cl" -> "cs")
    year: int | None
    tokens: frozenset[str] = field(default_factory=frozenset)
    _positions: dict[str, list[tuple[int, int]]] | None = None

    def positions(self) -> dict[str, list[tuple[int, int]]]:
        """token -> [(field, index)] (field 0: text, 1: authors), built on first use."""
        if self._positions is None:
            pos: dict[str, list[tuple[int, int]]] = {}
            for f, seq in enumerate((self.text, self.author_text)):
                for i, tok in enumerate(seq):
                    pos.setdefault(tok, []).append((f, i))
            self._positions = pos
        return self._positions

    def has(self, seq: Seq, *, authors_only: bool = False) -> bool:
        """True when the tokens appear side by side in one field (authors only: in a name)."""
        if not seq or seq[0] not in self.tokens:
            return False
        if not authors_only and len(seq) == 1:
            return True
        fields = (self.text, self.author_text)
        for f, i in self.positions().get(seq[0], ()):
            if authors_only and f != 1:
                continue
            body = fields[f]
            if tuple(body[i : i + len(seq)]) == seq:
                return True
        return False

    def pseudo_tokens(self) -> set[str]:
        """Index keys beyond the words: `cat:<category>` and `cat:<archive>`."""
        return {f"cat:{c}" for c in self.categories}


def paper_terms(
    papers: Sequence[tuple[str, str, str, Iterable[str], Iterable[str], datetime | None]],
    tokenize: Tokenize = default_tokenize,
) -> list[PaperTerms]:
    """(id, title, abstract, author names, categories, published_at) -> PaperTerms, with one
    tokenizer call for the whole batch."""
    texts: list[str] = []
    for _pid, title, abstract, authors, _cats, _pub in papers:
        names = list(authors)
        texts.append(f"{title or ''}")
        texts.append(f"{abstract or ''}")
        texts.append(str(len(names)))
        texts.extend(str(n or "") for n in names)
    tokens = tokenize(texts) if texts else []
    out: list[PaperTerms] = []
    i = 0
    for pid, _title, _abstract, _authors, cats, published in papers:
        title_t, abstract_t = tokens[i], tokens[i + 1]
        n = int(texts[i + 2])
        names_t = tokens[i + 3 : i + 3 + n]
        i += 3 + n
        author_seq: list[str] = []
        for name in names_t:
            if author_seq:
                author_seq.append(FIELD_GAP)
            author_seq.extend(name)
        text_seq = [*title_t, FIELD_GAP, *abstract_t]
        lowered = {str(c).strip().lower() for c in cats if str(c).strip()}
        archives = {c.split(".", 1)[0] for c in lowered if "." in c}
        out.append(
            PaperTerms(
                paper_id=pid,
                text=text_seq,
                author_text=author_seq,
                categories=frozenset(lowered | archives),
                year=published.year if published is not None else None,
                tokens=(frozenset(text_seq) | frozenset(author_seq)) - {FIELD_GAP},
            )
        )
    return out


def passes_filters(rule: Rule, paper: PaperTerms) -> bool:
    """Everything but the plain words: phrases, authors, exclusions, categories, years."""
    if rule.categories and not any(c in paper.categories for c in rule.categories):
        return False
    if rule.year_from is not None or rule.year_to is not None:
        if paper.year is None:
            return False
        if rule.year_from is not None and paper.year < rule.year_from:
            return False
        if rule.year_to is not None and paper.year > rule.year_to:
            return False
    if any(not paper.has(seq) for seq in rule.phrases):
        return False
    if any(not paper.has(seq, authors_only=True) for seq in rule.authors):
        return False
    return not any(paper.has(seq) for seq in rule.excluded)


def words_match(rule: Rule, paper: PaperTerms) -> bool:
    """The full test by words: every plain word present and every filter passed."""
    if rule.empty:
        return False
    return all(paper.has(seq) for seq in rule.terms) and passes_filters(rule, paper)
