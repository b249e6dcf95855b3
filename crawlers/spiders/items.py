"""What spiders hand to the item pipeline: raw pages, mapped API records and feed validators.

Callbacks only parse links and JSON; decoding, extraction and storage happen in ``crawlers.pipelines`` so a slow
or failing extractor never stalls the crawl and never runs inside Scrapy's callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PageHints:
    """What a feed, sitemap or list page already said about an article (used when extraction finds less)."""

    title: str | None = None
    published_at: datetime | None = None
    author: str | None = None


@dataclass
class PageItem:
    """An article page (or a feed item carrying full content) to extract and store."""

    source_id: str
    channel: str
    url: str
    body: bytes
    content_type: str | None
    status: int = 200
    requested_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    hints: PageHints = field(default_factory=PageHints)
    headers: dict[str, str] = field(default_factory=dict)  # the response's headers (evidence), latin-1 decoded
    from_feed: bool = False  # body is a feed entry's content wrapped by us, not a fetched response


@dataclass
class RecordItem:
    """One structured item from a JSON API (a post, a complaint), already mapped to article fields."""

    source_id: str
    channel: str
    url: str
    external_id: str
    text: str
    title: str = ""
    author: str | None = None
    published_at: datetime | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None  # the record as the API served it, re-serialised as UTF-8 JSON (evidence)
    status: int | None = None  # the API response's status and headers (evidence)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ValidatorItem:
    """A feed / sitemap / list page fetched: remember its ETag and Last-Modified for the next conditional GET."""

    source_id: str
    url: str
    status: int
    etag: str | None = None
    last_modified: str | None = None
