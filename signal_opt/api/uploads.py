"""Checks on an uploaded ``.net.xml`` before SUMO's reader sees it.

Parsing is done by ``defusedxml`` with DTDs forbidden outright, so entity expansion
("billion laughs"), external entities and DTD retrieval are all refused. The document is
streamed (``iterparse``) and cleared element by element: a large network does not sit in
memory as a tree.
"""

from __future__ import annotations

import io
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse


class UploadError(ValueError):
    """An upload that is not a safe, well-formed SUMO network with traffic lights."""


def check_net_xml(data: bytes) -> int:
    """Number of ``<tlLogic>`` elements in ``data``; raise :class:`UploadError` if unusable."""
    if not data.strip():
        raise UploadError("the file is empty")
    root_tag = None
    n_tls = 0
    try:
        for event, elem in iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            if event == "start":
                if root_tag is None:
                    root_tag = elem.tag
                    if root_tag != "net":
                        raise UploadError(f"root element is <{root_tag}>, a SUMO network has <net>")
                continue
            if elem.tag == "tlLogic":
                n_tls += 1
            if elem.tag != "net":
                elem.clear()
    except DefusedXmlException as exc:
        raise UploadError(
            f"unsafe XML refused ({type(exc).__name__}): DTDs and entities are not allowed"
        ) from exc
    except ParseError as exc:
        raise UploadError(f"not well-formed XML: {exc}") from exc
    if n_tls == 0:
        raise UploadError("the network has no traffic lights (no <tlLogic> element)")
    return n_tls
