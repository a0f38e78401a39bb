"""arXiv OAI-PMH: spec-conformant ListRecords pages, errors, resumption tokens, resuming."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.errors import ParseError, SourceError
from paperfeed.sources.arxiv_oai import harvest, job_key, parse_list_records
from paperfeed.storage.jobs import get_state
from paperfeed.storage.papers import get_paper
from paperfeed.storage.schema import papers
from tests.conftest import FIXTURES

OAI = FIXTURES / "oai"
URL = "https://oaipmh.arxiv.org/oai"


def read(name: str) -> bytes:
    return (OAI / name).read_bytes()


def test_arxiv_format_page_maps_fields_and_skips_deleted_records() -> None:
    page = parse_list_records(read("list_records_arxiv_page1.xml"), "arXiv")
    assert [p.id for p in page.papers] == ["2206.06921", "2311.05385"]
    assert page.deleted == 1 and page.errors == []
    assert page.token == "6135467|1001" and page.complete_size == 4
    paper = page.papers[1]
    assert paper.title == (
        "Coupled reaction-diffusion equations with degenerate diffusivity: wavefront analysis"
    )
    assert [a.name for a in paper.authors] == [
        "Eduardo Muñoz-Hernández", "Elisa Sovrano", "Valentina Taddei"
    ]
    assert paper.categories == ["math.AP", "math.CA"] and paper.primary_category == "math.AP"
    assert paper.published_at == datetime(2023, 11, 9)
    assert paper.abstract.startswith("We investigate traveling wave solutions")
    assert "\\[n_t= -f(n,b)" in paper.abstract  # LaTeX kept


def test_empty_resumption_token_ends_the_list() -> None:
    page = parse_list_records(read("list_records_arxiv_page2.xml"), "arXiv")
    assert page.token is None and [p.id for p in page.papers] == ["2201.13452"]


def test_arxiv_raw_format_keeps_versions_and_splits_authors() -> None:
    page = parse_list_records(read("list_records_arxivraw.xml"), "arXivRaw")
    old, new = page.papers
    assert old.id == "nucl-ex/0408020" and old.version == 1
    assert len(old.authors) == 9 and old.authors[-1].name == "H. de Vries"
    assert old.authors[4].name == "I. A. Rachek"
    assert new.version == 3
    assert new.published_at == datetime(2022, 6, 14, 15, 35, 46)
    assert new.updated_at == datetime(2025, 1, 29, 20, 12, 1)
    assert new.doi == "10.1512/iumj.2024.73.9928"


def test_no_records_match_is_an_empty_result() -> None:
    page = parse_list_records(read("error_no_records_match.xml"), "arXiv")
    assert page.papers == [] and page.token is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error_bad_argument.xml", "badArgument: Illegal date format"),
        ("error_bad_resumption_token.xml", "re-run with --restart"),
    ],
)
def test_other_oai_errors_raise_a_clear_source_error(name: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_list_records(read(name), "arXiv")


def test_unsafe_xml_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">&b;</OAI-PMH>'
    )
    with pytest.raises(ParseError, match="unsafe XML"):
        parse_list_records(bomb, "arXiv")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["arXiv", "arXivRaw"]))
def test_arbitrary_bytes_raise_only_parse_or_source_errors(data: bytes, fmt: str) -> None:
    try:
        parse_list_records(data, fmt)
    except (ParseError, SourceError):
        pass


def test_harvest_follows_tokens_and_resumes_after_an_interruption(
    settings: Settings, engine
) -> None:
    settings = settings.model_copy(update={"http_retries": 1, "http_backoff_seconds": 0})
    page2_status = [503, 503]  # two 503s exhaust the retries: the harvest stops after page 1

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["verb"] == "ListRecords"
        if "resumptionToken" in params:
            assert set(params) == {"verb", "resumptionToken"}  # the token is exclusive
            assert params["resumptionToken"] == "6135467|1001"
            if page2_status:
                return httpx.Response(page2_status.pop(), headers={"Retry-After": "0"})
            return httpx.Response(200, content=read("list_records_arxiv_page2.xml"))
        assert dict(params) == {
            "verb": "ListRecords", "metadataPrefix": "arXiv", "set": "math",
            "from": "2024-04-01", "until": "2025-01-31",
        }
        return httpx.Response(200, content=read("list_records_arxiv_page1.xml"))

    args = dict(metadata_prefix="arXiv", set_spec="math", from_day=date(2024, 4, 1),
                until=date(2025, 1, 31))
    key = job_key("arXiv", "math", date(2024, 4, 1), date(2025, 1, 31))
    with respx.mock:
        respx.get(URL).mock(side_effect=answer)
        with pytest.raises(SourceError, match="arXiv OAI-PMH answered 503 2 times"):
            harvest(engine, settings, **args)
        assert get_state(engine, key) == {"token": "6135467|1001"}
        summary = harvest(engine, settings, **args)
        first_requests = [c for c in respx.calls if "metadataPrefix" in c.request.url.params]
    assert len(first_requests) == 1  # the re-run started from the saved token
    assert summary.new == 1 and get_state(engine, key) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(papers)).scalar() == 3
        row = get_paper(conn, "2201.13452")
        assert row is not None and row["source"] == "oai" and row["comment"] == "34 pages"


def test_harvest_of_an_empty_range_stores_nothing(settings: Settings, engine) -> None:
    with respx.mock:
        respx.get(URL).mock(return_value=httpx.Response(200, content=read("error_no_records_match.xml")))
        summary = harvest(engine, settings, set_spec="cs", from_day=date(2030, 1, 1))
    assert (summary.new, summary.rejected) == (0, 0)
