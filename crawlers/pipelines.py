"""Store what spiders fetched: extract pages, insert articles, update metrics, remember URLs and validators.

This is where fetched bytes become ``Article`` rows at stage ``fetched`` (matching and everything after it happen
in later stages, never here). Each item is one short transaction run in a worker thread, so extraction and the
database never stall the event loop that also serves the API. ``Article.url_hash`` is unique, so a re-crawl after
a crash, or the same article reached through two sources, never makes a duplicate.

Items from JSON sources (posts, complaints) are re-read every poll: a known item gets its ``metrics`` (and
changing fields such as a complaint's status) updated, and an ``ArticleMetricSample`` is appended whenever the
counters moved — the spread timeline and the velocity factor of risk scoring are built from those samples.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import lxml.html
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawlers.extract import extract_html
from crawlers.models import Article, ArticleMetricSample, ArticleStage, SeenUrl
from crawlers.spiders.items import PageItem, RecordItem, ValidatorItem
from crawlers.spiders.urls import normalise_url, url_hash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Outcomes returned by the store functions (and counted as ``yuqing/items/<outcome>`` in stats).
NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"
DUPLICATE, EMPTY, VALIDATORS = "duplicate", "empty", "validators"

TITLE_FROM_TEXT_CHARS = 60
_WRITE_LOCK = threading.Lock()  # one writer per process: SQLite has one, and it keeps transactions short
_TRUNCATED = re.compile(r"(\.\.\.|…)\s*$")


class StorePipeline:
    """Scrapy item pipeline; needs ``session_factory`` and ``clock`` attributes on the spider."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        spider = self.crawler.spider
        factory = spider.session_factory
        now = spider.clock.now()
        outcome = await asyncio.to_thread(_store_with_retry, factory, item, now)
        self.crawler.stats.inc_value(f"yuqing/items/{outcome}")
        return item


def store_item(session: Session, item: Any, now: datetime) -> str:
    """Store one spider item in ``session`` (not committed); returns the outcome."""
    if isinstance(item, PageItem):
        return store_page(session, item, now)
    if isinstance(item, RecordItem):
        return store_record(session, item, now)
    if isinstance(item, ValidatorItem):
        store_validators(session, item, now)
        return VALIDATORS
    raise TypeError(f"unknown item type {type(item).__name__}")


def store_page(session: Session, item: PageItem, now: datetime) -> str:
    """Extract an article page and insert it; NEW, DUPLICATE (URL already stored) or EMPTY (nothing readable)."""
    remember_url(session, item.url, item.source_id, now, status=item.status,
                 etag=item.etag, last_modified=item.last_modified)
    if item.requested_url and url_hash(item.requested_url) != url_hash(item.url):
        remember_url(session, item.requested_url, item.source_id, now, status=item.status)
    key = url_hash(item.url)
    if session.scalar(select(Article.id).where(Article.url_hash == key)) is not None:
        return DUPLICATE
    extracted = extract_html(item.body, url=item.url, content_type=item.content_type, now=now)
    hints = item.hints
    title = hints.title if hints.title and not _TRUNCATED.search(hints.title) else extracted.title
    title = title or hints.title or ""
    if not extracted.text.strip() and not title.strip():
        logger.info("%s: nothing readable in %s", item.source_id, item.url)
        return EMPTY
    meta: dict[str, Any] = {"content_type": item.content_type, "bytes": len(item.body)}
    if item.requested_url and item.requested_url != item.url:
        meta["requested_url"] = item.requested_url
    if hints.title and hints.title != title:
        meta["listed_title"] = hints.title
    session.add(Article(
        source_id=item.source_id,
        channel=item.channel,
        url=item.url,
        url_hash=key,
        title=title,
        text=extracted.text,
        author=extracted.author or hints.author,
        published_at=hints.published_at or extracted.published_at,
        fetched_at=now,
        encoding=extracted.encoding,
        content_hash=content_hash(extracted.text or title),
        metrics={},
        meta=meta,
        stage=ArticleStage.fetched,
    ))
    session.flush()
    return NEW


