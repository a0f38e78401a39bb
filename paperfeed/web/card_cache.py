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
  state (web/slots.py), exactly as the template would have called them.

Entries are keyed by the content version (storage/versions.py) like cached pages, and also
expire after `page_cache_seconds` (writes that do not raise the version still show).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from jinja2 import Environment, Template
from markupsafe import Markup

from paperfeed.caching import BoundedCache
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


# The cards a page has not seen before, rendered in one template call (one Jinja context for
# the page instead of one per card, which copied every template global: a third of a cold
# card's ~100 us), each followed by SEPARATOR to cut them apart.
SEPARATOR = "\ue006"
_BATCH = ('{% for item in items %}{% include "_paper_card.html" %}' + SEPARATOR
          + "{% endfor %}")


def _render(request: Request, items: Sequence[Any], now: datetime) -> list[HoledHtml]:
    """`_paper_card.html` for each of `items` with holes for what differs between pages."""
    env: Environment = request.app.state.templates.env
    state = request.app.state
    batch: Template | None = getattr(state, "card_batch", None)
    if batch is None:
        batch = state.card_batch = env.from_string(_BATCH)
    shapes = [dataclasses.replace(item, title=_hole("title"), abstract=_hole("abstract"))
              for item in items]
    html = batch.render(
        request=request, items=shapes, now=now, loop_index=_hole("index"),
        upvote_button=lambda *_a: _hole("upvote"), save_button=lambda *_a: _hole("save"),
        save_form=lambda *_a: _hole("save_form"),
    )
    cards = html.split(SEPARATOR)[: len(items)]
    assert len(cards) == len(items), "a card must not hold the separator"
    return [HoledHtml(card, OPEN, CLOSE) for card in cards]


def result_cards(
    request: Request, items: Sequence[Any], now: datetime, list_key: str = ""
) -> Markup:
    """Template global: `<li>` + card + `</li>` for each search item (searching.SearchItem),
    as `{% for %}...{% include "_paper_card.html" %}` would render them."""
    from paperfeed.web.pages.cache import page_cache
    from paperfeed.web.slots import save_button, save_form, upvote_button

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
    out: list[str] = []
    for rank, (item, card) in enumerate(zip(items, cards, strict=True), 1):
        assert card is not None
        out.append("<li>")
        out.append(card.fill({
            "title": str(item.title),
            "abstract": str(item.abstract),
            "index": f"{list_key}{rank}",
            "upvote": str(upvote_button(request, item.paper_id, item.upvotes)),
            "save": str(save_button(request, item.paper_id)),
            "save_form": str(save_form(request, item.paper_id)),
        }))
        out.append("</li>\n")
    return Markup("".join(out))


def register(env: Environment) -> None:
    env.globals["result_cards"] = result_cards
