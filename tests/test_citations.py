"""BibTeX and RIS as reference managers read them: round-trips through bibtexparser, arXiv's
own export form, unique keys for collections, hostile text that cannot break a file."""

from __future__ import annotations

from datetime import datetime

import bibtexparser
import pytest
from bibtexparser.bparser import BibTexParser
from hypothesis import example, given, settings
from hypothesis import strategies as st

from paperfeed.citations import bibtex, citation_key, ris
from tests.feed_factories import feature, paper

ROW = {
    "id": "2506.11924",
    "title": "Aligned Novel View Image and Geometry Synthesis via Cross-modal\n  Attention "
             "Instillation",
    "authors": [{"name": "Min-Seop Kwak"}, {"name": "Junho Kim"}, {"name": "Jin-Hwa Kim"}],
    "abstract": "We save \\$1M in $\\mathcal{O}(n)$ time.",
    "published_at": datetime(2025, 6, 13, 16, 19),
    "primary_category": "cs.CV",
    "categories": ["cs.CV", "cs.LG"],
    "doi": None,
}


def parse(text: str) -> list[dict[str, str]]:
    parser = BibTexParser(common_strings=True)
    parser.ignore_nonstandard_types = False
    return bibtexparser.loads(text, parser=parser).entries


def test_bibtex_has_arxivs_export_form_and_round_trips():
    text = bibtex([ROW])
    assert text.startswith("@misc{kwak2025aligned,\n")
    (entry,) = parse(text)
    assert entry["ENTRYTYPE"] == "misc" and entry["ID"] == "kwak2025aligned"
    assert entry["title"] == ("Aligned Novel View Image and Geometry Synthesis via Cross-modal "
                              "Attention Instillation")
    assert entry["author"] == "Min-Seop Kwak and Junho Kim and Jin-Hwa Kim"
    assert entry["year"] == "2025" and entry["eprint"] == "2506.11924"
    assert entry["archiveprefix"] == "arXiv" and entry["primaryclass"] == "cs.CV"
    assert entry["url"] == "https://arxiv.org/abs/2506.11924"


def test_collection_keys_are_unique_and_tex_titles_kept():
    rows = [dict(ROW, id=f"2506.1192{i}", title="$\\mathcal{X}$-KD: {Knowledge} Distillation")
            for i in range(3)]
    entries = parse(bibtex(rows))
    assert [e["ID"] for e in entries] == ["kwak2025xkd", "kwak2025xkda", "kwak2025xkdb"]
    assert entries[0]["title"] == "$\\mathcal{X}$-KD: {Knowledge} Distillation"


@pytest.mark.parametrize("title", ["Unbalanced { brace", "Closing } first {", "ends with \\",
                                   "\\{", "an escaped \\{ open", "\\} then {x}", "\\\\{",
                                   "A % comment @misc{x, and } and {{", "Tab\tand\x00nul"])
def test_hostile_titles_still_parse(title):
    (entry,) = parse(bibtex([dict(ROW, title=title, authors=[{"name": "Team A and B"}])]))
    assert entry["eprint"] == "2506.11924"
    assert entry["author"] == "{Team A and B}"  # one author, not two


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80), st.lists(st.text(max_size=20), max_size=4))
@example("\\{", [])  # BibTeX counts an escaped brace as a brace (found by this test in CI)
@example("x", ["\\{"])
def test_any_text_gives_one_parseable_entry(title, names):
    row = dict(ROW, title=title, authors=[{"name": n} for n in names])
    entries = parse(bibtex([row]))
    assert len(entries) == 1 and entries[0]["eprint"] == "2506.11924"
    assert citation_key(row).isascii()


def test_ris_lists_each_author_family_first_and_readable_text():
    text = ris([ROW, dict(ROW, id="2506.00001", doi="10.1/x")])
    records = text.strip().split("ER  - ")
    assert len([r for r in records if r.strip()]) == 2
    lines = text.splitlines()
    assert lines[0] == "TY  - UNPB"
    assert "AU  - Kwak, Min-Seop" in lines and "AU  - Kim, Jin-Hwa" in lines
    assert "PY  - 2025" in lines and "DA  - 2025/06/13" in lines
    assert "AB  - We save $1M in 𝒪(n) time." in lines
    assert "UR  - https://arxiv.org/abs/2506.11924" in lines and "DO  - 10.1/x" in lines
    assert all(line[:2].isupper() and line[2:6] == "  - " for line in lines if line)


