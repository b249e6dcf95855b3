"""Same-story clustering and near-duplicate detection: alerts and incidents attach to stories, not to copies.

A story groups everything written about one event: the first report, portal copies, rewrites, Weibo reposts, and
short posts about the same trouble at the same outlet. Two rules decide whether an article joins a story; both
are deterministic (fixed MinHash seed and scheme, ordered tie-breaks), so rebuilding the index from the database
after a restart assigns the same way.

1. **Text similarity.** MinHash LSH (datasketch) over character 3-grams of the normalised title + text (letters
   and digits only, first ``MAX_CHARS`` characters). An article joins the story whose indexed texts are most
   similar if the estimated Jaccard similarity is at least ``threshold`` (0.5). At ``duplicate_threshold``
   (0.9) the article is also flagged ``is_duplicate``: a near-identical copy, kept for spread, skipped for
   reading. Weibo reposts (``转发理由//@用户: …``) lose their ``//@user:`` chain markers, and when the crawler
   stored the original post in ``meta['retweeted_text']`` the repost is compared by that original as well, so
   a repost with a long comment still joins the original's story.
2. **Same unit, same risk, same time** (the explainable rule for texts too different for MinHash, e.g. a 30-
   character post and a 2,000-character article). An article whose primary unit is a named unit (not the head
   office by the bank's name alone) joins the *open* story of that same unit when they share at least one
   risk keyword (the hit words of the topic keyword plans, e.g. 取不出钱) and the story's last article is
   within ``window`` (48 h) of this one. Among several, the one sharing most words wins, then the most recent,
   then the lowest id.

Otherwise the article founds a new story. The founding text's signature is stored on ``Story.minhash`` (a list of
ints) and ``StoryIndex.load`` rebuilds the index from those signatures plus the recent member articles.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datasketch import MinHash, MinHashLSH
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.matching import normalise
from crawlers.models import Article, ArticleStage, Story

log = logging.getLogger(__name__)

SEED = 1
SCHEME = "affine32"
SHINGLE = 3
MAX_CHARS = 5000
MIN_SHINGLES = 3
DEFAULT_WINDOW = timedelta(hours=48)

_REPOST_MARK = re.compile(r"//\s*@[^:：\s/]{1,40}\s*[:：]")
_REPLY_MARK = re.compile(r"(?:回复|转发)\s*@[^:：\s/]{1,40}\s*[:：]")
_BOILERPLATE = re.compile(r"转发微博|轉發微博|repost", re.I)
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Assignment:
    """Where an article goes: an existing story (and why) or a new one (``story_id`` None)."""

    story_id: int | None
    reason: str  # "minhash" | "same_unit_risk" | "new"
    similarity: float
    is_duplicate: bool
    signature: list[int]
    shared_words: list[str] = field(default_factory=list)


@dataclass
class _UnitActivity:
    last_seen: datetime
    words: set[str]


def story_text(title: str, text: str, meta: dict[str, Any] | None = None) -> str:
    """The text a story is recognised by: title + body without repost-chain markers, plus the reposted original."""
    body = strip_repost_chain(text or "")
    head = (title or "").strip()
    parts = [body] if head and body.startswith(head) else [head, body]
    original = original_text(meta)
    if original and original not in body:
        parts.append(original)
    return "\n".join(p for p in parts if p)


def original_text(meta: dict[str, Any] | None) -> str:
    """The original post a repost quotes, when the crawler stored it (``meta['retweeted_text']``)."""
    value = (meta or {}).get("retweeted_text")
    return strip_repost_chain(value) if isinstance(value, str) else ""


def strip_repost_chain(text: str) -> str:
    """``太坑了//@小王: 转发//@原作者: 原文`` → ``太坑了 转发 原文``: drop the ``//@user:`` markers and boilerplate."""
    text = _REPOST_MARK.sub(" ", text)
    text = _REPLY_MARK.sub(" ", text)
    text = _BOILERPLATE.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def shingles(text: str) -> set[str]:
    """Character 3-grams of the normalised text, letters and digits only (punctuation and spaces vary by copy)."""
    compact = _NOT_WORD.sub("", normalise(text))[:MAX_CHARS]
    if len(compact) < SHINGLE:
        return {compact} if compact else set()
    return {compact[i:i + SHINGLE] for i in range(len(compact) - SHINGLE + 1)}


