"""Decode fetched HTML bytes to text, choosing the codec the way the Chinese web actually needs.

Chinese sites routinely lie about their encoding: servers send ``charset=utf-8`` (or a default ``ISO-8859-1``) for
pages that are really GBK, pages migrated to UTF-8 keep an old ``<meta charset=gb2312>``, and pages get truncated
in the middle of a multi-byte character. Decoding with the wrong codec turns every name of the bank into
mojibake, and then no mention is ever found — so this module verifies every declaration against the bytes.

Order of evidence: byte-order mark; the HTTP ``Content-Type`` charset; ``<meta charset>`` / ``http-equiv`` in the
first 4 KB; then sniffing (strict UTF-8, then GB18030). A declaration is only accepted if the bytes decode
strictly with it. Two deliberate exceptions, both measured on real sites:

* bytes that are valid UTF-8 *and* contain non-ASCII characters are UTF-8 whatever a legacy declaration says
  (GBK text is practically never valid UTF-8, while GB18030 will happily "decode" UTF-8 bytes into nonsense);
* GBK, GB2312, x-gbk and cp936 are all read as GB18030, their superset, so rare characters in names survive.

It never raises on bad bytes: as a last resort it decodes with replacement characters, choosing the codec that
needs the fewest replacements.
"""

from __future__ import annotations

import codecs
import re

META_SCAN_BYTES = 4096

_GB_ALIASES = {"gbk", "gb2312", "x-gbk", "cp936", "gb_2312-80", "gb_2312", "euc-cn", "euccn", "x-euc-cn",
               "csgb2312", "ms936", "windows-936", "gb18030", "chinese", "936"}
# Charsets servers send by default without having looked at the page; a declaration of one of these is weak.
_WEAK = {"iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii", "iso8859-1"}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]{0,500}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]+)", re.I)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``body`` and return ``(text, encoding_used)``; never raises on bad bytes.

    >>> decode_html("示例银行".encode("gbk"), "text/html; charset=utf-8")
    ('示例银行', 'gb18030')
    """
    if not body:
        return "", "utf-8"
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, errors="replace"), name

    declared = [c for c in (header_charset(content_type), meta_charset(body)) if c]
    if body.isascii():
        return body.decode("ascii"), (declared[0] if declared and declared[0] not in _WEAK else "utf-8")

    # Strong declarations after UTF-8, then GB18030, then weak ones (a server default of ISO-8859-1 is the usual
    # liar for GBK pages).
    ordered = [c for c in declared if c not in _WEAK and c != "utf-8"]
    weak = [c for c in declared if c in _WEAK]
    for name in list(dict.fromkeys(["utf-8", *ordered, "gb18030", *weak])):
        text = _strict_decode(body, name)
        if text is not None:
            return text, name

    # Nothing decodes cleanly: pick the codec that needs the fewest replacements.
    candidates = list(dict.fromkeys([*ordered, "utf-8", "gb18030"]))
    best = min(candidates, key=lambda n: body.decode(n, errors="replace").count("\ufffd"))
    return body.decode(best, errors="replace"), best


def header_charset(content_type: str | None) -> str | None:
    """The normalised charset of an HTTP ``Content-Type`` header, if it names a codec Python knows."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return normalise_charset(m.group(1)) if m else None


def meta_charset(body: bytes) -> str | None:
    """The normalised charset of a ``<meta charset>`` or ``http-equiv`` tag in the first 4 KB."""
    m = _META_CHARSET.search(body[:META_SCAN_BYTES])
    return normalise_charset(m.group(1).decode("ascii", "ignore")) if m else None


def normalise_charset(name: str | None) -> str | None:
    """Canonical codec name: GB family → ``gb18030``; unknown names → None."""
    if not name:
        return None
    key = name.strip().strip("\"'").lower()
    if key in _GB_ALIASES:
        return "gb18030"
    if key in _WEAK:
        return "iso-8859-1" if key in {"iso-8859-1", "latin-1", "latin1", "iso8859-1"} else key
    try:
        canonical = codecs.lookup(key).name
    except LookupError:
        return None
    if canonical in {"gbk", "gb2312", "cp936"}:
        return "gb18030"
    return "utf-8" if canonical == "utf-8" else canonical


def _strict_decode(body: bytes, name: str) -> str | None:
    """Strictly decode ``body``, dropping a multi-byte character cut off at the very end (a truncated fetch);
    None when the bytes are not in this codec."""
    for cut in range(4):
        chunk = body[: len(body) - cut] if cut else body
        try:
            return chunk.decode(name, errors="strict")
        except UnicodeDecodeError as exc:
            if exc.start < len(chunk) - 4:  # an error before the tail is a real mismatch
                return None
        except LookupError:
            return None
    return None
