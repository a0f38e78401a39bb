"""LaTeX in titles and abstracts: find the math, and make it readable where it cannot render.

arXiv metadata is LaTeX source: `$\\mathcal{O}(n)$`, `360$^\\circ$`, `\\$1M`, `\\emph{...}`.
Pages render math with KaTeX (a static file, run in the browser); feeds, emails, `<title>` and
meta descriptions get `plain_text()`, a readable Unicode approximation (`𝒪(n)`, `360°`, `$1M`).
The stored text is never changed, so keyword search still matches the raw words.

Math delimiters follow pandoc's rule, which keeps prices and stray dollars as text: an opening
`$` needs a non-space right after it, a closing `$` a non-space right before it and no digit
right after it; `\\$` is a literal dollar; an unmatched `$` stays text. `$$...$$`, `\\(...\\)`
and `\\[...\\]` are math too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

MAX_MATH = 400  # longer "math" is almost surely two stray dollars
# The only characters the scanners below act on; the text between them is copied in one piece
# (a per-character loop over 50 abstracts was a sixth of the search page's CPU).
_MATH_OPENERS = re.compile(r"[\\$]")
_TEXT_SPECIAL = re.compile(r"[\\{}~]")
_MATH_SPECIAL = re.compile(r"[\\{}~^_]")

SegmentKind = Literal["text", "math"]


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str  # math: the TeX between the delimiters
    display: bool = False


def split_math(text: str) -> list[Segment]:
    """Text and math segments of `text`, in order (joined back, they cover all of it)."""
    return [seg for seg, _start, _end in split_math_at(text)]


def split_math_at(text: str) -> list[tuple[Segment, int, int]]:
    """`split_math` with where each segment lies in `text`: (segment, start, end), a math
    segment's range including its delimiters (so snippets and highlights can keep away from
    the inside of a formula)."""
    out: list[tuple[Segment, int, int]] = []
    buf: list[str] = []
    buf_start = 0
    i, n = 0, len(text)

    def flush(at: int) -> None:
        if buf:
            out.append((Segment("text", "".join(buf)), buf_start, at))
            buf.clear()

    def math(tex: str, start: int, end: int, display: bool) -> None:
        nonlocal buf_start
        flush(start)
        out.append((Segment("math", tex, display=display), start, end))
        buf_start = end

    while i < n:
        found = _MATH_OPENERS.search(text, i)  # plain runs are copied whole, not per character
        if found is None:
            buf.append(text[i:])
            break
        if found.start() > i:
            buf.append(text[i : found.start()])
            i = found.start()
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "([":
                close = "\\)" if nxt == "(" else "\\]"
                end = text.find(close, i + 2)
                if end != -1 and 0 < end - i - 2 <= MAX_MATH:
                    math(text[i + 2 : end], i, end + 2, nxt == "[")
                    i = end + 2
                    continue
            buf.append(text[i : i + 2])  # keeps `\$` (and any escape) as text
            i += 2
            continue
        if ch == "$":
            if text.startswith("$$", i):
                end = text.find("$$", i + 2)
                if end != -1 and 0 < end - i - 2 <= MAX_MATH:
                    math(text[i + 2 : end], i, end + 2, True)
                    i = end + 2
                    continue
            stop = _closing_dollar(text, i)
            if stop is not None:
                math(text[i + 1 : stop], i, stop + 1, False)
                i = stop + 1
                continue
        buf.append(ch)
        i += 1
    flush(n)
    return out


def _closing_dollar(text: str, start: int) -> int | None:
    """Index of the `$` closing inline math opened at `start`, or None (pandoc's rule)."""
    n = len(text)
    if start + 1 >= n or text[start + 1].isspace() or text[start + 1] == "$":
        return None
    limit = min(n, start + MAX_MATH + 1)  # the closing `$` is at most MAX_MATH further
    j = start + 1
    while (found := _MATH_OPENERS.search(text, j, limit)) is not None:  # skips the TeX in C
        j = found.start()
        if text[j] == "\\":
            j += 2  # an escaped character (`\$` included)
            continue
        if text[j - 1].isspace() or (j + 1 < n and text[j + 1].isdigit()):
            return None
        return j
    return None


# --- readable text ---------------------------------------------------------------------------

SYMBOLS: dict[str, str] = {
    # Greek
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ",
    "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "ϕ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    # relations, operators, arrows
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "div": "÷", "sim": "∼", "simeq": "≃",
    "approx": "≈", "cong": "≅", "equiv": "≡", "neq": "≠", "ne": "≠", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "ll": "≪", "gg": "≫", "prec": "≺", "preceq": "⪯", "succ": "≻",
    "succeq": "⪰", "propto": "∝", "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂",
    "subseteq": "⊆", "supset": "⊃", "supseteq": "⊇", "cup": "∪", "cap": "∩", "setminus": "∖",
    "emptyset": "∅", "varnothing": "∅", "forall": "∀", "exists": "∃", "neg": "¬", "lnot": "¬",
    "land": "∧", "wedge": "∧", "lor": "∨", "vee": "∨", "oplus": "⊕", "otimes": "⊗",
    "odot": "⊙", "circ": "∘", "bullet": "•", "star": "⋆", "ast": "∗", "infty": "∞",
    "partial": "∂", "nabla": "∇", "ell": "ℓ", "hbar": "ℏ", "Re": "ℜ", "Im": "ℑ",
    "aleph": "ℵ", "top": "⊤", "bot": "⊥", "perp": "⊥", "parallel": "∥", "mid": "|",
    "vert": "|", "Vert": "‖", "|": "‖", "langle": "⟨", "rangle": "⟩", "lceil": "⌈",
    "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋", "sum": "∑", "prod": "∏", "int": "∫",
    "oint": "∮", "sqrt": "√", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "gets": "←", "leftrightarrow": "↔", "Rightarrow": "⇒", "Leftarrow": "⇐",
    "Leftrightarrow": "⇔", "implies": "⟹", "iff": "⟺", "mapsto": "↦", "uparrow": "↑",
    "downarrow": "↓", "longrightarrow": "⟶", "hookrightarrow": "↪", "ldots": "…",
    "dots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱", "prime": "′", "dagger": "†",
    "checkmark": "✓", "degree": "°", "angle": "∠", "triangle": "△", "square": "□",
    "log": "log", "ln": "ln", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan",
    "max": "max", "min": "min", "arg": "arg", "argmax": "argmax", "argmin": "argmin",
    "lim": "lim", "sup": "sup", "inf": "inf", "det": "det", "deg": "deg", "gcd": "gcd",
    "Pr": "Pr", "dim": "dim", "ker": "ker", "mod": "mod", "bmod": "mod", "pmod": "mod",
    # spacing and escapes
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": "  ",
    "%": "%", "$": "$", "&": "&", "#": "#", "_": "_", "{": "{", "}": "}", "\\": " ",
    "textbackslash": "\\", "textasciitilde": "~", "ldquo": "“", "rdquo": "”",
    "S": "§", "copyright": "©", "textregistered": "®", "texttrademark": "™",
}
# Commands whose one argument is shown as plain text (fonts, emphasis, boxes).
FONT_COMMANDS = {
    "text", "textrm", "textnormal", "textbf", "textit", "textsl", "texttt", "textsf",
    "textsc", "textup", "emph", "mathrm", "mathbf", "mathit", "mathsf", "mathtt",
    "boldsymbol", "bm", "operatorname", "mbox", "hbox", "underline", "uline", "overline",
    "mathnormal", "textmd", "mathring", "widetilde", "widehat", "tilde", "hat", "bar",
    "vec", "dot", "ddot", "check", "breve", "acute", "grave", "smash", "boxed", "fbox",
    "textsuperscript", "textsubscript", "ensuremath", "url", "mathscr",
}
# Commands that take an argument and show nothing (\cite, \label, colours take two: see below).
DROP_ARG_COMMANDS = {"cite", "citep", "citet", "label", "ref", "eqref", "footnote", "vspace",
                     "hspace", "thanks", "unicode"}
# Size and spacing words shown as nothing.
DROP_COMMANDS = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
    "biggr", "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "em", "it",
    "bf", "rm", "sf", "tt", "sc", "small", "large", "Large", "normalsize", "footnotesize",
    "tiny", "huge", "Huge", "centering", "noindent", "newline", "linebreak", "xspace",
    "nonumber", "mathstrut", "strut", "relax", "protect",
}
SUPERSCRIPT = dict(zip("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ", strict=True))
SUBSCRIPT = dict(zip("0123456789+-=()aeiojrstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒⱼᵣₛₜᵤᵥₓ", strict=True))
CALLIGRAPHIC = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "𝒜ℬ𝒞𝒟ℰℱ𝒢ℋℐ𝒥𝒦ℒℳ𝒩𝒪𝒫𝒬ℛ𝒮𝒯𝒰𝒱𝒲𝒳𝒴𝒵", strict=True))
BLACKBOARD = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ1", "𝔸𝔹ℂ𝔻𝔼𝔽𝔾ℍ𝕀𝕁𝕂𝕃𝕄ℕ𝕆ℙℚℝ𝕊𝕋𝕌𝕍𝕎𝕏𝕐ℤ𝟙", strict=True))
_CMD = re.compile(r"\\([A-Za-z]+\*?|.)")
_SPACES = re.compile(r"[ \t]*\n[ \t]*|[ \t]{2,}")


