"""Store what spiders fetched: extract pages, insert articles, update metrics, remember URLs and validators.

This is where fetched bytes become ``Article`` rows at stage ``fetched`` (matching and everything after it happen
in later stages, never here). Each item (a batch of JSON records) is one short transaction run in a worker
thread, so extraction and the database never stall the event loop that also serves the API.
``Article.url_hash`` is unique, so a re-crawl after a crash, or the same article reached through two sources,
never makes a duplicate.

Items from JSON sources (posts, complaints) are re-read every poll: a known item gets its ``metrics`` (and
changing fields such as a complaint's status) updated, and an ``ArticleMetricSample`` is appended whenever the
counters moved — the spread timeline and the velocity factor of risk scoring are built from those samples.

Crawled content is hostile, and one bad item must never lose the others nor hide behind a "healthy" source:

* every text field (url, title, text, author, external id, meta strings, validators) is repaired with
  ``yuqing.text`` before it is hashed or stored — a lone surrogate or a NUL in one post would otherwise make the
  database refuse the row (PostgreSQL refuses NUL in ``text``; no driver can encode a lone surrogate) — and
  values are cut to their column sizes and counters to the integer range;
* each item is its own transaction — JSON records are stored a batch at a time (``store_many``), and a batch that
  fails is rolled back and stored again one item per transaction — and whatever still goes wrong with an item
  (the database refuses it, extraction raises, the page body is empty) is caught: the item's outcome is
  ``failed`` or ``unparsable``, an admin-readable Chinese message is appended to the ``yuqing/item_errors``
  stat, and the crawl goes on with the next item.

Stats written here (read by ``crawlers.health``, which counts ``failed``, ``unparsable`` and ``empty`` against the
source): ``yuqing/items/<outcome>``, ``yuqing/items/repaired`` (items whose text had to be repaired) and
``yuqing/item_errors`` (up to ``MAX_ITEM_ERRORS`` messages).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import lxml.html
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawlers.extract import extract_html, is_site_or_column_name, strip_site_tail
from crawlers.models import (
    PUBLISHED_LOCAL_KEY,
    Article,
    ArticleCapture,
    ArticleMetricSample,
    ArticleStage,
    CaptureKind,
    SeenUrl,
)
from crawlers.spiders.items import PageHints, PageItem, RecordItem, ValidatorItem
from crawlers.spiders.urls import normalise_url, url_hash
from crawlers.timewindow import SHANGHAI
from yuqing.text import repair, repair_text, repair_value

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# Outcomes returned by the store functions (and counted as ``yuqing/items/<outcome>`` in stats).
NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"
DUPLICATE, EMPTY, VALIDATORS = "duplicate", "empty", "validators"
FAILED = "failed"  # the database refused the item (after retries), or storing it raised
UNPARSABLE = "unparsable"  # a page whose body is empty or whose extraction raised
# Outcomes that mean the source offered an item that did not become an article: they count against its health.
PROBLEM_OUTCOMES = (FAILED, UNPARSABLE, EMPTY)
ITEM_ERRORS_STAT = "yuqing/item_errors"
REPAIRED_STAT = "yuqing/items/repaired"
MAX_ITEM_ERRORS = 10

TITLE_FROM_TEXT_CHARS = 60
MAX_AUTHOR_CHARS = 256  # Article.author is VARCHAR(256): PostgreSQL refuses longer values
MAX_EXTERNAL_ID_CHARS = 128
MAX_COUNTER = 2**31 - 1  # metric samples are INTEGER columns
MESSAGE_URL_CHARS = 200
# Raw bytes kept per capture: ``Settings.capture_max_bytes`` unless the Scrapy setting ``YUQING_CAPTURE_MAX_BYTES``
# overrides it (tests);
# the SHA-256 and size of everything served are kept, the bytes beyond the limit are not, and the capture says so.
CAPTURE_MAX_BYTES_SETTING = "YUQING_CAPTURE_MAX_BYTES"
DEFAULT_CAPTURE_MAX_BYTES = 1024 * 1024
_WRITE_LOCK = threading.Lock()  # one writer per process: SQLite has one, and it keeps transactions short
_TRUNCATED = re.compile(r"(\.\.\.|…)\s*$")
_SWEPT = "yuqing_swept"  # session.info flag: the sweep repaired a new article's fields
_BATCH = "yuqing_store_batch"  # session.info: the _Batch of store_many (looked-up rows, new articles to finish)
RECORD_BATCH = 200  # JSON records the item pipeline gathers before storing them in one transaction
BATCH_LOOKUP_CHUNK = 500  # url hashes per IN (...) lookup (SQLite allows 32,766 parameters, PostgreSQL 65,535)


@dataclass(frozen=True)
class StoreResult:
    """What storing one item did: its outcome, whether its text was repaired, and (for a problem) why."""

    outcome: str
    repaired: bool = False
    error: str | None = None  # Chinese, for the admin: what failed, where, and what to check


class UnparsablePage(Exception):
    """A fetched page that cannot be turned into an article (empty body, extraction raised); message in Chinese."""


class StorePipeline:
    """Scrapy item pipeline; needs ``session_factory`` and ``clock`` attributes on the spider.

    JSON records (a post list, a complaint board, a hot list: hundreds per poll) are gathered and stored
    ``RECORD_BATCH`` at a time with ``store_many`` — one transaction per batch instead of one per record — and
    whatever is gathered when the poll ends is stored before the spider closes (before its stats are read for the
    source's health). A page or validator item first stores the records gathered before it, so a poll's items are
    stored in the order they came. A crawl killed mid-poll loses the gathered records of that poll only until the
    next poll, which brings them again (storing is idempotent)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.capture_max_bytes = crawler.settings.getint(CAPTURE_MAX_BYTES_SETTING, 0) or configured_capture_limit()
        self._records: list[RecordItem] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, RecordItem):
            self._records.append(item)
            if len(self._records) >= RECORD_BATCH:
                await self._store_records()
            return item
        await self._store_records()
        spider = self.crawler.spider
        result = await asyncio.to_thread(store_safely, spider.session_factory, item, spider.clock.now(),
                                         capture_max_bytes=self.capture_max_bytes)
        record_result(self.crawler.stats, result)
        return item

    async def close_spider(self) -> None:
        await self._store_records()

    async def _store_records(self) -> None:
        records, self._records = self._records, []
        if not records:
            return
        spider = self.crawler.spider
        results = await asyncio.to_thread(store_many, spider.session_factory, records, spider.clock.now(),
                                          capture_max_bytes=self.capture_max_bytes)
        for result in results:
            record_result(self.crawler.stats, result)


