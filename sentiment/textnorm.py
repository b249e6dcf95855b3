"""Normalise Chinese social text before the model sees it: the same post written in traditional characters,
full-width letters or with zero-width junk should read the same as its plain simplified form."""

from __future__ import annotations

import re
import unicodedata

from opencc import OpenCC

# OpenCC (Apache-2.0) traditional → simplified; one converter per process (it loads its dictionaries once).
_T2S = OpenCC("t2s")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, no zero-width characters, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _ZERO_WIDTH.sub("", text)
    text = _T2S.convert(text)
    return _SPACES.sub(" ", text).strip()
