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
_HOLES = ("title", "abstract", "index", "upvote", "save", "save_form")
OPEN, CLOSE = "\ue004", "\ue005"  # a card's holes; its controls' (web/slots.py) differ


def _hole(name: str) -> Markup:
    return Markup(f"{OPEN}{name}{CLOSE}")


# rendered cards, shared by a worker's threads
CardCache = BoundedCache[tuple[Any, ...], HoledHtml]


def card_cache(request: Request) -> CardCache:
    state = request.app.state
    cache: CardCache | None = getattr(state, "card_cache", None)
    if cache is None:
        cache = state.card_cache = BoundedCache(ttl=state.settings.page_cache_seconds,
                                                max_entries=MAX_CARDS)
    return cache


def _render(request: Request, items: Sequence[Any], now: datetime) -> list[HoledHtml]:
    """The cards of `items` with holes for what differs between pages (`_shell`)."""
    return [_shell(item, now) for item in items]


def _esc(value: Any) -> str:
    return str(escape(value))


def _shell(item: Any, now: datetime) -> HoledHtml:
    """`_paper_card.html` for `item`, with holes for what differs between pages, written in
    Python: the template is the card's reference and list pages render it, but a search shows
    50 papers mostly not seen before and Jinja took ~60 us a card (its context, a Markup and
    an escape per output, attribute look-ups); this takes a fraction of that. A test renders
    both for hostile, accented and varied cards and holds them equal."""
    row = (getattr(item, "row", None) or {}) if hasattr(item, "row") else {}
    names = author_names(item.authors if hasattr(item, "authors") else row.get("authors"))
    org = org_of(item.organization if hasattr(item, "organization")
                 else row.get("organization"))
    pid = _esc(item.paper_id)
    dot = '<span aria-hidden="true"> · </span>'
    pieces: list[tuple[bool, str]] = [
        (False, '\n\n\n\n<article class="paper-card" aria-labelledby="title-'), (True, "index"),
        (False, f'" data-paper="{pid}">\n  '), (True, "upvote"),
        (False, '\n  <div class="paper-body">\n    <h3 class="paper-title" id="title-'),
        (True, "index"), (False, f'"><a href="/papers/{pid}">'), (True, "title"),
    ]
    out = ["</a></h3>\n    "]
    if names:
        shown = names[:MAX_CARD_AUTHORS]
        out.append('<p class="card-authors">')
        # URLs from `quote` and counts, dates and day names hold nothing to escape
        out.append(", ".join([f'<a href="{author_url(n)}">{_esc(n)}</a>' for n in shown]))
        if len(names) > MAX_CARD_AUTHORS:
            out.append(f' <span class="muted">+{len(names) - MAX_CARD_AUTHORS}</span>')
        out.append("</p>")
    out.append('\n    <p class="abstract">')
    pieces += ((False, "".join(out)), (True, "abstract"))
    out = ['</p>\n    <p class="paper-meta">']
    if org:
        out.append(f'<a class="org-chip" href="{_esc(org["url"])}">{avatar(org["name"])}'
                   f'{_esc(org["fullname"])}</a>{dot}')
    out.append(f'\n      <span class="authors">{count_label(int(item.num_authors), "author")}'
               "</span>")
    if item.published_at:
        out.append(f'{dot}<time datetime="{item.published_at.date().isoformat()}">'
                   f"{format_day(item.published_at, now)}</time>")
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
    pieces += ((False, "".join(out)), (True, "save"), (False, "\n    </p>\n    "),
               (True, "save_form"),
               (False, f'\n  </div>\n  <a class="thumb" href="/papers/{pid}" tabindex="-1" '
                       f'aria-hidden="true"><img src="/thumbs/{pid}" alt="" width="120" '
                       'height="155" loading="lazy" decoding="async"></a>\n</article>'))
    return HoledHtml.of(pieces)


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
        for n, fresh in zip(cold, _render(request, [items[n] for n in cold], now), strict=True):
            cards[n] = fresh
            if cache.keeps:
                cache.put(keys[n], fresh)
    controls = card_controls(request, [(item.paper_id, item.upvotes) for item in items])
    if controls is None:  # a recorded page: the controls are its slots' markers
        controls = [(str(upvote_button(request, item.paper_id, item.upvotes)),
                     str(save_button(request, item.paper_id)),
                     str(save_form(request, item.paper_id))) for item in items]
    out: list[str] = []
    for rank, (item, card, (upvote, save, save_form_html)) in enumerate(
            zip(items, cards, controls, strict=True), 1):
        assert card is not None
        out.append("<li>")
        out.append(card.fill({
            "title": str(item.title),
            "abstract": str(item.abstract),
            "index": f"{list_key}{rank}",
            "upvote": upvote,
            "save": save,
            "save_form": save_form_html,
        }))
        out.append("</li>\n")
    return Markup("".join(out))


def register(env: Environment) -> None:
    env.globals["result_cards"] = result_cards
