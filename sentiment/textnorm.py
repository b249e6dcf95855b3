"""Normalise Chinese social text before the model sees it: the same post written in traditional characters,
full-width letters or with zero-width junk should read the same as its plain simplified form."""

from __future__ import annotations

import re
import unicodedata

import zhconv

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, no zero-width characters, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _ZERO_WIDTH.sub("", text)
    text = zhconv.convert(text, "zh-cn")
    return _SPACES.sub(" ", text).strip()