class StoryIndex:
    """In-memory index of recent stories: MinHash LSH over their texts plus per-unit recent activity."""

    def __init__(self, threshold: float = 0.5, num_perm: int = 128, *, duplicate_threshold: float = 0.9,
                 window: timedelta = DEFAULT_WINDOW):
        self.threshold = threshold
        self.num_perm = num_perm
        self.duplicate_threshold = duplicate_threshold
        self.window = window
        self._reset()

    def _reset(self) -> None:
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        self._entries: dict[str, tuple[int, MinHash]] = {}
        self._units: dict[str, dict[int, _UnitActivity]] = {}
        self._story_seen: dict[int, datetime] = {}

    def __len__(self) -> int:
        return len(self._entries)

    # --- signatures ----------------------------------------------------------------------------------------------
    def signature(self, text: str) -> MinHash | None:
        """MinHash of the text's shingles; None for texts too short to compare."""
        grams = shingles(text)
        if len(grams) < MIN_SHINGLES:
            return None
        m = MinHash(num_perm=self.num_perm, seed=SEED, scheme=SCHEME)
        m.update_batch([g.encode("utf-8") for g in sorted(grams)])
        return m

    def from_values(self, values: list[int]) -> MinHash:
        return MinHash(num_perm=self.num_perm, seed=SEED, scheme=SCHEME, hashvalues=[int(v) for v in values])

    # --- the text rule ---------------------------------------------------------------------------------------------
    def add(self, story_id: int, text: str | None = None, *, signature: MinHash | list[int] | None = None,
            key: str | None = None) -> MinHash | None:
        """Index a text (or a ready signature) as part of ``story_id``; adding the same key twice is a no-op."""
        sig = self._as_minhash(signature) if signature is not None else self.signature(text or "")
        if sig is None:
            return None
        key = key or f"s{story_id}#{len(self._entries)}"
        if key in self._entries:
            return sig
        self._lsh.insert(key, sig)
        self._entries[key] = (story_id, sig)
        return sig

    def find(self, text: str) -> int | None:
        """The story a text belongs to by similarity, or None."""
        found = self.best(text)
        return found[0] if found else None

    def best(self, text_or_signature: str | MinHash) -> tuple[int, float] | None:
        """The most similar indexed story and its estimated Jaccard similarity (≥ threshold), or None."""
        sig = (self.signature(text_or_signature) if isinstance(text_or_signature, str) else text_or_signature)
        if sig is None:
            return None
        best: tuple[float, int] | None = None
        for key in self._lsh.query(sig):
            story_id, other = self._entries[key]
            sim = float(sig.jaccard(other))
            if sim >= self.threshold and (best is None or (sim, -story_id) > (best[0], -best[1])):
                best = (sim, story_id)
        return (best[1], best[0]) if best else None

    # --- the unit rule -------------------------------------------------------------------------------------------
    def touch(self, story_id: int, *, unit_id: str | None, at: datetime, risk_words: list[str] | set[str]) -> None:
        """Record that ``story_id`` had an article at ``at`` about ``unit_id`` with these risk words."""
        seen = self._story_seen.get(story_id)
        self._story_seen[story_id] = at if seen is None or at > seen else seen
        if not unit_id:
            return
        activity = self._units.setdefault(unit_id, {}).get(story_id)
        if activity is None:
            self._units[unit_id][story_id] = _UnitActivity(at, set(risk_words))
        else:
            activity.last_seen = max(activity.last_seen, at)
            activity.words |= set(risk_words)

    def find_for_unit(self, unit_id: str | None, risk_words: list[str] | set[str],
                      at: datetime) -> tuple[int, list[str]] | None:
        """The open story of ``unit_id`` sharing a risk word within the window, with the shared words."""
        words = set(risk_words)
        if not unit_id or not words:
            return None
        best: tuple[int, datetime, int, list[str]] | None = None
        for story_id, activity in self._units.get(unit_id, {}).items():
            if abs(at - activity.last_seen) > self.window:
                continue
            shared = sorted(words & activity.words)
            if not shared:
                continue
            rank = (len(shared), activity.last_seen, -story_id)
            if best is None or rank > (best[0], best[1], -best[2]):
                best = (len(shared), activity.last_seen, story_id, shared)
        return (best[2], best[3]) if best else None

    # --- both rules ----------------------------------------------------------------------------------------------
    def assign(self, text: str, *, unit_id: str | None, risk_words: list[str], at: datetime,
               original: str | None = None) -> Assignment:
        """Decide which story an article joins (rule 1, then rule 2) without changing the index."""
        sig = self.signature(text)
        values = [int(v) for v in sig.hashvalues] if sig is not None else []
        found = self.best(sig) if sig is not None else None
        duplicate = bool(found and found[1] >= self.duplicate_threshold)
        if original:
            via_original = self.best(original)
            if via_original and (found is None or via_original[1] > found[1]):
                found = via_original
        if found:
            return Assignment(found[0], "minhash", round(found[1], 4), duplicate, values)
        by_unit = self.find_for_unit(unit_id, risk_words, at)
        if by_unit:
            return Assignment(by_unit[0], "same_unit_risk", 0.0, False, values, by_unit[1])
        return Assignment(None, "new", 0.0, False, values)

    # --- persistence ---------------------------------------------------------------------------------------------
    def load(self, session: Session, *, now: datetime | None = None, lookback: timedelta = timedelta(days=7)) -> int:
        """Rebuild from the database: signatures of stories seen within ``lookback`` of ``now`` (default: the
        newest story), their non-duplicate member articles, and per-unit activity. Returns the stories loaded."""
        self._reset()
        if now is None:
            now = session.scalar(select(Story.last_seen_at).order_by(Story.last_seen_at.desc()).limit(1))
            if now is None:
                return 0
        cutoff = now - lookback
        stories = session.scalars(select(Story).where(Story.last_seen_at >= cutoff).order_by(Story.id)).all()
        for story in stories:
            if story.minhash:
                self.add(story.id, signature=story.minhash, key=f"s{story.id}")
        ids = [s.id for s in stories]
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            articles = session.scalars(
                select(Article).where(Article.story_id.in_(chunk),
                                      Article.stage.not_in([ArticleStage.fetched, ArticleStage.irrelevant]))
                .order_by(Article.id)).all()
            for article in articles:
                self.remember(article)
        log.info("story index loaded", extra={"stories": len(stories), "entries": len(self._entries)})
        return len(stories)

    def remember(self, article: Article) -> None:
        """Index one stored, assigned article exactly as ingest does (used by ingest and by ``load``)."""
        if article.story_id is None:
            return
        info = (article.meta or {}).get("match") or {}
        if not article.is_duplicate:
            self.add(article.story_id, story_text(article.title, article.text, article.meta), key=f"a{article.id}")
        self.touch(article.story_id, unit_id=info.get("story_unit_id"), at=article_time(article),
                   risk_words=info.get("risk_words") or [])

    def prune(self, before: datetime) -> int:
        """Forget stories last seen before ``before`` (long-running processes); returns entries removed."""
        old = {sid for sid, seen in self._story_seen.items() if seen < before}
        keys = [k for k, (sid, _) in self._entries.items() if sid in old]
        for k in keys:
            self._lsh.remove(k)
            del self._entries[k]
        for per_unit in self._units.values():
            for sid in old & per_unit.keys():
                del per_unit[sid]
        for sid in old:
            del self._story_seen[sid]
        return len(keys)

    def _as_minhash(self, signature: MinHash | list[int]) -> MinHash:
        return signature if isinstance(signature, MinHash) else self.from_values(signature)


def article_time(article: Article) -> datetime:
    """When an article happened, for story windows: its publish time, else when it was fetched."""
    return article.published_at or article.fetched_at