def plain_text(text: str) -> str:
    """`text` with its LaTeX made readable as Unicode (for feeds, mail, page titles).

    Line breaks from arXiv's hard-wrapped metadata become spaces; paragraphs (blank lines)
    stay. Never raises: anything it does not know keeps its letters without the backslash."""
    if not text:
        return ""
    parts = []
    for seg in split_math(text):
        parts.append(_readable(seg.text, math=seg.kind == "math"))
    return _tidy("".join(parts))


def _tidy(text: str) -> str:
    paragraphs = re.split(r"\n[ \t]*\n", text.strip())
    return "\n\n".join(_SPACES.sub(" ", p).strip() for p in paragraphs if p.strip())


def _readable(tex: str, *, math: bool) -> str:
    out: list[str] = []
    i, n = 0, len(tex)
    special = _MATH_SPECIAL if math else _TEXT_SPECIAL
    while i < n:
        found = special.search(tex, i)
        if found is None:
            out.append(tex[i:])
            break
        if found.start() > i:
            out.append(tex[i : found.start()])
            i = found.start()
        ch = tex[i]
        if ch == "\\":
            m = _CMD.match(tex, i)
            if m is None:  # a trailing backslash
                i += 1
                continue
            name = m.group(1).rstrip("*")
            i = m.end()
            i, text = _command(tex, i, name, math=math)
            if text[:1].isalpha() and len(text) > 1 and out and out[-1][-1:].isalnum():
                out.append(" ")  # `n\log n` reads "n log n"
            out.append(text)
        elif ch in "^_" and math:
            arg, i = _argument(tex, i + 1)
            body = _readable(arg, math=True)
            out.append(_script(body, superscript=ch == "^"))
        elif ch in "{}":
            i += 1
        elif ch == "~":
            out.append(" ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _command(tex: str, i: int, name: str, *, math: bool) -> tuple[int, str]:
    if name == "mathcal" or name == "mathbb" or name == "mathfrak":
        arg, i = _argument(tex, i)
        table = CALLIGRAPHIC if name == "mathcal" else BLACKBOARD if name == "mathbb" else {}
        return i, "".join(table.get(c, c) for c in _readable(arg, math=math))
    if name in FONT_COMMANDS:
        arg, i = _argument(tex, i)
        return i, _readable(arg, math=math)
    if name in ("frac", "dfrac", "tfrac", "binom"):
        num, i = _argument(tex, i)
        den, i = _argument(tex, i)
        a, b = _readable(num, math=True), _readable(den, math=True)
        if name == "binom":
            return i, f"C({a}, {b})"
        return i, f"{_group(a)}/{_group(b)}"
    if name == "href":
        _url, i = _argument(tex, i)
        label, i = _argument(tex, i)
        return i, _readable(label, math=math)
    if name in ("textcolor", "color", "colorbox"):
        _colour, i = _argument(tex, i)
        if name == "color":
            return i, ""
        body, i = _argument(tex, i)
        return i, _readable(body, math=math)
    if name in DROP_ARG_COMMANDS:
        _arg, i = _argument(tex, i)
        return i, ""
    if name in DROP_COMMANDS:
        return i, ""
    if name in SYMBOLS:
        return i, SYMBOLS[name]
    if name in ("'", '"', "`", "^", "~", "=", ".", "u", "v", "H", "c", "k", "r", "b"):
        arg, i = _argument(tex, i)  # accents: keep the letter
        return i, _readable(arg, math=math)
    return i, name  # an unknown command (often a paper's own macro): its name, readable


def _argument(tex: str, i: int) -> tuple[str, int]:
    """The next argument at `i`: a {braced group} (nesting aware), a command or one char."""
    n = len(tex)
    while i < n and tex[i] == " ":
        i += 1
    if i >= n:
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < n:
            c = tex[j]
            if c == "\\":
                j += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return tex[i + 1 : j], j + 1
            j += 1
        return tex[i + 1 :], n  # unbalanced: the rest
    if tex[i] == "\\":
        m = _CMD.match(tex, i)
        if m is not None:
            if m.group(1) in FONT_COMMANDS or m.group(1) in ("mathcal", "mathbb", "mathfrak"):
                arg, j = _argument(tex, m.end())  # `^\text{T}`: the command with its argument
                return f"{m.group(0)}{{{arg}}}", j
            return m.group(0), m.end()
    return tex[i], i + 1


def _group(text: str) -> str:
    return text if len(text) <= 1 or text.isalnum() else f"({text})"


def _script(body: str, *, superscript: bool) -> str:
    if body == "∘" and superscript:
        return "°"
    if body in ("′", "′′"):
        return body
    table = SUPERSCRIPT if superscript else SUBSCRIPT
    if body and all(c in table for c in body):
        return "".join(table[c] for c in body)
    if superscript and body == "*":
        return "*"
    mark = "^" if superscript else "_"
    return f"{mark}{body}" if len(body) <= 1 else f"{mark}({body})"


# --- HTML for pages ---------------------------------------------------------------------------

_TEXT_MARKUP = {"textbf": "strong", "textit": "em", "emph": "em", "textsl": "em",
                "texttt": "code", "underline": "u", "uline": "u"}


def to_html(text: str | None) -> Markup:
    """HTML for a title or abstract: text escaped, `\\emph`/`\\textbf` as <em>/<strong>, each
    math span as `<span class="tex" data-tex="TeX">readable</span>` for KaTeX to render.

    Without JavaScript the reader sees the readable form; with it, KaTeX typesets data-tex."""
    if not text:
        return Markup("")
    if isinstance(text, Markup):  # already HTML (search results with <mark>ed words): as is
        return text
    parts: list[str] = []
    for seg in split_math(text):
        if seg.kind == "math":
            readable = _readable(seg.text, math=True)
            cls = "tex tex-display" if seg.display else "tex"
            parts.append(
                f'<span class="{cls}" data-tex="{escape(seg.text)}">{escape(readable)}</span>'
            )
        else:
            parts.append(_text_html(seg.text))
    return Markup("".join(parts))


def _text_html(text: str) -> str:
    """Text-mode LaTeX to escaped HTML: emphasis as tags, other commands made readable."""
    if _TEXT_SPECIAL.search(text) is None:  # most pieces of a snippet: nothing to read
        return str(escape(text))
    out: list[str] = []
    i, start = 0, 0
    while (i := text.find("\\", i)) >= 0:
        m = _CMD.match(text, i)
        if m is not None and m.group(1) in _TEXT_MARKUP:
            out.append(str(escape(_readable(text[start:i], math=False))))
            arg, j = _argument(text, m.end())
            tag = _TEXT_MARKUP[m.group(1)]
            out.append(f"<{tag}>{escape(_readable(arg, math=False))}</{tag}>")
            i = start = j
            continue
        i += 2
    out.append(str(escape(_readable(text[start:], math=False))))
    return "".join(out)


def has_math(text: str | None) -> bool:
    return bool(text) and any(s.kind == "math" for s in split_math(text or ""))


# --- highlighted text (search results) ---------------------------------------------------------

Spans = Sequence[tuple[int, int]]


# Text without a backslash, $, {, } or ~ has no math and no TeX markup: marked by escaping it
# whole (two private-use characters stand for the <mark> tags meanwhile: the text must not hold
# them).
_OPEN_MARK, _CLOSE_MARK = "\ue010", "\ue011"


def is_plain(text: str) -> bool:
    """No math, no TeX markup, no character `marked_html` needs for itself: what marks it is
    escaping, and it is the same page HTML and API source (callers may keep the answer)."""
    # one `in` per character (each a C scan) costs a tenth of one character-class regex
    if "\\" in text or "$" in text or "{" in text or "}" in text or "~" in text:
        return False
    return text.isascii() or (_OPEN_MARK not in text and _CLOSE_MARK not in text)


def marked_html(
    text: str, spans: Spans, *, source: bool = False, plain: bool | None = None,
    ordered: bool = False,
) -> Markup:
    """`to_html(text)` with `<mark>` around the words at `spans` ((start, end) in `text`).

    A word inside a formula marks the whole formula (`<mark><span class="tex" ...>`), so the
    TeX KaTeX reads is never split by a tag. With `source`, math stays TeX source (escaped,
    delimiters kept; for the JSON API, whose clients typeset it themselves). `plain`: the
    caller's `is_plain(text)`, if it knows it; `ordered`: the caller's word that `spans` are
    sorted, apart and inside `text` (then they are not checked again)."""
    words = list(spans) if ordered else _words(text, spans)
    if is_plain(text) if plain is None else plain:
        return Markup(_marked_plain(text, words, 0, len(text)))
    return Markup(_marked(text, split_math_at(text), words, 0, len(text), source=source))


def marked_snippet(
    text: str, spans: Spans, *, width: int = 320, source: bool = False,
    plain: bool | None = None, ordered: bool = False,
) -> tuple[Markup, bool]:
    """A window of about `width` characters of `text` around its densest `spans`, marked as
    `marked_html` does; and whether a span is in it. Short texts come back whole.

    The window never starts or ends inside a formula: an edge that falls in one moves to the
    formula's start, or past its end when the formula would take most of the window (a
    formula is at most MAX_MATH characters, so the window stays bounded)."""
    words = list(spans) if ordered else _words(text, spans)
    if is_plain(text) if plain is None else plain:  # no formula to keep whole
        return _snippet_plain(text, words, width)
    segments = split_math_at(text)
    maths = [(a, b) for seg, a, b in segments if seg.kind == "math"]
    if len(text) <= width:
        return Markup(_marked(text, segments, words, 0, len(text), source=source)), bool(words)
    best = _densest(words, width)
    start = 0
    if words and best - width // 4 > 0:
        start = _cut_start(text, best - width // 4, best, maths, width)
    end = min(len(text), start + width)
    if end < len(text):
        end = _cut_end(text, start, end, maths, width)
    inside = [(a, b) for a, b in words if a >= start and b <= end]
    body = _marked(text, segments, inside, start, end, source=source)
    return Markup(("…" if start else "") + body + ("…" if end < len(text) else "")), bool(inside)


def _snippet_plain(text: str, words: list[tuple[int, int]], width: int) -> tuple[Markup, bool]:
    """`marked_snippet` of a plain text (most abstracts): no formula to keep whole, so the
    window's edges are the nearest spaces (`_cut_start` and `_cut_end` without math)."""
    n = len(text)
    if n <= width:
        return Markup(_marked_plain(text, words, 0, n)), bool(words)
    start = 0
    if words:
        best = _densest(words, width)
        want = best - width // 4
        if want > 0:
            space = text.find(" ", want)
            start = space + 1 if 0 <= space < best else want
    end = start + width
    if end < n:
        space = text.rfind(" ", start, end)
        if space > start:
            end = space
    else:
        end = n
    inside = [w for w in words if w[0] >= start and w[1] <= end]
    body = _marked_plain(text, inside, start, end)
    return Markup(("…" if start else "") + body + ("…" if end < n else "")), bool(inside)


def _marked_plain(text: str, words: list[tuple[int, int]], start: int, end: int) -> str:
    """`_marked` of a plain text: the window with stand-ins for the tags, escaped in one call
    (one C call instead of two per word), the stand-ins then replaced by the tags."""
    if not words:
        return str(escape(text[start:end]))
    pieces: list[str] = []
    pos = start
    for a, b in words:
        if a < start or b > end:
            continue
        pieces += (text[pos:a], _OPEN_MARK, text[a:b], _CLOSE_MARK)
        pos = b
    pieces.append(text[pos:end])
    html = str(escape("".join(pieces)))
    return html.replace(_OPEN_MARK, "<mark>").replace(_CLOSE_MARK, "</mark>")


def _words(text: str, spans: Spans) -> list[tuple[int, int]]:
    """Valid spans, in order, overlapping or repeated ones merged (a word two query terms
    both match must be marked once, not written twice)."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted((a, b) for a, b in spans if 0 <= a < b <= len(text)):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _densest(words: list[tuple[int, int]], width: int) -> int:
    """Start of the first word of the window of `width` holding the most words (0 if none)."""
    best_start, best_count, j = 0, -1, 0
    for i, (s, _) in enumerate(words):
        while j < len(words) and words[j][0] < s + width:
            j += 1
        if j - i > best_count:
            best_start, best_count = s, j - i
    return best_start


def _math_at(pos: int, maths: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The formula strictly around `pos` (a cut at `pos` would split it), if any."""
    for a, b in maths:
        if a < pos < b:
            return a, b
        if a >= pos:
            break
    return None


def _cut_start(text: str, start: int, limit: int, maths: list[tuple[int, int]],
               width: int) -> int:
    """Where a window wanted at `start` begins: after a space outside math before `limit`,
    else at the start (or end, if long) of the formula `start` falls in."""
    space = text.find(" ", start)
    while 0 <= space < limit:
        inside = _math_at(space, maths)
        if inside is None:
            return space + 1
        space = text.find(" ", inside[1])
    inside = _math_at(start, maths)
    if inside is None:
        return start
    a, b = inside
    return a if b - a <= width // 2 or b > limit else b


def _cut_end(text: str, start: int, end: int, maths: list[tuple[int, int]], width: int) -> int:
    """Where a window wanted to end at `end` ends: at a space outside math, else at the start
    (or end) of the formula `end` falls in."""
    space = text.rfind(" ", start, end)
    while space > start:
        inside = _math_at(space, maths)
        if inside is None:
            return space
        space = text.rfind(" ", start, inside[0])
    inside = _math_at(end, maths)
    if inside is None:
        return end
    a, b = inside
    return a if a > start else b


def _marked(text: str, segments: list[tuple[Segment, int, int]], words: list[tuple[int, int]],
            start: int, end: int, *, source: bool) -> str:
    out: list[str] = []
    for seg, a, b in segments:
        if b <= start or a >= end:
            continue
        if seg.kind == "math":  # windows never cut math: the segment is whole
            if source:
                html = str(escape(text[a:b]))
            else:
                readable = escape(_readable(seg.text, math=True))
                cls = "tex tex-display" if seg.display else "tex"
                html = f'<span class="{cls}" data-tex="{escape(seg.text)}">{readable}</span>'
            hit = any(wa < b and wb > a for wa, wb in words)
            out.append(f"<mark>{html}</mark>" if hit else html)
            continue
        lo, hi = max(a, start), min(b, end)
        pos = lo
        for wa, wb in words:
            if wa < lo or wb > hi or text[wa - 1 : wa] == "\\":  # `\emph` is markup, no word
                continue
            out.append(_plain(text[pos:wa], source=source))
            out.append(f"<mark>{_plain(text[wa:wb], source=source)}</mark>")
            pos = wb
        out.append(_plain(text[pos:hi], source=source))
    return "".join(out)


def _plain(text: str, *, source: bool) -> str:
    return str(escape(text)) if source else _text_html(text)
