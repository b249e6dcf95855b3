"""Extractive text: sentences cut from the mentions, never written by the product.

``sentences`` splits crawled text into sentences; ``main_opinions`` picks the few that say what most mentions say
(each sentence scored by how many *different* items share its character bigrams, then chosen greedily so no two
picks say the same thing), and counts, for each pick, the items that say something similar. The bank's own posts
(authors carrying the bank's name) are voices of the bank, not opinions about it, and are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from incidents.briefings.gather import Item

MIN_CHARS, MAX_CHARS = 8, 160
_SPLIT = re.compile(r"(?<=[。！？!?；;…])|\n+")
_URL = re.compile(r"https?://\S+")
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORDISH = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")


@dataclass(frozen=True)
class Extract:
    text: str
    item: Item
    support: int  # items saying something similar (itself included)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` worth quoting: trimmed, URLs and #话题# tags removed, 8–160 characters, Chinese."""
    out = []
    for raw in _SPLIT.split(text or ""):
        s = _URL.sub("", raw or "").strip(" \t\r\u3000\"“”'‘’【】[]")
        s = re.sub(r"#[^#\n]{1,30}#", "", s).strip()
        if MIN_CHARS <= len(s) <= MAX_CHARS and _HAS_CJK.search(s):
            out.append(s)
    return out


def lead_sentences(item: Item, count: int = 2) -> list[str]:
    """The first sentences of an item (its title when its text has none worth quoting)."""
    found = sentences(item.text)
    if not found and item.title:
        found = sentences(item.title) or [item.title.strip()[:MAX_CHARS]]
    return found[:count]


def display_title(item: Item, limit: int = 60) -> str:
    """An item's title, or the start of its first sentence for a post without one (most Weibo posts)."""
    if item.title.strip():
        return item.title.strip()
    lead = lead_sentences(item, 1)
    if not lead:
        return "（无标题）"
    return lead[0] if len(lead[0]) <= limit else lead[0][: limit - 1] + "…"


def main_opinions(items: Sequence[Item], *, exclude_authors: Iterable[str] = (), limit: int = 5,
                  max_items: int = 2000) -> list[Extract]:
    """The ``limit`` sentences most representative of what the items say, most widely shared first."""
    voices = [n for n in exclude_authors if n]
    pool = [i for i in items if not (i.author and any(v in i.author for v in voices))]
    pool = sorted(pool, key=lambda i: (i.is_duplicate, -i.engagement, i.at))[:max_items]
    cands: list[tuple[str, Item, frozenset[str]]] = []
    for item in pool:
        seen_here: set[str] = set()
        for s in sentences(item.text) or sentences(item.title):
            if s in seen_here:
                continue
            seen_here.add(s)
            grams = _bigrams(s)
            if len(grams) >= 4:
                cands.append((s, item, grams))
    if not cands:
        return []
    df: Counter[str] = Counter()
    per_item: dict[int, set[str]] = {}
    for _, item, grams in cands:
        per_item.setdefault(item.id, set()).update(grams)
    for grams in per_item.values():
        df.update(grams)
    common = {g for g, n in df.items() if n > 0.8 * len(per_item) and len(per_item) > 3}  # e.g. the bank's name

    def score(grams: frozenset[str]) -> float:
        useful = [g for g in grams if g not in common]
        if not useful:
            return 0.0
        return sum(math.log1p(df[g] - 1) for g in useful) / math.sqrt(len(useful))

    ranked = sorted(cands, key=lambda c: (-score(c[2]), c[1].at, c[1].id))[:400]
    chosen: list[tuple[str, Item, frozenset[str]]] = []
    for cand in ranked:
        if any(_jaccard(cand[2], c[2]) >= 0.35 for c in chosen):
            continue
        if any(c[1].id == cand[1].id for c in chosen) and len(chosen) < len(per_item):
            continue  # prefer different voices
        chosen.append(cand)
        if len(chosen) >= limit:
            break
    out = []
    for text, item, grams in chosen:
        support = sum(1 for gs in per_item.values() if len(grams & gs) >= 0.5 * len(grams))
        out.append(Extract(text=text, item=item, support=max(1, support)))
    out.sort(key=lambda e: (-e.support, e.item.at))
    return out


def _bigrams(s: str) -> frozenset[str]:
    chars = [c for c in s if _WORDISH.match(c)]
    return frozenset(chars[i] + chars[i + 1] for i in range(len(chars) - 1))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
