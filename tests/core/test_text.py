"""``yuqing.text``: hostile text is repaired into storable text, valid text is left exactly as it was."""

from __future__ import annotations

import json

import pytest

from yuqing.text import REPLACEMENT, has_invalid_text, repair, repair_text, repair_value

VALID = [
    "",
    "plain ASCII, with tab\tnewline\nand CR\r\n",
    "示例银行新华路网点拒绝取款",
    "示例銀行新華路分行",  # traditional
    "😀😡🙏💰",  # astral emoji
    "👨\u200d👩\u200d👧",  # ZWJ sequence
    "𠀀𠮷𪚥",  # CJK Extension B (astral)
    "\ufeff前面有 BOM",
    "already replaced \ufffd stays",
    "\u3000全角空格与\xa0不换行空格",
    "\U000e0001 tag character",
]


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("s", VALID)
def test_valid_text_is_returned_unchanged(s: str) -> None:
    result = repair(s)
    assert result == (s, False)
    assert result.text is s  # no copy on the fast path
    assert not has_invalid_text(s)


@pytest.mark.parametrize(("raw", "expected"), [
    ("\ud800", REPLACEMENT),
    ("前\udfff后", f"前{REPLACEMENT}后"),
    ("\udc00\ud800", REPLACEMENT * 2),  # low before high is not a pair
    ("\ud83d", REPLACEMENT),  # the first half of an emoji, cut off
    ("示例\ud83d银行", f"示例{REPLACEMENT}银行"),
    ("\ud800\ud800\udc00", f"{REPLACEMENT}\U00010000"),  # a lone high, then a real pair
])
def test_lone_surrogates_become_replacement_characters(raw: str, expected: str) -> None:
    assert repair(raw) == (expected, True)
    assert has_invalid_text(raw)
    assert _encodable(repair_text(raw))


def test_surrogate_pairs_are_joined_into_the_character_they_encode() -> None:
    # UTF-16 read code unit by code unit (or a JSON escape pair that was decoded as two strings)
    assert repair("\ud83d\ude00") == ("😀", True)
    assert repair("\ud842\udfb7 and \ud840\udc00") == ("𠮷 and 𠀀", True)  # CJK Extension B
    # JSON joins escaped pairs itself: the result is valid text and is left alone
    decoded = json.loads('"\\ud83d\\ude00 \\ud842\\udfb7"')
    assert decoded == "😀 𠮷" and repair(decoded) == (decoded, False)
    # a pair that encodes a noncharacter is still not text
    assert repair("\ud83f\udffe") == (REPLACEMENT, True)


def test_json_lone_surrogate_escape_is_repaired() -> None:
    text = json.loads('"示例银行\\ud800网点"')
    assert has_invalid_text(text) and not _encodable(text)
    assert repair_text(text) == f"示例银行{REPLACEMENT}网点"


def test_bytes_read_with_surrogateescape_are_repaired() -> None:
    raw = "示例".encode() + b"\xff\xfe" + "银行".encode() + b"\xe7\xa4"  # junk bytes and a cut character
    text = raw.decode("utf-8", errors="surrogateescape")
    assert text == "示例\udcff\udcfe银行\udce7\udca4"
    assert repair(text) == (f"示例{REPLACEMENT * 2}银行{REPLACEMENT * 2}", True)


@pytest.mark.parametrize(("raw", "expected"), [
    ("a\x00b", "ab"),
    ("\x00" * 5, ""),
    ("bell\x07 esc\x1b[31m red", "bell esc[31m red"),
    ("vt\x0bff\x0c", "vtff"),
    ("del\x7f", "del"),
    ("c1\x80\x85\x9f", "c1"),
    ("keep\ttab\nlf\rcr", "keep\ttab\nlf\rcr"),
])
def test_control_characters_are_removed_but_tab_newline_cr_kept(raw: str, expected: str) -> None:
    assert repair_text(raw) == expected
    assert repair(raw).changed == (raw != expected)


@pytest.mark.parametrize("nonchar", ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0002ffff",
                                     "\U0010ffff"])
def test_noncharacters_are_replaced_unless_asked_not_to(nonchar: str) -> None:
    assert repair(f"x{nonchar}y") == (f"x{REPLACEMENT}y", True)
    assert repair(f"x{nonchar}y", noncharacters=False) == (f"x{nonchar}y", False)
    assert not has_invalid_text(nonchar, noncharacters=False)
    assert repair_text(f"\x00{nonchar}\ud800", noncharacters=False) == f"{nonchar}{REPLACEMENT}"


def test_every_code_point_repairs_to_encodable_text_and_repair_is_idempotent() -> None:
    points = [*range(0x0, 0x10000), *(p * 0x10000 + o for p in range(1, 17) for o in (0, 0xFFFD, 0xFFFE, 0xFFFF))]
    for cp in points:
        s = f"a{chr(cp)}b"
        fixed = repair(s)
        assert _encodable(fixed.text), hex(cp)
        assert repair(fixed.text) == (fixed.text, False), hex(cp)
        assert has_invalid_text(s) == fixed.changed, hex(cp)
        assert fixed.changed == (fixed.text != s), hex(cp)
    # every high/low combination around a character
    for high in (0xD800, 0xDA00, 0xDBFF):
        for low in (0xDC00, 0xDE00, 0xDFFF):
            fixed = repair_text(chr(high) + chr(low) + chr(low))
            assert _encodable(fixed) and fixed.endswith(REPLACEMENT) and len(fixed) == 2


def test_repair_value_walks_keys_lists_and_nested_dicts() -> None:
    value = {"text\x00": ["a\ud800", 3, None, True, {"k": "\x01v"}], "n": 1.5, "t": ("x\x00",)}
    fixed, changed = repair_value(value)
    assert changed
    assert fixed == {"text": [f"a{REPLACEMENT}", 3, None, True, {"k": "v"}], "n": 1.5, "t": ["x"]}
    clean = {"a": ["b", 1], "c": {"d": "示例"}}
    assert repair_value(clean) == (clean, False)
    assert repair_value(7) == (7, False)
