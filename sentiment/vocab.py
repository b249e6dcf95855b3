"""The tokenizer vocabulary: every GB2312 character and symbol, ASCII, and what the corpus adds.

Character-level like Chinese BERT, but built from the character set rather than from our corpus alone, so a
real post full of characters our texts never used still tokenizes to characters, not to [UNK].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sentiment.textnorm import normalise_text

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Common words of the Chinese web written in Latin letters; the rest spell out letter by letter.
LATIN_WORDS = ["app", "bug", "vip", "atm", "pos", "ok", "yyds", "emo", "cpu", "pdf", "ui", "id", "qq", "vx", "wx",
               "etf", "lpr", "dddd", "nb", "xswl", "awsl", "plus", "pro", "max", "wifi"]


def gb2312_characters() -> list[str]:
    """All 7,445 GB2312 symbols and characters, in code order (rows 0xA1–0xF7)."""
    chars = []
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def build_vocab(texts: Iterable[str], *, min_count: int = 2) -> list[str]:
    """Special tokens, ASCII, GB2312, Latin word pieces, then other characters seen ``min_count`` times."""
    vocab = list(SPECIAL)
    seen = set(vocab)

    def add(token: str) -> None:
        if token not in seen:
            seen.add(token)
            vocab.append(token)

    for c in range(33, 127):
        add(chr(c).lower())
    for c in gb2312_characters():
        add(normalise_text(c).lower() or c)
    for w in LATIN_WORDS:
        add(w)
    for c in "abcdefghijklmnopqrstuvwxyz0123456789":
        add("##" + c)
    counts = Counter(ch for t in texts for ch in normalise_text(t).lower() if not ch.isspace())
    for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n >= min_count:
            add(ch)
    return vocab


def write_vocab(vocab: list[str], path: Path) -> None:
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
