"""Reading a backtest file: one JSON object per line, validated with pydantic, errors naming line and field.

A line is one observation of a post or article as a crawler would have stored it::

    {"id": "w1", "published_at": "2026-11-23T09:20:00", "source_type": "weibo", "source": "微博",
     "url": "https://weibo.com/1/2", "title": "", "text": "…", "reposts": 12, "comments": 3, "rank": null}

Only ``id``, ``published_at`` and one of ``title`` / ``text`` are required. Times are ISO 8601; a time without a
zone is Beijing time (+08:00). Optional fields beyond the basic ones, each documented in ``docs/backtest.md``:
``observed_at`` (when this observation was made, default ``published_at``: a later line repeating an ``id`` with
higher counts is a re-poll), ``likes``, ``followers``, ``author``, ``authority`` (overrides the authority the
``source_type`` implies, e.g. ``national_media`` for a national paper), ``retweeted_id`` / ``retweeted_text`` /
``retweeted_author`` (the original a repost forwards, as a Weibo API gives it), ``heat`` and ``reach`` (a hot-list
entry's heat and the list's daily audience; ``rank`` is required for ``trending``) and ``expect`` (``"noise"`` marks
an item that is not about the bank — read by ``--sweep`` to count false incidents). Unknown fields are refused,
so a typo (``repost`` for ``reposts``) is an error rather than a silently missing count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BEIJING = timezone(timedelta(hours=8))
SourceType = Literal["news", "weibo", "wechat", "forum", "complaint", "regulator", "trending"]
AuthorityName = Literal["national_media", "regulator", "provincial_media", "local_media", "complaint_platform",
                        "social", "self_media"]

# source_type → (article channel, default authority), as a bank's sources file would set them (crawlers.sources):
# the social platforms share channel ``social`` and differ in authority; hot lists have their own channel.
SOURCE_TYPES: dict[str, tuple[str, str]] = {
    "news": ("news", "local_media"),
    "weibo": ("social", "social"),
    "wechat": ("social", "self_media"),
    "forum": ("social", "self_media"),
    "complaint": ("complaint", "complaint_platform"),
    "regulator": ("regulator", "regulator"),
    "trending": ("trending", "social"),
}


class BacktestItem(BaseModel):
    """One input line. ``line`` is set by the reader (1-based), not by the file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200)
    published_at: datetime
    observed_at: datetime | None = None
    source_type: SourceType = "news"
    source: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    title: str = ""
    text: str = ""
    author: str | None = None
    reposts: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    likes: int | None = Field(default=None, ge=0)
    followers: int | None = Field(default=None, ge=0)
    rank: int | None = Field(default=None, ge=1)
    heat: int | None = Field(default=None, ge=0)
    reach: int | None = Field(default=None, ge=0)
    authority: AuthorityName | None = None
    retweeted_id: str | None = Field(default=None, max_length=200)
    retweeted_text: str | None = None
    retweeted_author: str | None = Field(default=None, max_length=200)
    expect: Literal["noise", "bank"] | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("published_at", "observed_at")
    @classmethod
    def _beijing_when_naive(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        return (v.replace(tzinfo=BEIJING) if v.tzinfo is None else v).astimezone(UTC)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and v and not v.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return v or None

    @model_validator(mode="after")
    def _has_content(self) -> BacktestItem:
        if not self.title and not self.text:
            raise ValueError("title or text is required")
        if self.observed_at is not None and self.observed_at < self.published_at:
            raise ValueError("observed_at is earlier than published_at")
        if self.source_type == "trending" and self.rank is None:
            raise ValueError("a trending (hot list) item needs its rank")
        return self

    @property
    def at(self) -> datetime:
        """When the item enters the replay: when it was observed (default: when it was published)."""
        return self.observed_at or self.published_at

    @property
    def channel(self) -> str:
        return SOURCE_TYPES[self.source_type][0]

    @property
    def effective_authority(self) -> str:
        return self.authority or SOURCE_TYPES[self.source_type][1]

    @property
    def effective_url(self) -> str:
        """The item's URL, or a stable made-up one per id (the crawler's dedup key is the URL)."""
        if self.url:
            return self.url
        from urllib.parse import quote

        return f"https://backtest.invalid/{self.source_type}/{quote(self.id, safe='')}"


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the file
    item: BacktestItem


@dataclass(frozen=True)
class BadLine:
    number: int
    message: str  # names the line and the field


class BacktestInputError(Exception):
    """A line of the input that cannot be read; the message names the file, the line number and the field."""


def parse_line(text: str, number: int, where: str = "input") -> Line:
    """One non-blank line → a validated item; raises ``BacktestInputError`` naming the line and field."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BacktestInputError(f"{where}:{number}: not a JSON object ({exc.msg}, column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise BacktestInputError(f"{where}:{number}: expected a JSON object, got {type(raw).__name__}")
    try:
        return Line(number, BacktestItem.model_validate(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())) or "(line)"
            problems.append(f"{field}: {err.get('msg', 'invalid')}")
        raise BacktestInputError(f"{where}:{number}: " + "; ".join(problems)) from None


def read_lines(lines: Iterable[str], *, where: str = "input", skip_bad: bool = False
               ) -> tuple[list[Line], list[BadLine]]:
    """Every line of a backtest file, validated. A bad line raises ``BacktestInputError`` unless ``skip_bad``,
    in which case it is returned among the skipped lines (the run goes on without it). Blank lines are ignored."""
    good: list[Line] = []
    bad: list[BadLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            good.append(parse_line(text, number, where))
        except BacktestInputError as exc:
            if not skip_bad:
                raise
            bad.append(BadLine(number, str(exc)))
    return good, bad


def read_file(path: Path, *, skip_bad: bool = False) -> tuple[list[Line], list[BadLine]]:
    """``read_lines`` over a UTF-8 file."""
    try:
        with path.open(encoding="utf-8") as fh:
            return read_lines(fh, where=str(path), skip_bad=skip_bad)
    except UnicodeDecodeError as exc:
        raise BacktestInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BacktestInputError(f"{path}: cannot read the file ({exc.strerror})") from None


def in_replay_order(lines: Iterable[Line]) -> list[Line]:
    """Lines ordered by when they enter the replay; equal times keep the file's order."""
    return sorted(lines, key=lambda ln: (ln.item.at, ln.number))