def configured_capture_limit() -> int:
    """``Settings.capture_max_bytes`` (env ``YUQING_CAPTURE_MAX_BYTES`` or ``.env``); the default when the
    deployment's settings cannot be read here (the process that crawls has validated them at start)."""
    from yuqing.settings import Settings

    try:
        return Settings().capture_max_bytes
    except Exception:  # never let reading a setting stop a crawl
        logger.warning("could not read capture_max_bytes from the settings; keeping %s bytes per capture",
                       DEFAULT_CAPTURE_MAX_BYTES)
        return DEFAULT_CAPTURE_MAX_BYTES


def record_result(stats: StatsCollector, result: StoreResult) -> None:
    """Count one item's outcome in a Scrapy stats collector (what ``crawlers.health`` reads after the poll)."""
    stats.inc_value(f"yuqing/items/{result.outcome}")
    if result.repaired:
        stats.inc_value(REPAIRED_STAT)
    if result.error:
        errors = list(stats.get_value(ITEM_ERRORS_STAT) or [])
        if len(errors) < MAX_ITEM_ERRORS:
            stats.set_value(ITEM_ERRORS_STAT, [*errors, result.error])


def store_safely(factory: sessionmaker[Session], item: Any, now: datetime, attempts: int = 3, *,
                 capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> StoreResult:
    """Repair and store one item in its own transaction; never raises for a bad item, whatever it contains.

    A lost race on a unique key or a busy database is retried; anything else is reported in the result (and
    logged) so the crawl stores the other items and the source's health shows the failure.
    """
    try:
        item, repaired = repair_item(item)
    except Exception as exc:  # an item the repair cannot even read: report it, never crash the crawl
        logger.exception("could not read item %r", getattr(item, "url", item))
        return StoreResult(FAILED, error=f"内容无法读取：{_reason(exc)}（{_where(item)}）")
    if repaired:
        logger.info("%s: repaired invalid characters (lone surrogates, NUL, control characters) in %s",
                       getattr(item, "source_id", "?"), getattr(item, "url", "?"))
    for attempt in range(1, attempts + 1):
        session = factory()
        try:
            with _WRITE_LOCK:
                outcome, swept = _store_repaired(session, item, now, capture_max_bytes)
                session.commit()
            error = None
            if outcome == EMPTY:
                error = f"页面中没有可读的标题或正文（可能需要登录或脚本渲染），未入库（{_where(item)}）"
            return StoreResult(outcome, repaired or swept, error)
        except UnparsablePage as exc:
            session.rollback()
            logger.warning("%s: %s", getattr(item, "source_id", "?"), exc)
            return StoreResult(UNPARSABLE, repaired, str(exc))
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if attempt == attempts:
                logger.error("could not store %s: %s", getattr(item, "url", item), exc)
                return StoreResult(FAILED, repaired, f"内容入库失败（重试 {attempts} 次后）：{_reason(exc)}"
                                                     f"（{_where(item)}），请检查数据库日志")
        except Exception as exc:  # the database refused this item's data, or storing it hit a bug: skip only it
            session.rollback()
            refused = isinstance(exc, DBAPIError)
            if refused:  # the same post comes back every poll: one line each time, not a traceback
                logger.error("database refused %s: %s", getattr(item, "url", item), _reason(exc))
            else:
                logger.exception("could not store %s", getattr(item, "url", item))
            what = "数据库拒绝了这条内容" if refused else "入库时出错"
            return StoreResult(FAILED, repaired, f"内容入库失败，{what}：{_reason(exc)}（{_where(item)}），"
                                                 "该条未入库，请检查该来源返回的内容或数据库日志")
        finally:
            session.close()
    return StoreResult(FAILED, repaired)  # pragma: no cover


@dataclass
class _Batch:
    """What ``store_many`` looked up for its records in one query each (url hash → ``Article`` / ``SeenUrl`` or
    None when the database has none), and the new articles whose sample and capture wait for one flush."""

    articles: dict[str, Article | None]
    seen: dict[str, SeenUrl | None]
    pending: list[tuple[Article, RecordItem, datetime, int]] = dataclasses.field(default_factory=list)
    inserted: set[str] = dataclasses.field(default_factory=set)  # url hashes of the articles this batch inserted

    def flush(self, session: Session) -> None:
        """Insert the new articles in one flush (their ids), then add their first samples and captures."""
        if not self.pending:
            return
        session.flush()
        pending, self.pending = self.pending, []
        for article, item, now, limit in pending:
            _first_rows(session, article, item, now, limit)


def store_many(factory: sessionmaker[Session], items: list[Any], now: datetime, *,
               capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> list[StoreResult]:
    """Store a poll's items like ``store_safely`` does one by one, but the JSON records in one transaction: one
    lookup of their known articles and URLs, one insert of the new articles, one commit. Returns one result per
    item, in order.

    Why: one transaction per item (its lookups, insert, flush and commit) was most of storing's cost, and a
    JSON source brings hundreds of records per poll. The guarantees of ``store_safely`` are kept: if anything in
    the batch fails (the database refuses one record's values, a lost race on a unique key, a busy database), the
    batch is rolled back and every record is stored again on its own by ``store_safely``, so one bad item loses
    only itself; re-storing after a crash or restart finds the URLs stored and updates them (no duplicates); the
    URL de-duplication and the metric samples are the same code. Pages (extraction, empty or unparsable bodies)
    and validators are stored one by one, after the records."""
    results: list[StoreResult | None] = [None] * len(items)
    records: list[tuple[int, RecordItem, bool]] = []
    for i, item in enumerate(items):
        if not isinstance(item, RecordItem):
            continue
        try:
            fixed, repaired = repair_item(item)
        except Exception:  # store_safely reports it
            continue
        if repaired:
            logger.info("%s: repaired invalid characters (lone surrogates, NUL, control characters) in %s",
                        fixed.source_id, fixed.url)
        records.append((i, fixed, repaired))
    if len(records) > 1:
        try:
            outcomes = _store_records(factory, [r[1] for r in records], now, capture_max_bytes)
        except Exception as exc:  # one record spoilt the batch: each on its own, so only that one fails
            logger.warning("storing %d records in one transaction failed (%s); storing them one by one",
                           len(records), _reason(exc))
        else:
            for (i, _item, repaired), (outcome, swept) in zip(records, outcomes, strict=True):
                results[i] = StoreResult(outcome, repaired or swept)
    for i, item in enumerate(items):
        if results[i] is None:
            results[i] = store_safely(factory, item, now, capture_max_bytes=capture_max_bytes)
    return [r for r in results if r is not None]


def _store_records(factory: sessionmaker[Session], records: list[RecordItem], now: datetime,
                   capture_max_bytes: int) -> list[tuple[str, bool]]:
    """The records' (outcome, swept) in one committed transaction; raises (rolled back) if any of them fails."""
    keys = list(dict.fromkeys(url_hash(r.url) for r in records))
    session = factory()
    try:
        with _WRITE_LOCK:
            articles: dict[str, Article | None] = dict.fromkeys(keys)
            seen: dict[str, SeenUrl | None] = dict.fromkeys(keys)
            for start in range(0, len(keys), BATCH_LOOKUP_CHUNK):
                chunk = keys[start:start + BATCH_LOOKUP_CHUNK]
                articles.update((a.url_hash, a) for a in session.scalars(
                    select(Article).where(Article.url_hash.in_(chunk))))
                seen.update((u.url_hash, u) for u in session.scalars(
                    select(SeenUrl).where(SeenUrl.url_hash.in_(chunk))))
            batch = _Batch(articles, seen)
            session.info[_BATCH] = batch
            out = []
            for record in records:
                session.info[_SWEPT] = False
                outcome = store_record(session, record, now, capture_max_bytes=capture_max_bytes)
                out.append((outcome, bool(session.info.pop(_SWEPT, False))))
            batch.flush(session)
            session.commit()
        return out
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_BATCH, None)
        session.close()


def repair_item(item: Any) -> tuple[Any, bool]:
    """A copy of ``item`` whose every text field is valid, storable text (see ``yuqing.text``), and whether any
    field had to be repaired; counters are clamped to what an INTEGER column holds."""
    changed = False

    def fix(value: str | None) -> str | None:
        nonlocal changed
        if value is None:
            return None
        fixed = repair(value)
        changed = changed or fixed.changed
        return fixed.text

    if isinstance(item, RecordItem):
        meta, meta_changed = repair_value(item.meta)
        raw_metrics, metrics_changed = repair_value(item.metrics)
        metrics = {k: _counter(v) for k, v in raw_metrics.items()}
        fixed = dataclasses.replace(
            item, source_id=fix(item.source_id), channel=fix(item.channel), url=fix(item.url),
            external_id=fix(item.external_id), text=fix(item.text), title=fix(item.title), author=fix(item.author),
            meta=meta, metrics=metrics, headers=_fix_headers(item.headers))
        return fixed, changed or meta_changed or metrics_changed or metrics != raw_metrics
    if isinstance(item, PageItem):
        hints = dataclasses.replace(item.hints, title=fix(item.hints.title), author=fix(item.hints.author))
        fixed = dataclasses.replace(
            item, source_id=fix(item.source_id), channel=fix(item.channel), url=fix(item.url),
            content_type=fix(item.content_type), requested_url=fix(item.requested_url), etag=fix(item.etag),
            last_modified=fix(item.last_modified), hints=hints, headers=_fix_headers(item.headers))
        return fixed, changed
    if isinstance(item, ValidatorItem):
        fixed = dataclasses.replace(item, source_id=fix(item.source_id), url=fix(item.url), etag=fix(item.etag),
                                    last_modified=fix(item.last_modified))
        return fixed, changed
    return item, False


def _fix_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """Headers as storable text (a NUL in a header would make PostgreSQL refuse the JSON)."""
    fixed, _changed = repair_value(dict(headers or {}))
    return fixed


def _store_repaired(session: Session, item: Any, now: datetime,
                    capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> tuple[str, bool]:
    """Store an already repaired item; returns (outcome, whether the last sweep over the new article's fields
    repaired anything — extraction and HTML-to-text decode character references, e.g. ``&#1;``)."""
    session.info[_SWEPT] = False
    outcome = store_item(session, item, now, capture_max_bytes=capture_max_bytes)
    return outcome, bool(session.info.pop(_SWEPT, False))


def store_item(session: Session, item: Any, now: datetime, *,
               capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> str:
    """Store one (repaired, see ``repair_item``) spider item in ``session`` (not committed); returns the outcome.

    Raises ``UnparsablePage`` for a page that cannot become an article."""
    if isinstance(item, PageItem):
        return store_page(session, item, now, capture_max_bytes=capture_max_bytes)
    if isinstance(item, RecordItem):
        return store_record(session, item, now, capture_max_bytes=capture_max_bytes)
    if isinstance(item, ValidatorItem):
        store_validators(session, item, now)
        return VALIDATORS
    raise TypeError(f"unknown item type {type(item).__name__}")


def published_local(published: datetime, extracted: datetime | None) -> str:
    """The publish time as the page shows it, for display: the column stores the instant in UTC, which loses the
    page's offset. The page's own offset when extraction read this instant, else Beijing time (a feed's time has
    been normalised by the spider, and every source is Chinese)."""
    if extracted is not None and extracted == published:
        return extracted.isoformat()
    return published.astimezone(SHANGHAI).isoformat()


def store_page(session: Session, item: PageItem, now: datetime, *,
               capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> str:
    """Extract an article page and insert it; NEW, DUPLICATE (URL already stored) or EMPTY (nothing readable)."""
    remember_url(session, item.url, item.source_id, now, status=item.status,
                 etag=item.etag, last_modified=item.last_modified)
    if item.requested_url and url_hash(item.requested_url) != url_hash(item.url):
        remember_url(session, item.requested_url, item.source_id, now, status=item.status)
    key = url_hash(item.url)
    known = session.scalar(select(Article.id).where(Article.url_hash == key))
    if known is not None:
        if item.body:  # a re-fetch: keep what it served if that changed
            capture(session, known, item.body, url=item.url, at=now, status=item.status, headers=item.headers,
                    kind=CaptureKind.feed_item if item.from_feed else CaptureKind.page, limit=capture_max_bytes)
        return DUPLICATE
    if not item.body or (isinstance(item.body, bytes | bytearray) and not item.body.strip()):
        raise UnparsablePage(f"页面内容为空（HTTP {item.status}，{len(item.body or b'')} 字节），未入库，"
                             f"下次抓取时重试（{_where(item)}）")
    try:
        extracted = extract_html(item.body, url=item.url, content_type=item.content_type, now=now)
    except Exception as exc:  # "never raises" is the extractor's promise; a broken page must not break the crawl
        logger.exception("%s: extraction failed for %s", item.source_id, item.url)
        raise UnparsablePage(f"页面解析失败：{_reason(exc)}，未入库，下次抓取时重试（{_where(item)}）") from exc
    hints = item.hints or PageHints()
    # A feed's or list page's title for the link is cleaned like the page's own: no "_搜狐财经" suffix, and a column
    # name ("财经频道", a list page's link text) is not a title at all.
    listed = strip_site_tail(hints.title) if hints.title else ""
    if listed and is_site_or_column_name(listed):
        listed = ""
    title = listed if listed and not _TRUNCATED.search(listed) else extracted.title
    title = title or listed or ""
    if not extracted.text.strip() and not title.strip():
        logger.info("%s: nothing readable in %s", item.source_id, item.url)
        return EMPTY
    meta: dict[str, Any] = {"content_type": item.content_type, "bytes": len(item.body)}
    if item.requested_url and item.requested_url != item.url:
        meta["requested_url"] = item.requested_url
    if hints.title and hints.title != title:
        meta["listed_title"] = hints.title
    published = hints.published_at or extracted.published_at
    if published is not None:
        meta[PUBLISHED_LOCAL_KEY] = published_local(published, extracted.published_at)
    _add_article(session, Article(
        source_id=item.source_id,
        channel=item.channel,
        url=item.url,
        url_hash=key,
        title=title,
        text=extracted.text,
        author=_author(extracted.author or hints.author),
        published_at=published,
        fetched_at=now,
        encoding=extracted.encoding,
        content_hash=content_hash(extracted.text or title),
        metrics={},
        meta=meta,
        stage=ArticleStage.fetched,
    ))
    session.flush()
    article_id = session.scalar(select(Article.id).where(Article.url_hash == key))
    capture(session, article_id, item.body, url=item.url, at=now, status=item.status, headers=item.headers,
            kind=CaptureKind.feed_item if item.from_feed else CaptureKind.page, limit=capture_max_bytes)
    return NEW


def store_record(session: Session, item: RecordItem, now: datetime, *,
                 capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES) -> str:
    """Insert a JSON item, or update a known one's metrics/fields; NEW, UPDATED or UNCHANGED."""
    key = url_hash(item.url)
    text = plain_text(item.text)
    meta = dict(item.meta)
    if isinstance(meta.get("retweeted_text"), str):
        meta["retweeted_text"] = plain_text(meta["retweeted_text"])
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is not None and key in batch.articles:
        article = batch.articles[key]
        if key in batch.inserted:  # inserted earlier in this batch: write its first sample and capture first
            batch.flush(session)
    else:
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
            external_id=(item.external_id or "")[:MAX_EXTERNAL_ID_CHARS] or None,
            title=title,
            text=text,
            author=_author(item.author),
            published_at=item.published_at,
            fetched_at=now,
            encoding="utf-8",
            content_hash=content_hash(text),
            metrics=dict(item.metrics),
            meta=meta,
            stage=ArticleStage.fetched,
        )
        _add_article(session, article)
        if batch is not None:  # one flush for the batch's new articles, then their samples and captures
            batch.articles[key] = article
            batch.inserted.add(key)
            batch.pending.append((article, item, now, capture_max_bytes))
            return NEW
        session.flush()  # its id; the sample and the capture are written by the commit (a new article has neither)
        _first_rows(session, article, item, now, capture_max_bytes)
        return NEW
    _capture_record(session, article.id, item, now, capture_max_bytes)
    changed = False
    if item.metrics and item.metrics != (article.metrics or {}):
        article.metrics = {**(article.metrics or {}), **item.metrics}
        _add_sample(session, article.id, item.metrics, now)
        changed = True
    merged = merge_meta(article.meta or {}, meta)
    if merged != (article.meta or {}):
        article.meta = merged
        changed = True
    return UPDATED if changed else UNCHANGED


def _first_rows(session: Session, article: Article, item: RecordItem, now: datetime, capture_max_bytes: int) -> None:
    """A just-inserted record's first metric sample and raw capture (written by the next flush or the commit)."""
    if item.metrics:
        _add_sample(session, article.id, item.metrics, now, first=True)
    _capture_record(session, article.id, item, now, capture_max_bytes, first=True)


def merge_meta(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """A re-read record's meta over the stored one, except that a nested mapping keeps its stored
    ``first_seen_at``: a hot-list entry's ``meta["trending"]`` says when the first poll saw it, and every later poll
    would otherwise overwrite that with its own time."""
    merged = {**stored, **fresh}
    for key, value in fresh.items():
        old = stored.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and old.get("first_seen_at") and "first_seen_at" in value:
            merged[key] = {**value, "first_seen_at": old["first_seen_at"]}
    return merged


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
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is not None and key in batch.seen:
        row = batch.seen[key]
    else:
        row = session.scalar(select(SeenUrl).where(SeenUrl.url_hash == key))
    if row is None:
        row = SeenUrl(url_hash=key, url=normalise_url(url), source_id=source_id, first_seen_at=now)
        session.add(row)
    if batch is not None:
        batch.seen[key] = row
    row.last_fetched_at = now
    row.status_code = status
    if replace_validators or etag or last_modified:
        row.etag = (etag or None) and etag[:256]
        row.last_modified = (last_modified or None) and last_modified[:64]
    return row  # written by the caller's next flush (a query autoflushes; the commit at the latest)


def capture(session: Session, article_id: int, body: bytes, *, url: str, at: datetime, status: int | None,
            headers: dict[str, str] | None, kind: str, limit: int, first: bool = False) -> ArticleCapture | None:
    """Keep the bytes an article's fetch served as evidence, unless its latest capture has the same SHA-256.

    The SHA-256 and size are of every byte served; only the first ``limit`` bytes are kept (zlib-compressed),
    and a capture cut short says so (``truncated``, ``stored_size``, ``stored_sha256``). Returns the new row,
    or None when nothing changed since the last capture. ``first``: the article was inserted in this transaction,
    so it has no capture to compare with, and the row is left for the caller's commit to write (no id yet)."""
    data = bytes(body or b"")
    digest = hashlib.sha256(data).hexdigest()
    if not first:
        latest = session.scalar(select(ArticleCapture.sha256).where(ArticleCapture.article_id == article_id)
                                .order_by(ArticleCapture.id.desc()).limit(1))
        if latest == digest:
            return None
    kept = data[:max(0, limit)]
    row = ArticleCapture(
        article_id=article_id, kind=kind, url=url, fetched_at=at, status=status, headers=dict(headers or {}),
        sha256=digest, size=len(data), stored_sha256=hashlib.sha256(kept).hexdigest(), stored_size=len(kept),
        truncated=len(kept) < len(data), body=zlib.compress(kept, 6))
    session.add(row)
    if not first:
        session.flush()
    return row


def captured_bytes(row: ArticleCapture) -> bytes:
    """The bytes a capture kept, decompressed (all that was served unless ``row.truncated``)."""
    return zlib.decompress(row.body)


def _capture_record(session: Session, article_id: int, item: RecordItem, now: datetime, limit: int, *,
                    first: bool = False) -> None:
    if item.raw is not None:
        capture(session, article_id, item.raw, url=item.url, at=now, status=item.status, headers=item.headers,
                kind=CaptureKind.api_record, limit=limit, first=first)


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace collapsed: equal texts in different layouts hash the same."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def plain_text(value: str) -> str:
    """Text of a field that may carry HTML (Weibo text has links and <br>): tags and scripts removed, character
    references that decode to control characters (``&#1;``) repaired away."""
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
    return repair_text(re.sub(r"[ \t\r\f\v]+", " ", fragment.text_content())).strip()


def _add_sample(session: Session, article_id: int, metrics: dict[str, int], now: datetime, *,
                first: bool = False) -> None:
    """Record the counters observed at ``now`` (one sample per article and time). ``first``: the article was
    inserted in this transaction, so it has no sample yet, and the commit writes this one."""
    sample = None if first else session.scalar(select(ArticleMetricSample).where(
        ArticleMetricSample.article_id == article_id, ArticleMetricSample.observed_at == now))
    if sample is None:
        sample = ArticleMetricSample(article_id=article_id, observed_at=now)
        session.add(sample)
    sample.reposts = _counter(metrics.get("reposts", 0))
    sample.comments = _counter(metrics.get("comments", 0))
    sample.likes = _counter(metrics.get("likes", 0))
    sample.rank = _counter(metrics["rank"]) if "rank" in metrics else None  # hot lists: rank over time
    sample.heat = _counter(metrics["heat"]) if "heat" in metrics else None
    if not first:
        session.flush()


def _add_article(session: Session, article: Article) -> None:
    if _sweep(article):
        session.info[_SWEPT] = True
    session.add(article)


def _counter(value: Any) -> int:
    """A counter as an INTEGER column holds it: hostile APIs send 1e30 reposts or -5 likes."""
    try:
        return max(0, min(MAX_COUNTER, int(value)))
    except (TypeError, ValueError, OverflowError):
        return 0


def _author(value: str | None) -> str | None:
    return value[:MAX_AUTHOR_CHARS] if value else value


def _sweep(article: Article) -> bool:
    """Repair the text fields of an article about to be inserted; True if anything changed."""
    changed = False
    for name in ("title", "text", "author", "url", "external_id"):
        value = getattr(article, name)
        if isinstance(value, str):
            fixed = repair(value)
            if fixed.changed:
                setattr(article, name, fixed.text)
                changed = True
    for name in ("meta", "metrics"):
        fixed_value, fixed_changed = repair_value(getattr(article, name) or {})
        if fixed_changed:
            setattr(article, name, fixed_value)
            changed = True
    return changed


def _reason(exc: BaseException) -> str:
    """A short, single-line reason: the driver's message for database errors, else the exception's."""
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split())[:300]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _where(item: Any) -> str:
    url = getattr(item, "url", None)
    if not isinstance(url, str):
        return "?"
    url = repair(url).text
    return url if len(url) <= MESSAGE_URL_CHARS else url[:MESSAGE_URL_CHARS] + "…"
