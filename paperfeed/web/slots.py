"""The per-visitor parts of shared pages ("slots"): upvote buttons, "save" controls and the
account links.

Templates call `upvote_button(request, paper_id, upvotes)`, `save_button(request, paper_id)`,
`save_form(request, paper_id)` and `account_nav(request)`. While a page is recorded for
everyone (web/pages/cache.py) they leave a marker; otherwise, and when a recorded page is
filled for a visitor, they render `_upvote.html`, `_save.html`, `_save_form.html`,
`_account_nav.html` for that visitor. Those templates see only what is passed to them (vote
or save state, member, the return path, a CSRF field). The per-paper controls are rendered
once per worker and *state* (signed in, voted or saved) with placeholders for the paper, its
count and the return path, then filled by string joins (`HoledHtml`): a search page's 150
controls for papers and a path never seen before cost joins, not template renders (they were
a fifth of its CPU when memoised per page URL). The account links are memoised per (slot,
member). The member's votes and saves of the page's papers are one query each. Every slot's
HTML holds a placeholder for the CSRF token, replaced by the visitor's token, computed once
per request.
A new per-visitor control on shared pages should become a slot kind here: anything else that
asks who the visitor is makes pages render per member again (correct, but slow).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from jinja2 import Environment
from jinja2.filters import do_urlencode
from markupsafe import Markup, escape

from paperfeed.caching import BoundedCache
from paperfeed.models import Member
from paperfeed.web.csrf import FIELD, csrf_token
from paperfeed.web.deps import load_member
from paperfeed.web.holes import HoledHtml
from paperfeed.web.pages.cache import Recorder, Slot, recorder
from paperfeed.web.sessions import marks_for

MEMO_ENTRIES = 20_000


def token_placeholder(request: Request) -> str:
    """A per-app random stand-in for the CSRF token (same alphabet and length as a token)."""
    state = request.app.state
    value: str | None = getattr(state, "csrf_placeholder", None)
    if value is None:
        value = state.csrf_placeholder = secrets.token_hex(32)
    return value


def visitor(request: Request) -> Member | None:
    """Who the visitor is (outside a recording)."""
    return load_member(request)


def here(request: Request) -> str:
    """This page's path and query: where a form returns to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# Rendered slot HTML per (slot, visitor state), shared by the worker's threads.
_Memo = BoundedCache[tuple[Any, ...], str]


def _memo(request: Request) -> _Memo:
    state = request.app.state
    memo: _Memo | None = getattr(state, "slot_memo", None)
    if memo is None:
        memo = state.slot_memo = BoundedCache(max_entries=MEMO_ENTRIES)
    return memo


class SlotState:
    """One visitor's state for filling slots: the member, and which papers they upvoted."""

    def __init__(
        self, request: Request, member: Member | None, voted: set[str],
        saved: set[str] | None = None,
    ) -> None:
        self.request = request
        self.member = member
        self.voted = voted
        self.saved = saved or set()
        # a card's three controls share one paper and path: escape and encode them once
        self._values: dict[tuple[str, str], dict[str, str]] = {}

    def _values_of(self, paper_id: str, next_path: str) -> dict[str, str]:
        values = self._values.get((paper_id, next_path))
        if values is None:
            values = self._values[(paper_id, next_path)] = _paper_values(paper_id, next_path)
        return values

    @classmethod
    def for_request(
        cls, request: Request, member: Member | None, paper_ids: dict[str, tuple[str, ...]]
    ) -> SlotState:
        """`paper_ids`: the papers of each slot kind on the page."""
        voted: set[str] = set()
        saved: set[str] = set()
        voting = paper_ids.get("upvote", ())
        saving = {*paper_ids.get("save", ()), *paper_ids.get("save_form", ())}
        if member is not None and (voting or saving):  # kept per member and version
            voted, saved = marks_for(request, member, voting, saving)
        return cls(request, member, voted, saved)

    def render(self, slot: Slot) -> str:
        """The slot's HTML for this visitor (CSRF token still the placeholder)."""
        if slot.kind == "part":  # the member's own data: rendered for each request
            return _render_part(self.request, slot)
        signed_in = self.member is not None
        if slot.kind == "upvote":
            paper_id, upvotes, next_path = slot.args
            voted = paper_id in self.voted
            values = {**self._values_of(paper_id, next_path), "upvotes": str(int(upvotes))}
            return _form(self.request, "_upvote.html", (signed_in, voted, upvotes == 1)).fill(
                values
            )
        if slot.kind in ("save", "save_form"):
            paper_id, next_path = slot.args
            name = "_save.html" if slot.kind == "save" else "_save_form.html"
            saved = paper_id in self.saved
            return _form(self.request, name, (signed_in, saved)).fill(
                self._values_of(paper_id, next_path)
            )
        m = self.member
        state = (m.id, m.username, m.role, m.display_name) if m is not None else ()
        path, next_path = slot.args
        # per (path, member), with the return path filled in: a search page's path and query
        # differ on nearly every request, and a render per query was ~0.1 ms of its CPU
        key = (slot.kind, path, state)
        memo = _memo(self.request)
        nav = memo.get(key)
        if nav is None:
            env: Environment = self.request.app.state.templates.env
            nav = env.get_template("_account_nav.html").render(
                me=self.member, path=path, next=_NEXT, csrf_field=_csrf_field(self.request)
            )
            memo.put(key, nav)
        if _NEXT not in nav:
            return nav
        return nav.replace(_NEXT, str(escape(do_urlencode(next_path))))