def test_citation_routes_and_copy_button(client, engine):
    feature(engine, [paper("2506.11924", title=ROW["title"], authors=["Min-Seop Kwak"]),
                     paper("hep-th/9901001", title="Old style")], datetime(2025, 6, 16).date())
    bib = client.get("/papers/2506.11924.bib")
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    assert parse(bib.text)[0]["eprint"] == "2506.11924"
    r = client.get("/papers/2506.11924.ris")
    assert r.headers["content-type"].startswith("application/x-research-info-systems")
    assert "TY  - UNPB" in r.text
    assert parse(client.get("/papers/hep-th/9901001.bib").text)[0]["eprint"] == "hep-th/9901001"
    assert client.get("/papers/2506.99999.bib").status_code == 404
    page = client.get("/papers/2506.11924").text
    assert 'data-copy="#bibtex"' in page and "@misc{kwak2025aligned," in page


def test_a_collection_exports_every_paper_in_its_order(client, engine, settings):
    from paperfeed import library
    from paperfeed.accounts import signin
    from tests.members_support import add_member

    feature(engine, [paper("2506.00001", title="First saved", authors=["Ada Lovelace"]),
                     paper("2506.00002", title="Second saved", authors=["Ada Lovelace"])],
            datetime(2025, 6, 16).date())
    owner = add_member(engine, "owner@example.org")
    now = datetime(2025, 6, 17)
    public = library.create_collection(engine, owner, name="Reading group", description="",
                                       public=True, now=now)
    private = library.create_collection(engine, owner, name="Mine", description="",
                                        public=False, now=now)
    for cid in (public, private):
        library.save_paper(engine, owner, "2506.00002", collection_id=cid, now=now)
        library.save_paper(engine, owner, "2506.00001", collection_id=cid, now=now)
    entries = parse(client.get(f"/collections/{public}.bib").text)
    assert [e["eprint"] for e in entries] == ["2506.00002", "2506.00001"]
    assert [e["ID"] for e in entries] == ["lovelace2025second", "lovelace2025first"]
    assert client.get(f"/collections/{public}.ris").text.count("TY  - UNPB") == 2
    assert client.get(f"/collections/{private}.bib").status_code == 404  # not for strangers
    client.cookies.set(signin.SESSION_COOKIE,
                       signin.start_session(engine, settings, owner, now=datetime.now()))
    mine = client.get(f"/collections/{private}.bib")
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert len(parse(mine.text)) == 2
    assert f'href="/collections/{public}.bib"' in client.get(f"/collections/{public}").text


@pytest.mark.parametrize("title, field", [
    ("MiroThinker-1.7 & H1: Research Agents", "MiroThinker-1.7 \\& H1: Research Agents"),
    ("Q&A at 100% on C# code", "Q\\&A at 100\\% on C\\# code"),
    ("R\\&D kept as the author wrote it", "R\\&D kept as the author wrote it"),
    ("$\\mathcal{O}(n)$ & more", "$\\mathcal{O}(n)$ \\& more"),
])
def test_tex_specials_in_titles_are_escaped_so_latex_compiles(title, field):
    """A plain `&` (Hugging Face titles are plain text) is LaTeX's alignment tab, `%` starts a
    comment, `#` a parameter: copied into a paper's .bib they stopped its LaTeX build."""
    text = bibtex([dict(ROW, title=title, authors=[{"name": "Smith & Sons"}])])
    assert f"title={{{field}}}," in text
    assert "author={Smith \\& Sons}," in text
    (entry,) = parse(text)
    assert entry["title"] == field


@pytest.mark.parametrize("title, field", [
    ("Tokens_per_second at 2^10 scale", "Tokens\\_per\\_second at 2\\^{}10 scale"),
    ("Save $5 on $x_1$ and snake_case", "Save \\$5 on $x_1$ and snake\\_case"),
    ("Already \\_escaped and $a^b$", "Already \\_escaped and $a^b$"),
    ("A ~10x speedup, Fig.~2", "A {\\textasciitilde}10x speedup, Fig.~2"),
    ("\\\\_ after an escaped backslash", "\\\\\\_ after an escaped backslash"),
])
def test_underscores_carets_and_stray_dollars_outside_math_are_escaped(title, field):
    """`_`, `^` and an unpaired `$` outside math stop a LaTeX build ("Missing $ inserted");
    inside `$...$` they are math and kept. `~` before a digit is "about", not a tie."""
    text = bibtex([dict(ROW, title=title, authors=[{"name": "Ann_Lee"}])])
    assert f"title={{{field}}}," in text
    assert "author={Ann\\_Lee}," in text
    (entry,) = parse(text)
    assert entry["title"] == field
