"""Safe XML parsing for the XML sources (arXiv API, OAI-PMH): size cap, no DTDs or entities."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from paperfeed.errors import ParseError


def parse_xml(
    data: bytes, *, component: str, root_tag: str, what: str, max_bytes: int
) -> ET.Element:
    """The root element of `data`, refusing input over `max_bytes`, DTDs, entity expansion and
    external entities (billion laughs, XXE), and a root other than `root_tag`.
    Raises ParseError naming `component` ("arxiv", "oai")."""
    if len(data) > max_bytes:
        raise ParseError(f"{component}: response of {len(data)} bytes is too large")
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError(f"{component}: refused unsafe XML ({type(exc).__name__})") from None
    except (ET.ParseError, ValueError) as exc:
        raise ParseError(f"{component}: response is not XML ({exc})") from None
    if root.tag != root_tag:
        raise ParseError(f"{component}: expected {what}, got <{root.tag}>")
    return root
