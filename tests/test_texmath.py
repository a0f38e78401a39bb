"""LaTeX in titles and abstracts: math found by pandoc's dollar rule, readable Unicode for
feeds and mail, escaped HTML with KaTeX hooks for pages; never raises on any input."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from paperfeed.texmath import has_math, plain_text, split_math, to_html


@pytest.mark.parametrize(("tex", "readable"), [
    ("GenM$^3$: Generative", "GenM³: Generative"),
    ("A$^\\text{T}$A: Adaptive", "AᵀA: Adaptive"),
    ("Neural $\\mathcal{SHOIQ}$", "Neural 𝒮ℋ𝒪ℐ𝒬"),
    ("in $\\mathcal{O}(n\\log n)$ time", "in 𝒪(n log n) time"),
    ("a 360$^\\circ$ view", "a 360° view"),
    ("we save \\$1M a year", "we save $1M a year"),
    ("costs $5 and $10 today", "costs $5 and $10 today"),
    ("one stray $ sign", "one stray $ sign"),
    ("ASR$\\rightarrow$LLM", "ASR→LLM"),
    ("$\\frac{1}{2}$ and $x_{i}^{2}$ in $\\mathbb{R}^d$", "1/2 and xᵢ² in ℝ^d"),
    ("We \\emph{propose} \\textbf{X} at 95\\% accuracy", "We propose X at 95% accuracy"),
    ("($μ+λ$) Evolutionary", "(μ+λ) Evolutionary"),
    ("Support of $\\varepsilon$-Capacity", "Support of ε-Capacity"),
    ("hard\n  wrapped\nline", "hard wrapped line"),
    ("see \\href{https://x.org}{our code}", "see our code"),
    ("$\\model$ beats \\method{} by 2x", "model beats method by 2x"),
    ("", ""),
])
def test_plain_text_reads_like_the_rendered_math(tex, readable):
    assert plain_text(tex) == readable


def test_dollars_follow_pandocs_rule():
    assert [s.kind for s in split_math("costs $5 and $10")] == ["text"]
    assert [s.kind for s in split_math("\\$1M and \\$2M")] == ["text"]
    assert [(s.kind, s.text) for s in split_math("a $x$ b")] == [
        ("text", "a "), ("math", "x"), ("text", " b")]
    assert [s.display for s in split_math("$$E=mc^2$$") if s.kind == "math"] == [True]
    assert [s.text for s in split_math("\\(a\\) and \\[b\\]") if s.kind == "math"] == ["a", "b"]
    assert not has_math("The $ 5 prize") and has_math("an $O(1)$ step")


def test_html_escapes_text_and_carries_tex_for_katex():
    html = str(to_html('<script>x</script> $a<b$ and \\emph{<i>}'))
    assert "<script>" not in html and "<i>" not in html
    assert '<span class="tex" data-tex="a&lt;b">a&lt;b</span>' in html
    assert "<em>&lt;i&gt;</em>" in html


PIECES = list("ab $\\{}^_<>&\"'\n") + ["\\frac", "\\emph", "\\mathcal", "$$", "\\("]


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_never_raises_and_never_leaks_markup(text):
    readable = plain_text(text)
    assert isinstance(readable, str)
    html = str(to_html(text))
    stripped = html.replace('<span class="tex" data-tex="', "").replace(
        '<span class="tex tex-display" data-tex="', "")
    for tag in ("<em>", "</em>", "</span>", '">'):
        stripped = stripped.replace(tag, "")
    assert "<" not in stripped and ">" not in stripped


def test_html_that_is_already_markup_passes_through():
    from markupsafe import Markup

    highlighted = Markup("A <mark>diffusion</mark> model")
    assert to_html(highlighted) is highlighted


MATHY = ["a", "b", " ", "  ", "$x$", "$\\log n$", "$$y$$", "\\(z\\)", "\\$", "$", "\\emph{w}",
         "{", "}", "<", "&", "word ", "$\\mathcal{O}(n)$ "]


@example(text="a", raw_spans=[(0, 1), (0, 1)], width=8)  # one word matched twice
@example(text="$\\log n$$$y$$$", raw_spans=[(13, 1)], width=8)  # the snippet's text recurs
@given(st.lists(st.sampled_from(MATHY), max_size=60).map("".join),
       st.lists(st.tuples(st.integers(0, 200), st.integers(1, 6)), max_size=8),
       st.integers(8, 60))
def test_snippets_never_cut_or_split_a_formula(text, raw_spans, width):
    import html as html_lib
    import re

    from paperfeed.texmath import marked_snippet, split_math_at

    spans = [(a, a + n) for a, n in raw_spans if a + n <= len(text)]
    maths = [(a, b) for seg, a, b in split_math_at(text) if seg.kind == "math"]
    source, _ = marked_snippet(text, spans, width=width, source=True)
    plain = html_lib.unescape(str(source).replace("<mark>", "").replace("</mark>", ""))
    body = plain.removeprefix("…").removesuffix("…") if len(text) > width else plain
    # The snippet's place in the text: where the body occurs (it may occur more than once, e.g.
    # a lone "$"; then one of its places must leave every formula whole).
    starts = [m.start() for m in re.finditer(f"(?={re.escape(body)})", text)] if body else [0]
    assert starts, (text, body)
    assert any(not any(a < edge < b for a, b in maths for edge in (start, start + len(body)))
               for start in starts), (text, body)
    page, _ = marked_snippet(text, spans, width=width)
    tex = {seg.text for seg, _a, _b in split_math_at(text) if seg.kind == "math"}
    for value in re.findall(r'data-tex="([^"]*)"', str(page)):
        assert html_lib.unescape(value) in tex