# What `_account_nav.html` is rendered with for `next` (the page's path and query, which it
# shows as `next|urlencode`): letters only, so urlencoding and escaping leave it as it is and
# the memoised links take the page's own value by one replace.
_NEXT = "pfNextPathHolexQzv"


# Placeholders the per-paper controls are rendered with (private-use characters: HTML
# escaping leaves them alone, and no paper id, count or path holds them unescaped).
_HOLES = ("paper_id", "form_id", "upvotes", "next", "save_next")
OPEN, CLOSE = "\ue002", "\ue003"  # a card (web/card_cache.py) carries these inside its own


def _hole(name: str) -> str:
    return f"{OPEN}{name}{CLOSE}"


# Characters of a paper id that HTML escaping and `urlencode` (safe "/") leave unchanged:
# arXiv ids ("2506.00001", "cs/0101001") are made of them.
_PLAIN_ID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/")


def _paper_values(paper_id: str, next_path: str, *, upvotes: str = "") -> dict[str, str]:
    """What fills a control's holes: each value escaped as the template would have."""
    return {
        "paper_id": str(escape(paper_id)),
        "form_id": str(escape(paper_id.replace("/", "-"))),
        "upvotes": upvotes,
        "next": str(escape(next_path)),
        "save_next": str(escape(do_urlencode(f"/papers/{paper_id}#save"))),
    }


def _form(request: Request, template: str, state: tuple[Any, ...]) -> HoledHtml:
    """`template` rendered once per worker and state, with placeholders for the paper."""
    state_forms: dict[tuple[Any, ...], HoledHtml] | None = getattr(request.app.state,
                                                                "slot_forms", None)
    if state_forms is None:
        state_forms = request.app.state.slot_forms = {}
    key = (template, *state)
    form = state_forms.get(key)
    if form is None:
        env: Environment = request.app.state.templates.env
        if template == "_upvote.html":
            signed_in, voted, one = state
            flags = {"signed_in": signed_in, "voted": voted, "plural": not one}
        else:
            signed_in, saved = state
            flags = {"signed_in": signed_in, "saved": saved}
        html = env.get_template(template).render(
            **{name: Markup(_hole(name)) for name in _HOLES}, **flags,
            csrf_field=_csrf_field(request),
        )
        form = state_forms[key] = HoledHtml(html, OPEN, CLOSE)
    return form


def _csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, token_placeholder(request)
    )


def _slot(
    request: Request, slot: Slot, voted: set[str] | None = None, saved: set[str] | None = None
) -> Markup:
    rec: Recorder | None = recorder(request)
    if rec is not None:
        return Markup(rec.marker(slot))
    member = visitor(request)
    html = SlotState(request, member, voted or set(), saved).render(slot)
    return Markup(html.replace(token_placeholder(request), csrf_token(request)))


def upvote_button(request: Request, paper_id: str, upvotes: int) -> Markup:
    """Template global: the upvote toggle of one paper, for this visitor."""
    slot = Slot("upvote", (paper_id, int(upvotes or 0), here(request)))
    if recorder(request) is not None:
        return _slot(request, slot)
    from paperfeed.web.member_globals import has_voted

    return _slot(request, slot, {paper_id} if has_voted(request, paper_id) else set())


def _save_slot(request: Request, kind: str, paper_id: str) -> Markup:
    slot = Slot(kind, (paper_id, here(request)))
    if recorder(request) is not None or visitor(request) is None:
        return _slot(request, slot)
    from paperfeed.web.collect_globals import is_saved

    return _slot(request, slot, saved={paper_id} if is_saved(request, paper_id) else set())


