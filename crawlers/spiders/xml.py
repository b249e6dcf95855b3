"""Safe XML parsing for feeds and sitemaps: no entities, no network, tolerant of the broken XML sites publish."""

from __future__ import annotations

import gzip
import io

from lxml import etree

MAX_XML_BYTES = 20 * 1024 * 1024


def parse_xml(body: bytes) -> etree._Element | None:
    """Parse ``body`` (gunzipping ``.xml.gz`` bodies, bounded), or None when it is not XML at all."""
    if body[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
                body = fh.read(MAX_XML_BYTES + 1)[:MAX_XML_BYTES]
        except (OSError, EOFError):
            return None
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(body.lstrip(), parser=parser)
    except etree.XMLSyntaxError:
        return None
    return root


def local(element: etree._Element) -> str:
    """The tag without its namespace (``{http://…}link`` → ``link``)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def children(element: etree._Element, *names: str) -> list[etree._Element]:
    wanted = {n.lower() for n in names}
    return [c for c in element if local(c) in wanted]


def child_text(element: etree._Element, *names: str) -> str | None:
    """Text of the first child named one of ``names`` (in that order of preference), stripped, or None."""
    for name in names:
        for c in children(element, name):
            text = "".join(c.itertext()).strip()
            if text:
                return text
    return None


def descendants(element: etree._Element, name: str) -> list[etree._Element]:
    name = name.lower()
    return [e for e in element.iter() if local(e) == name]
