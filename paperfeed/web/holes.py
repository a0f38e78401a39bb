"""HTML rendered once with named holes, then filled by string joins on every request.

Why: the per-paper controls (web/slots.py) and the result cards (web/card_cache.py) are the
same template output for many papers and visitors but for a few values; rendering them once
with placeholders and joining the values in costs a fraction of a Jinja render. A hole is a
name between two private-use characters (HTML escaping leaves them alone, and no paper text,
id or path holds them unescaped); each user of this module picks its own pair, so a card can
carry a control's holes inside its own without the two being confused.
"""

from __future__ import annotations


class HoledHtml:
    """HTML cut at its holes: literal pieces and hole names, alternating."""

    __slots__ = ("pieces",)

    def __init__(self, html: str, opening: str, closing: str) -> None:
        """Cut `html` at each `opening` ... `closing` (`opening` may be several characters, as
        the page cache's per-recording marker is)."""
        self.pieces: list[tuple[bool, str]] = []  # (is a hole, text or hole name)
        pos = 0  # scanned by position: no copy of the rest of the text per hole
        while (at := html.find(opening, pos)) >= 0:
            end = html.index(closing, at)
            self.pieces.append((False, html[pos:at]))
            self.pieces.append((True, html[at + len(opening) : end]))
            pos = end + len(closing)
        self.pieces.append((False, html[pos:]))

    @classmethod
    def of(cls, pieces: list[tuple[bool, str]]) -> HoledHtml:
        """Made from its pieces (literal text and hole names, alternating, starting and ending
        with text), for HTML written with its holes rather than cut at them."""
        made = cls.__new__(cls)
        made.pieces = pieces
        return made

    def fill(self, values: dict[str, str]) -> str:
        """The HTML with every hole replaced by its value (KeyError for a missing one)."""
        # a list, not a generator: join builds one anyway, and a generator costs ~3x as much
        # per piece (a search page fills ~200 of these)
        return "".join([values[text] if hole else text for hole, text in self.pieces])