def save_button(request: Request, paper_id: str) -> Markup:
    """Template global: a card's "Save" control, for this visitor."""
    return _save_slot(request, "save", paper_id)


def save_form(request: Request, paper_id: str) -> Markup:
    """Template global: the hidden form behind a card's "Save" button (members only)."""
    return _save_slot(request, "save_form", paper_id)


def card_controls(
    request: Request, papers: Sequence[tuple[str, int]]
) -> list[tuple[str, str, str]] | None:
    """The upvote, save and save-form controls of each (paper_id, upvotes) of a page of cards,
    for this visitor: what `upvote_button`, `save_button` and `save_form` return for each, in
    one pass (a search page has 50 cards: 150 calls each finding the visitor, their CSRF
    token, the return path and the control's form took about as long as writing the cards).
    None while the page is recorded: the caller then calls those three, which leave markers.
    The member's votes and saves come from `sessions.marks_for` (kept per member and content
    version; two queries a page, `prime_votes` and `prime_saved`, were ~15% of a member's
    search page)."""
    if recorder(request) is not None:
        return None
    member = visitor(request)
    signed_in = member is not None
    ids = [paper_id for paper_id, _ in papers]
    voted_ids, saved_ids = (marks_for(request, member, ids, ids) if member is not None
                            else (set(), set()))
    next_path = here(request)
    placeholder, token = token_placeholder(request), csrf_token(request)
    forms: dict[tuple[Any, ...], HoledHtml] = {}  # this request's, with its token

    def form(template: str, state: tuple[Any, ...]) -> HoledHtml:
        key = (template, *state)
        made = forms.get(key)
        if made is None:
            shared = _form(request, template, state)
            made = forms[key] = HoledHtml.of(
                [(hole, text if hole else text.replace(placeholder, token))
                 for hole, text in shared.pieces])
        return made

    out: list[tuple[str, str, str]] = []
    next_value = str(escape(next_path))  # the page's, escaped once
    for paper_id, count in papers:
        upvotes = int(count or 0)
        voted, saved = paper_id in voted_ids, paper_id in saved_ids
        if _PLAIN_ID.issuperset(paper_id):  # what escape and urlencode leave as it is
            values = {"paper_id": paper_id, "form_id": paper_id.replace("/", "-"),
                      "upvotes": str(upvotes), "next": next_value,
                      "save_next": f"/papers/{paper_id}%23save"}
        else:
            values = _paper_values(paper_id, next_path, upvotes=str(upvotes))
        out.append((form("_upvote.html", (signed_in, voted, upvotes == 1)).fill(values),
                    form("_save.html", (signed_in, saved)).fill(values),
                    form("_save_form.html", (signed_in, saved)).fill(values)))
    return out


def member_part(request: Request, template: str, **context: Any) -> Markup:
    """Template global: an included template that shows the visitor's own things (the paper
    page's comment forms, collections box, moderation panel) on a shared page. While the page
    is recorded it is a slot, so the page stays shared with members; each request renders it
    for its visitor (no memo: it lists the member's own data). `context` must be hashable."""
    slot = Slot("part", (template, tuple(sorted(context.items()))))
    rec: Recorder | None = recorder(request)
    if rec is not None:
        return Markup(rec.marker(slot))
    html = _render_part(request, slot)
    return Markup(html.replace(token_placeholder(request), csrf_token(request)))


def _render_part(request: Request, slot: Slot) -> str:
    template, items = slot.args
    env: Environment = request.app.state.templates.env
    html = env.get_template(template).render(request=request, **dict(items))
    # The visitor's token becomes the placeholder again, as in every slot's HTML: an
    # anonymous page is assembled once and served to every visitor (cache._fill).
    return html.replace(csrf_token(request), token_placeholder(request))


def account_nav(request: Request) -> Markup:
    """Template global: the header's account links (sign in, or the member's links)."""
    return _slot(request, Slot("account", (request.url.path, here(request))))


def csrf_input(request: Request) -> Markup:
    """Template global: the hidden CSRF field (the placeholder while a page is recorded)."""
    token = token_placeholder(request) if recorder(request) is not None else csrf_token(request)
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token)


def register(env: Environment) -> None:
    env.globals.update(upvote_button=upvote_button, save_button=save_button,
                       save_form=save_form, account_nav=account_nav, csrf_input=csrf_input,
                       member_part=member_part)
