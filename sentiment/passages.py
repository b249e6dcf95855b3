"""Pick the passages of an article that are about the bank, so a long article is judged by what it says about
us rather than by its first paragraph (which may be about the weather)."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


def passages_about(title: str, text: str, terms: list[str], *, max_chars: int = 512, context: int = 1) -> str:
    """Title plus the sentences naming any of ``terms`` (with ``context`` neighbours), up to ``max_chars``.

    Falls back to the beginning of the text when no term occurs (e.g. matched on the title only).
    """
    sentences = [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]
    hits = [i for i, s in enumerate(sentences) if any(t and t in s for t in terms)]
    keep: set[int] = set()
    for i in hits:
        keep.update(range(max(0, i - context), min(len(sentences), i + context + 1)))
    body = "".join(sentences[j] for j in sorted(keep)) if keep else (text or "")
    joined = f"{title.strip()}。{body}" if title and title.strip() else body
    return joined[:max_chars]
