"""arXiv API (Atom): both real response formats, error entries, unsafe XML, paged fetching."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.errors import BadRequest, ParseError, SourceError
from paperfeed.models import parse_arxiv_id
from paperfeed.sources.arxiv_api import (
    category_query,
    fetch_by_ids,
    import_category,
    job_key,
    parse_feed,
)
from paperfeed.storage.jobs import get_state
from paperfeed.storage.papers import get_paper
from paperfeed.storage.schema import papers
from tests.conftest import FIXTURES

ARXIV = FIXTURES / "arxiv"
API = "https://export.arxiv.org/api/query"


def feed(name: str):
    return parse_feed((ARXIV / name).read_bytes())


def test_current_format_single_id_maps_every_field() -> None:
    page = feed("query_doc.xml")
    assert page.total == 1 and not page.errors
    (paper,) = page.papers
    assert (paper.id, paper.version) == ("2206.06921", 3)
    assert paper.title == "Attainable forms of Assouad spectra"
    assert paper.abstract.startswith("Let $d\\in\\mathbb{N}$ and let $\\varphi\\colon(0,1)")
    assert paper.categories == ["math.CA", "math.DS", "math.MG"]
    assert paper.primary_category == "math.CA"
    assert paper.published_at == datetime(2022, 6, 14, 15, 35, 46)
    assert paper.updated_at == datetime(2025, 1, 30, 1, 23, 42)
    assert paper.doi == "10.1512/iumj.2024.73.9928"
    assert paper.journal_ref == "Indiana Univ. Math. J. 73 (2024), 1331-1356"
    assert [a.name for a in paper.authors] == ["Alex Rutar"]


@pytest.mark.parametrize("folder", ["", "legacy_api_2025-08/"])
def test_both_formats_parse_the_same_search(folder: str) -> None:
    page = feed(folder + "query.xml")
    assert len(page.papers) == 10 and not page.errors
    assert page.total > 7000
    old_style = [p for p in page.papers if "/" in p.id]
    assert old_style and all(p.version for p in page.papers)
    assert all("\n" not in p.title and "  " not in p.abstract for p in page.papers)


@pytest.mark.parametrize("folder", ["", "legacy_api_2025-08/"])
def test_id_list_with_missing_ids_returns_only_the_existing_paper(folder: str) -> None:
    page = feed(folder + "query_missing_id.xml")
    assert [p.id for p in page.papers] == ["2201.13452"] and not page.errors
    paper = page.papers[0]
    assert paper.categories == ["math.AP"]  # legacy MSC class "35" is not a category
    assert paper.title.startswith("Asymptotic Analysis for a Nonlinear Reaction-Diffusion System")


@pytest.mark.parametrize("folder", ["", "legacy_api_2025-08/"])
def test_empty_result_has_no_papers(folder: str) -> None:
    page = feed(folder + "query_empty.xml")
    assert page.papers == [] and page.errors == [] and page.entries == 0


ERROR_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345v1234</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345v1234</summary>
  </entry>
</feed>"""


def test_error_entry_is_reported_not_stored() -> None:
    page = parse_feed(ERROR_FEED)
    assert page.papers == []
    assert page.errors == ["arxiv: incorrect id format for 1234.12345v1234"]


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>',
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>',
    ],
    ids=["billion-laughs", "xxe"],
)
def test_unsafe_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(ParseError, match="unsafe XML"):
        parse_feed(payload)


def test_html_error_page_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not XML"):
        parse_feed(b"<html><body>Rate exceeded.")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        parse_feed(data)
    except ParseError:
        pass


atom_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(raw_id=atom_text, title=atom_text, when=atom_text, term=atom_text)
def test_arbitrary_entries_never_raise(raw_id: str, title: str, when: str, term: str) -> None:
    from xml.sax.saxutils import escape, quoteattr

    doc = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<entry><id>{escape(raw_id)}</id><title>{escape(title)}</title>"
        f"<published>{escape(when)}</published><category term={quoteattr(term)}/>"
        f"<arxiv:primary_category term={quoteattr(term)}/></entry></feed>"
    )
    page = parse_feed(doc.encode())
    assert len(page.papers) + len(page.errors) <= 1


