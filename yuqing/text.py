"""Repair hostile text before it is stored or processed: one bad character must never lose a whole record.

Text reaches yuqing from places nobody controls — crawled JSON APIs, HTML pages, JSONL files, HTTP requests — and
some of it is not valid Unicode text even though it is a Python ``str``:

* **lone surrogates** (U+D800–U+DFFF), e.g. JSON ``"\\ud800"`` or bytes read with ``errors="surrogateescape"``:
  they cannot be encoded as UTF-8, so SQLite's driver, PostgreSQL and ``json.dumps(..., ensure_ascii=False)``
  followed by a UTF-8 write all refuse the *whole* row or file;
* **NUL** (U+0000): PostgreSQL ``text`` cannot hold it, and the other C0/C1 control characters (except tab, line
  feed and carriage return) are invisible garbage that breaks display and matching;
* **noncharacters** (U+FDD0–U+FDEF and the last two code points of every plane): reserved for internal use and
  never meaningful in interchanged text.

:func:`repair` fixes all of these and says whether it had to, so callers can count repairs (a source that keeps
sending broken text is worth telling an admin about) instead of silently dropping the record. A high surrogate
directly followed by a low one is joined into the character the pair encodes (UTF-16 data read code unit by code
unit), anything else unencodable becomes U+FFFD so the reader sees that something was there; control characters
are removed. The functions are pure and cheap on clean text (one regular-expression scan).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

REPLACEMENT = "\ufffd"

_SURROGATE_PAIR = "[\ud800-\udbff][\udc00-\udfff]"
_SURROGATE = "[\ud800-\udfff]"
# C0 except \t \n \r, DEL and C1: Unicode category Cc minus the three whitespace controls text legitimately uses.
_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_NONCHARACTER = "[\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)) + "]"

_BAD = re.compile(f"{_SURROGATE}|{_CONTROL}|{_NONCHARACTER}")
_BAD_NO_NONCHAR = re.compile(f"{_SURROGATE}|{_CONTROL}")
_FIX = re.compile(f"(?P<pair>{_SURROGATE_PAIR})|(?P<lone>{_SURROGATE})|(?P<control>{_CONTROL})"
                  f"|(?P<nonchar>{_NONCHARACTER})")
_FIX_NO_NONCHAR = re.compile(f"(?P<pair>{_SURROGATE_PAIR})|(?P<lone>{_SURROGATE})|(?P<control>{_CONTROL})")


class Repaired(NamedTuple):
    """The repaired text and whether anything had to change."""

    text: str
    changed: bool


def repair(s: str, *, noncharacters: bool = True) -> Repaired:
    """Valid, storable text: surrogate pairs joined, lone surrogates → U+FFFD, control characters (but tab, LF,
    CR) removed, and — unless ``noncharacters=False`` — noncharacters → U+FFFD.

    >>> repair("示例\\x00银行\\ud800")
    Repaired(text='示例银行\\ufffd', changed=True)
    >>> repair("😀 \\t ok")
    Repaired(text='😀 \\t ok', changed=False)
    """
    finder = _BAD if noncharacters else _BAD_NO_NONCHAR
    if finder.search(s) is None:
        return Repaired(s, False)
    fixer = _FIX if noncharacters else _FIX_NO_NONCHAR

    def fix(m: re.Match[str]) -> str:
        if m.lastgroup == "pair":
            high, low = m.group()
            joined = chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))
            # a pair can encode a noncharacter (U+1FFFE …): that is still not text
            return REPLACEMENT if noncharacters and _BAD.fullmatch(joined) else joined
        if m.lastgroup == "control":
            return ""
        return REPLACEMENT

    return Repaired(fixer.sub(fix, s), True)


def repair_text(s: str, *, noncharacters: bool = True) -> str:
    """:func:`repair` without the flag: the text to store."""
    return repair(s, noncharacters=noncharacters).text


def has_invalid_text(s: str, *, noncharacters: bool = True) -> bool:
    """True when :func:`repair` would change ``s`` (so an API can refuse, or count, instead of repairing)."""
    return (_BAD if noncharacters else _BAD_NO_NONCHAR).search(s) is not None


def repair_value(value: Any, *, noncharacters: bool = True) -> tuple[Any, bool]:
    """Repair every string inside a JSON-like value (dict keys too; tuples become lists); other values stay as they
    are. Returns ``(repaired value, changed)`` — for mappings such as an article's ``meta``."""
    changed = False

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, str):
            fixed = repair(v, noncharacters=noncharacters)
            changed = changed or fixed.changed
            return fixed.text
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return v

    result = walk(value)
    return result, changed
