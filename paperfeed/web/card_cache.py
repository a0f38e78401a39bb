"""Rendered result cards shared between searches: `result_cards(request, items, now)`.

Why: a search page shows 50 cards, and every distinct query used to render `_paper_card.html`
50 times (~100 us each, a sixth of the page's CPU at 75k papers, bench/pages.py) although
all that differs between two searches showing one paper is its highlighted title and snippet,
its rank, and the visitor's controls. So a card is rendered once per (paper, its counts,
content version, year) and worker with placeholders for those parts, cut at them, and filled
by string joins on every page that shows it:

- title and abstract: the search's highlighted Markup (escaped by items_for);
- the rank-based element id (`title-{{ loop_index }}`);
- the upvote and save controls: the real `upvote_button` / `save_button` / `save_form` of
  this request, so a recorded page gets its slot markers and a filled page the visitor's
  state (web/slots.py), exactly as the template would have called them; a page rendered for
  one visitor gets all of its controls from `slots.card_controls` in one pass (150 calls each
  finding the visitor, token and path cost about what writing the new cards did).

A card not seen before is written by `_shell`, the same HTML as `_paper_card.html` in Python
(a search shows mostly papers no recent page showed: on the bench's distinct queries ~3% of a
page's cards were in the cache, and Jinja took ~60 us a card, a tenth of the page's own CPU);
the template stays the card's reference, and tests hold the two equal.

Entries are keyed by the content version (storage/versions.py) like cached pages, and also
expire after `page_cache_seconds` (writes that do not raise the version still show).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from jinja2 import Environment
from markupsafe import Markup, escape

from paperfeed.caching import BoundedCache
from paperfeed.feed import count_label, format_day
from paperfeed.web.cards import (
    MAX_CARD_AUTHORS,
    author_names,
    author_url,
    avatar,
    org_of,
    user_url,
)
from paperfeed.web.holes import HoledHtml

MAX_CARDS = 2048  # ~1.5-2 kB each without title and abstract: ~4 MB per worker at most
# A card's holes, always in this order (`_shell` writes them so): its literal text is the
# pieces between them, a tuple of 8 strings (see `Card`).
_HOLES = ("index", "upvote", "index", "title", "abstract", "save", "save_form")
OPEN, CLOSE = "\ue004", "\ue005"  # a card's holes; its controls' (web/slots.py) differ

# A rendered card: the literal HTML between its holes (`_HOLES`, in that order). A tuple of
# strings, not a HoledHtml of (is-hole, text) pairs: filling it is one tuple per card into the
# page's one join, and the collector stops tracking a tuple of strings, so the ~2,000 cards a
# worker keeps add nothing to its full collections (a page of new cards used to add ~1,000
# tracked objects: ~20 pairs and a list per card).
Card = tuple[str, str, str, str, str, str, str, str]


def _hole(name: str) -> Markup:
    return Markup(f"{OPEN}{name}{CLOSE}")


def as_holed(card: Card) -> HoledHtml:
    """The card as HTML cut at its holes (tests compare it with the template's)."""
    pieces: list[tuple[bool, str]] = [(False, card[0])]
    for name, text in zip(_HOLES, card[1:], strict=True):
        pieces += [(True, name), (False, text)]
    return HoledHtml.of(pieces)


# rendered cards, shared by a worker's threads
CardCache = BoundedCache[tuple[Any, ...], Card]


def card_cache(request: Request) -> CardCache:
    state = request.app.state
    cache: CardCache | None = getattr(state, "card_cache", None)
    if cache is None:
        cache = state.card_cache = BoundedCache(ttl=state.settings.page_cache_seconds,
                                                max_entries=MAX_CARDS)
    return cache


def _render(request: Request, items: Sequence[Any], now: datetime) -> list[Card]:
    """The cards of `items` with holes for what differs between pages (`_shell`)."""
    days = _DAYS.get(now.year)  # publication days as cards show them, kept by the worker
    if days is None or len(days) > MAX_DAYS:
        days = _DAYS[now.year] = {}
    return [_shell(item, now, days) for item in items]


# A card's publication day as HTML by date, per year of `now` (format_day drops the year of
# the current one): the catalog spans a few hundred days, a page shows ~40 of them, and
# formatting each (strftime) was ~5% of a new card.
_DAYS: dict[int, dict[Any, str]] = {}
MAX_DAYS = 20_000


def _esc(value: Any) -> str:
    return str(escape(value))


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~ ")


def _author_link(name: str) -> str:
    """`<a href="{{ name|author_url }}">{{ name }}</a>` for a name `author_names` gave (its
    whitespace already single spaces). Most names are ASCII letters, dots, hyphens and
    spaces: their URL is the name with %20 for each space, what `quote` returns for them
    (its per-character path took a third of a new card)."""
    if _URL_SAFE.issuperset(name):
        return f'<a href="/authors/{name.replace(" ", "%20")}">{name}</a>'
    return f'<a href="{author_url(name)}">{_esc(name)}</a>'


def _shown_names(authors: Any) -> tuple[list[str], int]:
    """The first `MAX_CARD_AUTHORS` of `author_names(authors)` and how many more there are,
    without normalising the whitespace of every name: a paper can have hundreds of authors
    and a card shows three (a name counts when it holds more than whitespace, as there)."""
    try:  # rows' authors are {"name": ...} dicts
        named = [name for a in authors or () if (name := a.get("name", ""))
                 and not name.isspace()]
    except AttributeError:  # Author objects (FeedItems), plain strings
        names = author_names(authors)
        return names[:MAX_CARD_AUTHORS], max(len(names) - MAX_CARD_AUTHORS, 0)
    shown = [" ".join(name.split()) for name in named[:MAX_CARD_AUTHORS]]
    return shown, max(len(named) - MAX_CARD_AUTHORS, 0)


_DOT = '<span aria-hidden="true"> · </span>'


def _shell(item: Any, now: datetime, days: dict[Any, str] | None = None) -> Card:
    """`_paper_card.html` for `item`, with holes for what differs between pages, written in
    Python: the template is the card's reference and list pages render it, but a search shows
    50 papers mostly not seen before and Jinja took ~60 us a card (its context, a Markup and
    an escape per output, attribute look-ups); this takes a fraction of that. A test renders
    both for hostile, accented and varied cards and holds them equal. `days`: format_day's
    answers by date, shared by a page's cards."""
    row = (getattr(item, "row", None) or {}) if hasattr(item, "row") else {}
    authors = item.authors if hasattr(item, "authors") else row.get("authors")
    shown, more = _shown_names(authors)
    org = org_of(item.organization if hasattr(item, "organization")
                 else row.get("organization"))
    pid = _esc(item.paper_id)
    dot = _DOT
    out = ["</a></h3>\n    "]
    if shown:
        out.append('<p class="card-authors">')
        # URLs from `quote` and counts, dates and day names hold nothing to escape
        out.append(", ".join([_author_link(n) for n in shown]))
        if more:
            out.append(f' <span class="muted">+{more}</span>')
        out.append("</p>")
    out.append('\n    <p class="abstract">')
    before_abstract = "".join(out)
    out = ['</p>\n    <p class="paper-meta">']
    if org:
        out.append(f'<a class="org-chip" href="{_esc(org["url"])}">{avatar(org["name"])}'
                   f'{_esc(org["fullname"])}</a>{dot}')
    out.append(f'\n      <span class="authors">{count_label(int(item.num_authors), "author")}'
               "</span>")
    published = item.published_at
    if published:
        day = published.date()
        shown_day = days.get(day) if days is not None else None
        if shown_day is None:
            shown_day = (f'{dot}<time datetime="{day.isoformat()}">'
                         f"{format_day(published, now)}</time>")
            if days is not None:
                days[day] = shown_day
        out.append(shown_day)
    if item.num_comments:
        out.append(f'{dot}<a class="comments" href="/papers/{pid}#comments">'
                   f'{count_label(int(item.num_comments), "comment")}</a>')
    if getattr(item, "hf_comments", 0):
        out.append(f'{dot}<a class="hf-comments" href="https://huggingface.co/papers/{pid}'
                   '#community" rel="noopener" title="Comments on the paper\'s Hugging Face '
                   'page, counted when it was imported">'
                   f'{count_label(int(item.hf_comments), "comment")} on Hugging Face</a>')
    submitter = getattr(item, "submitter", None)
    if submitter:
        shown_name = submitter.fullname or submitter.name
        out.append(f'{dot}<span class="submitted-by">{avatar(shown_name)}Submitted by '
                   f'<a href="{_esc(user_url(submitter.name))}">{_esc(shown_name)}</a></span>')
    out.append(f"\n      {dot}")
    return (
        '\n\n\n\n<article class="paper-card" aria-labelledby="title-',
        f'" data-paper="{pid}">\n  ',
        '\n  <div class="paper-body">\n    <h3 class="paper-title" id="title-',
        f'"><a href="/papers/{pid}">',
        before_abstract,
        "".join(out),
        "\n    </p>\n    ",
        f'\n  </div>\n  <a class="thumb" href="/papers/{pid}" tabindex="-1" '
        f'aria-hidden="true"><img src="/thumbs/{pid}" alt="" width="120" '
        'height="155" loading="lazy" decoding="async"></a>\n</article>',
    )


def result_cards(
    request: Request, items: Sequence[Any], now: datetime, list_key: str = ""
) -> Markup:
    """Template global: `<li>` + card + `</li>` for each search item (searching.SearchItem),
    as `{% for %}...{% include "_paper_card.html" %}` would render them."""
    from paperfeed.web.pages.cache import page_cache
    from paperfeed.web.slots import card_controls, save_button, save_form, upvote_button

    if not items:
        return Markup("")
    cache = card_cache(request)
    version = page_cache(request).version(request, fresh=False)
    keys = [(item.paper_id, item.upvotes, item.num_comments, item.hf_comments,
             item.num_authors, version, now.year) for item in items]
    held = cache.get_many(keys) if cache.keeps else {}  # one lock for the page's cards
    cards = [held.get(key) for key in keys]
    cold = [n for n, card in enumerate(cards) if card is None]
    if cold:
        made = _render(request, [items[n] for n in cold], now)
        for n, fresh in zip(cold, made, strict=True):
            cards[n] = fresh
        if cache.keeps:  # one lock for the page's new cards
            cache.put_many({keys[n]: fresh for n, fresh in zip(cold, made, strict=True)})
    controls = card_controls(request, [(item.paper_id, item.upvotes) for item in items])
    if controls is None:  # a recorded page: the controls are its slots' markers
        controls = [(str(upvote_button(request, item.paper_id, item.upvotes)),
                     str(save_button(request, item.paper_id)),
                     str(save_form(request, item.paper_id))) for item in items]
    out: list[str] = []
    for rank, (item, card, (upvote, save, save_form_html)) in enumerate(
            zip(items, cards, controls, strict=True), 1):
        assert card is not None
        index = f"{list_key}{rank}"
        # the holes in `_HOLES` order, the whole page joined once
        out += ("<li>", card[0], index, card[1], upvote, card[2], index, card[3],
                str(item.title), card[4], str(item.abstract), card[5], save, card[6],
                save_form_html, card[7], "</li>\n")
    return Markup("".join(out))


def register(env: Environment) -> None:
    env.globals["result_cards"] = result_cards