def store_record(session: Session, item: RecordItem, now: datetime) -> str:
    """Insert a JSON item, or update a known one's metrics/fields; NEW, UPDATED or UNCHANGED."""
    key = url_hash(item.url)
    text = plain_text(item.text)
    meta = dict(item.meta)
    if isinstance(meta.get("retweeted_text"), str):
        meta["retweeted_text"] = plain_text(meta["retweeted_text"])
    article = session.scalar(select(Article).where(Article.url_hash == key))
    remember_url(session, item.url, item.source_id, now, status=200)
    if article is None:
        title = plain_text(item.title) if item.title else ""
        if not title:
            title = text[:TITLE_FROM_TEXT_CHARS]
            meta["title_from_text"] = True
        article = Article(
            source_id=item.source_id,
            channel=item.channel,
            url=item.url,
            url_hash=key,
            external_id=item.external_id,
            title=title,
            text=text,
            author=item.author,
            published_at=item.published_at,
            fetched_at=now,
            encoding="utf-8",
            content_hash=content_hash(text),
            metrics=dict(item.metrics),
            meta=meta,
            stage=ArticleStage.fetched,
        )
        session.add(article)
        session.flush()
        if item.metrics:
            _add_sample(session, article.id, item.metrics, now)
        return NEW
    changed = False
    if item.metrics and item.metrics != (article.metrics or {}):
        article.metrics = {**(article.metrics or {}), **item.metrics}
        _add_sample(session, article.id, item.metrics, now)
        changed = True
    merged = {**(article.meta or {}), **meta}
    if merged != (article.meta or {}):
        article.meta = merged
        changed = True
    return UPDATED if changed else UNCHANGED


def store_validators(session: Session, item: ValidatorItem, now: datetime) -> None:
    """Remember a feed/list page's validators; a 304 keeps the ones we had."""
    if item.status == 304:
        remember_url(session, item.url, item.source_id, now, status=304)
    else:
        remember_url(session, item.url, item.source_id, now, status=item.status, etag=item.etag,
                     last_modified=item.last_modified, replace_validators=True)


def remember_url(session: Session, url: str, source_id: str, now: datetime, *, status: int | None,
                 etag: str | None = None, last_modified: str | None = None,
                 replace_validators: bool = False) -> SeenUrl:
    """Insert or update the ``SeenUrl`` row of ``url``."""
    key = url_hash(url)
    row = session.scalar(select(SeenUrl).where(SeenUrl.url_hash == key))
    if row is None:
        row = SeenUrl(url_hash=key, url=normalise_url(url), source_id=source_id, first_seen_at=now)
        session.add(row)
    row.last_fetched_at = now
    row.status_code = status
    if replace_validators or etag or last_modified:
        row.etag = (etag or None) and etag[:256]
        row.last_modified = (last_modified or None) and last_modified[:64]
    session.flush()
    return row


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace collapsed: equal texts in different layouts hash the same."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def plain_text(value: str) -> str:
    """Text of a field that may carry HTML (Weibo text has links and <br>): tags and scripts removed."""
    if "<" not in value or ">" not in value:
        return value.strip()
    try:
        fragment = lxml.html.fragment_fromstring(value, create_parent="div")
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]*>", " ", value).strip()
    for bad in fragment.xpath(".//script|.//style|.//noscript|.//template|.//iframe"):
        bad.drop_tree()
    for br in fragment.xpath(".//br"):
        br.tail = "\n" + (br.tail or "")
    return re.sub(r"[ \t\r\f\v]+", " ", fragment.text_content()).strip()


def _add_sample(session: Session, article_id: int, metrics: dict[str, int], now: datetime) -> None:
    sample = session.scalar(select(ArticleMetricSample).where(
        ArticleMetricSample.article_id == article_id, ArticleMetricSample.observed_at == now))
    if sample is None:
        sample = ArticleMetricSample(article_id=article_id, observed_at=now)
        session.add(sample)
    sample.reposts = int(metrics.get("reposts", 0))
    sample.comments = int(metrics.get("comments", 0))
    sample.likes = int(metrics.get("likes", 0))
    session.flush()


def _store_with_retry(factory: sessionmaker[Session], item: Any, now: datetime, attempts: int = 3) -> str:
    """One transaction per item; a lost race on a unique key or a busy database is retried."""
    for attempt in range(1, attempts + 1):
        session = factory()
        try:
            with _WRITE_LOCK:
                outcome = store_item(session, item, now)
                session.commit()
            return outcome
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if attempt == attempts:
                logger.error("could not store %s: %s", getattr(item, "url", item), exc)
                return "failed"
        finally:
            session.close()
    return "failed"  # pragma: no cover