new_ids = st.builds(
    lambda yymm, num, v: (f"{yymm:04d}.{num:05d}", v),
    st.integers(701, 9912),
    st.integers(0, 99999),
    st.none() | st.integers(1, 99),
)


@given(new_ids)
def test_arxiv_abs_urls_round_trip_to_id_and_version(case: tuple[str, int | None]) -> None:
    pid, version = case
    url = f"http://arxiv.org/abs/{pid}" + (f"v{version}" if version else "")
    assert parse_arxiv_id(url) == (pid, version)


def test_category_query_uses_submitted_date_range() -> None:
    q = category_query("cs.CL", date(2025, 1, 2), date(2025, 1, 3))
    assert q == "cat:cs.CL AND submittedDate:[202501020000 TO 202501032359]"
    with pytest.raises(BadRequest):
        category_query("cs.CL OR all:x", date(2025, 1, 2), date(2025, 1, 3))


@respx.mock
def test_fetch_by_ids_sends_id_list_and_returns_papers(settings: Settings) -> None:
    route = respx.get(API).mock(
        return_value=httpx.Response(200, content=(ARXIV / "query_missing_id.xml").read_bytes())
    )
    got = fetch_by_ids(settings, ["2201.13452", "https://arxiv.org/abs/2201.13455v2"])
    assert [p.id for p in got] == ["2201.13452"]
    params = route.calls.last.request.url.params
    assert params["id_list"] == "2201.13452,2201.13455v2"


def test_fetch_by_ids_rejects_a_malformed_id_before_any_request(settings: Settings) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(API)
        with pytest.raises(BadRequest, match="not an arXiv id"):
            fetch_by_ids(settings, ["hello world"])
        assert not route.called


@respx.mock
def test_fetch_by_ids_raises_arxiv_error_message(settings: Settings) -> None:
    respx.get(API).mock(return_value=httpx.Response(200, content=ERROR_FEED))
    with pytest.raises(SourceError, match="incorrect id format"):
        fetch_by_ids(settings, ["2201.13452"])


def _page_bytes(start: int, total: int, ids: list[str]) -> bytes:
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{i}v1</id><title>Paper {i}</title>"
        f"<summary>About\n  {i}.</summary><published>2025-01-02T10:00:00Z</published>"
        f'<author><name>A. Author</name></author><category term="cs.CL"/></entry>'
        for i in ids
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>{entries}</feed>"
    ).encode()


def test_category_harvest_pages_and_resumes_after_a_failure(settings: Settings, engine) -> None:
    settings = settings.model_copy(update={"http_retries": 0})
    pages = {
        0: _page_bytes(0, 5, ["2501.00001", "2501.00002"]),
        2: _page_bytes(2, 5, ["2501.00003", "2501.00004"]),
        4: _page_bytes(4, 5, ["2501.00005"]),
    }
    fail_at = {4}

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        assert request.url.params["sortBy"] == "submittedDate"
        if start in fail_at:
            return httpx.Response(503)
        return httpx.Response(200, content=pages[start])

    since, until = date(2025, 1, 1), date(2025, 1, 31)
    with respx.mock:
        respx.get(API).mock(side_effect=answer)
        with pytest.raises(SourceError, match="arXiv answered 503 once"):
            import_category(engine, settings, "cs.CL", since, until, page_size=2)
        assert get_state(engine, job_key("cs.CL", since, until)) == {"start": 4}
        fail_at.clear()
        summary = import_category(engine, settings, "cs.CL", since, until, page_size=2)
        starts = [int(c.request.url.params["start"]) for c in respx.calls]
    assert summary.new == 1 and starts[-1] == 4  # resumed at the saved page
    assert get_state(engine, job_key("cs.CL", since, until)) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(papers)).scalar() == 5
        row = get_paper(conn, "2501.00003")
        assert row is not None and row["abstract"] == "About 2501.00003."
        assert row["categories"] == ["cs.CL"] and row["version"] == 1
