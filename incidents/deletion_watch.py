"""The deletion watch: re-fetch the articles linked to incidents and notice when a post is taken down.

Which articles: those of the stories of every active incident and of every incident closed less than
``closed_for_days`` ago (``incidents.evidence.watched_articles``). How often: every ``open_every_minutes`` while
an incident linking the article is active, every ``closed_every_minutes`` after (``config/evidence.yaml``). At
most ``per_round`` checks per pipeline round, the longest-unchecked first.

How: one GET of the article's URL with ``crawlers.guarded_fetch.guarded_get`` — httpx with the crawler's SSRF
check on every hop and the source's ``private_network`` allowance, the crawler's User-Agent, no cookies or
source credentials (a check sees what an anonymous reader sees), a timeout and a size limit, and at least
``per_host_delay_seconds`` between two requests to one host; not through Scrapy, so robots.txt and the
per-source download delay do not apply to these few requests per article per cadence.

What counts as deleted (``CheckOutcome.deleted``):

* HTTP 404 or 410;
* a 2xx page whose visible text (scripts and styles left out) is at most ``notice_page_max_chars`` long and
  shows one of ``removal_notices`` ("该内容已被删除", "根据相关法律法规…不予显示", … — ``…`` matches any text in
  between): the content was replaced by a removal page. A long page merely quoting such words is not one;
* a 2xx JSON answer whose top-level message field (``json_message_keys``: ``error``, ``msg``, …) shows a notice.

A 5xx, 429, any other status, a timeout, a network error or a refused URL says nothing about deletion: the check
is recorded as ``failed`` and retried after ``failure_backoff_minutes`` (doubling, up to the cadence).

Every check is kept (``article_deletion_checks``: time, status, outcome, reason, SHA-256 and size of the body).
The first check that finds the article deleted sets ``ArticleWatch.deleted_at`` and ``deletion_evidence`` (the
status, the reason, the response's SHA-256 and size, the URL, the check's id) and writes a 原帖已删除 event on the
timeline of every incident linking the article (and an audit entry); captures and screenshots are never touched.
A later check that finds the page back clears ``deleted_at`` and writes a 原帖已恢复 event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import lxml.html
from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.guarded_fetch import Fetched, FetchRefused, guarded_get
from crawlers.models import Article
from crawlers.ssrf import PrivateAllowance
from incidents.evidence import watched_articles
from incidents.evidence_config import DeletionWatchOptions, EvidenceConfig
from incidents.evidence_models import ArticleDeletionCheck, ArticleWatch, CheckOutcome
from incidents.messages import plain_line
from incidents.models import Alert, Incident
from incidents.service import SYSTEM, _audit, _event
from yuqing.clock import Clock

log = logging.getLogger(__name__)

GONE_STATUSES = (404, 410)
DELETED_EVENT, RESTORED_EVENT = "article_deleted", "article_restored"
Fetcher = Callable[..., Fetched]
Allowances = dict[str, PrivateAllowance | None]


@dataclass
class Verdict:
    outcome: str  # a CheckOutcome
    reason: str | None = None  # http_404, notice:该内容已被删除, json_notice:…, or why the check failed
    status: int | None = None
    sha256: str | None = None
    size: int | None = None
    change: str | None = None  # DELETED_EVENT / RESTORED_EVENT when this check changed the article's state


@dataclass
class WatchReport:
    checked: int = 0
    deleted: int = 0
    restored: int = 0
    failed: int = 0


def judge(fetched: Fetched, options: DeletionWatchOptions) -> Verdict:
    """What one answer says about the article (see the module docstring)."""
    base = {"status": fetched.status, "sha256": fetched.sha256, "size": fetched.size}
    if fetched.status in GONE_STATUSES:
        return Verdict(CheckOutcome.deleted, f"http_{fetched.status}", **base)
    if not 200 <= fetched.status < 300:
        return Verdict(CheckOutcome.failed, f"http_{fetched.status}", **base)
    notice = _json_notice(fetched, options) if _is_json(fetched) else _page_notice(fetched, options)
    if notice is not None:
        return Verdict(CheckOutcome.deleted, notice, **base)
    return Verdict(CheckOutcome.present, None, **base)


def due_checks(session: Session, now: datetime, config: EvidenceConfig, *, limit: int) -> list[tuple[int, bool]]:
    """(article id, linked to an active incident) of watched articles due for a check, never-checked first."""
    watched = watched_articles(session, now, closed_for_days=config.deletion_watch.closed_for_days)
    if not watched:
        return []
    ids = sorted(watched)
    later = {w.article_id: w for w in session.scalars(select(ArticleWatch).where(ArticleWatch.article_id.in_(ids)))}
    due = [(later[i].last_checked_at if i in later and later[i].last_checked_at else datetime.min.replace(
        tzinfo=now.tzinfo), i) for i in ids
        if i not in later or later[i].next_check_at is None or later[i].next_check_at <= now]
    return [(i, watched[i]) for _at, i in sorted(due)[:limit]]


def check_article(factory: sessionmaker[Session], article_id: int, *, active: bool, clock: Clock,
                  options: DeletionWatchOptions, allowances: Allowances, fetch: Fetcher = guarded_get) -> Verdict:
    """Re-fetch one article, record the check and any change of its deletion state; blocking (the fetch runs
    outside any transaction) — call it off the event loop."""
    with factory() as session:
        article = session.get(Article, article_id)
        if article is None:
            return Verdict(CheckOutcome.failed, "article gone from the database")
        url, source_id = article.url, article.source_id
    try:
        fetched = fetch(url, allowance=allowances.get(source_id), timeout=options.timeout_seconds,
                        max_bytes=options.max_bytes)
        verdict = judge(fetched, options)
    except FetchRefused as exc:
        verdict = Verdict(CheckOutcome.failed, f"refused ({exc.reason})")
    except httpx.TimeoutException:
        verdict = Verdict(CheckOutcome.failed, "timeout")
    except httpx.HTTPError as exc:
        verdict = Verdict(CheckOutcome.failed, f"network: {type(exc).__name__}")
    verdict.change = record_check(factory, article_id, url, verdict, active=active, now=clock.now(),
                                  options=options)
    return verdict


def record_check(factory: sessionmaker[Session], article_id: int, url: str, verdict: Verdict, *, active: bool,
                 now: datetime, options: DeletionWatchOptions) -> str | None:
    """Store the check, schedule the next, and mark the article deleted or back (with timeline events); returns
    ``DELETED_EVENT`` / ``RESTORED_EVENT`` when the article's state changed."""
    change = None
    with factory() as session:
        article = session.get(Article, article_id)
        if article is None:
            return None
        check = ArticleDeletionCheck(article_id=article_id, checked_at=now, url=url, status=verdict.status,
                                     outcome=verdict.outcome, reason=verdict.reason, sha256=verdict.sha256,
                                     size=verdict.size)
        session.add(check)
        watch = session.get(ArticleWatch, article_id)
        if watch is None:
            watch = ArticleWatch(article_id=article_id, check_failures=0, shot_attempts=0)
            session.add(watch)
        cadence = timedelta(minutes=options.open_every_minutes if active else options.closed_every_minutes)
        watch.last_checked_at = now
        if verdict.outcome == CheckOutcome.failed:
            watch.check_failures = (watch.check_failures or 0) + 1
            backoff = timedelta(minutes=options.failure_backoff_minutes * 2 ** min(watch.check_failures - 1, 16))
            watch.next_check_at = now + min(backoff, cadence)
            session.commit()
            log.warning("deletion check of article %s failed: %s", article_id, verdict.reason)
            return None
        watch.check_failures = 0
        watch.next_check_at = now + cadence
        session.flush()
        if verdict.outcome == CheckOutcome.deleted and watch.deleted_at is None:
            change = DELETED_EVENT
            watch.deleted_at = now
            watch.deletion_evidence = {"status": verdict.status, "reason": verdict.reason, "sha256": verdict.sha256,
                                       "size": verdict.size, "url": url, "checked_at": now.isoformat(),
                                       "check_id": check.id}
            _tell(session, article, now, DELETED_EVENT, f"原帖已删除：{_what(article)}——复查时{_said(verdict)}",
                  {"article_id": article.id, "url": url, "check_id": check.id, "status": verdict.status,
                   "reason": verdict.reason, "sha256": verdict.sha256})
        elif verdict.outcome == CheckOutcome.present and watch.deleted_at is not None:
            change = RESTORED_EVENT
            was = watch.deleted_at
            earlier = watch.deletion_evidence
            watch.deleted_at = None
            watch.deletion_evidence = None
            _tell(session, article, now, RESTORED_EVENT,
                  f"原帖已恢复：{_what(article)}——此前发现被删除，复查时网站正常返回（HTTP {verdict.status}）",
                  {"article_id": article.id, "url": url, "check_id": check.id, "status": verdict.status,
                   "sha256": verdict.sha256, "deleted_at": was.isoformat(), "deletion_evidence": earlier})
        session.commit()
    return change


async def run_deletion_watch(factory: sessionmaker[Session], *, clock: Clock, config: EvidenceConfig,
                             allowances: Allowances, fetch: Fetcher = guarded_get,
                             sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> WatchReport:
    """The scheduled job: check up to ``per_round`` due articles one after another, each fetch in a worker thread,
    at least ``per_host_delay_seconds`` (wall time) between two requests to the same host."""
    report = WatchReport()
    options = config.deletion_watch
    if not options.enabled:
        return report
    with factory() as session:
        due = due_checks(session, clock.now(), config, limit=options.per_round)
        hosts = {aid: url for aid, url in session.execute(select(Article.id, Article.url).where(
            Article.id.in_([i for i, _ in due])))}
    last: dict[str, float] = {}
    for article_id, active in due:
        host = urlsplit(hosts.get(article_id, "")).netloc.lower()
        if host in last:
            wait = options.per_host_delay_seconds - (time.monotonic() - last[host])
            if wait > 0:
                await sleep(wait)
        verdict = await asyncio.to_thread(check_article, factory, article_id, active=active, clock=clock,
                                          options=options, allowances=allowances, fetch=fetch)
        last[host] = time.monotonic()
        report.checked += 1
        report.failed += verdict.outcome == CheckOutcome.failed
        report.deleted += verdict.change == DELETED_EVENT
        report.restored += verdict.change == RESTORED_EVENT
    return report


def deleted_marks(session: Session, article_ids: list[int]) -> dict[int, datetime]:
    """Article id → when the watch found it deleted, for the given articles that are deleted now."""
    if not article_ids:
        return {}
    rows = session.execute(select(ArticleWatch.article_id, ArticleWatch.deleted_at).where(
        ArticleWatch.article_id.in_(article_ids), ArticleWatch.deleted_at.is_not(None)))
    return {aid: at for aid, at in rows}


def _tell(session: Session, article: Article, now: datetime, kind: str, text: str, data: dict) -> None:
    """A timeline event and an audit entry on every incident linking the article."""
    if article.story_id is None:
        return
    alerted = select(Alert.incident_id).where(Alert.story_id == article.story_id, Alert.incident_id.is_not(None))
    incidents = session.scalars(select(Incident).where(or_(Incident.story_id == article.story_id,
                                                           Incident.id.in_(alerted))).order_by(Incident.id)).all()
    for incident in incidents:
        _event(session, incident, now, kind, SYSTEM, text, data)
        _audit(session, now, SYSTEM, f"evidence.{kind}", "article", article.id, plain_line(text, 200),
               {"incident_id": incident.id, **data})


def _what(article: Article) -> str:
    title = plain_line(article.title or "（无标题）", 60)
    return f"“{title}”（{plain_line(article.url, 200)}）"


def _said(verdict: Verdict) -> str:
    reason = verdict.reason or ""
    if reason.startswith("http_"):
        return f"网站返回 HTTP {verdict.status}"
    if reason.startswith("notice:") or reason.startswith("json_notice:"):
        return f"页面显示“{reason.split(':', 1)[1]}”"
    return reason


def _is_json(fetched: Fetched) -> bool:
    ctype = fetched.content_type.lower()
    return "json" in ctype or (not ctype and fetched.body.lstrip()[:1] in (b"{", b"["))


def _json_notice(fetched: Fetched, options: DeletionWatchOptions) -> str | None:
    try:
        data = json.loads(fetched.body.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    texts = [str(data[k]) for k in options.json_message_keys if isinstance(data.get(k), str | int)]
    notice = _match(" ".join(texts), options)
    return f"json_notice:{notice}" if notice else None


def _page_notice(fetched: Fetched, options: DeletionWatchOptions) -> str | None:
    text = visible_text(fetched.body, fetched.content_type)
    if len(text) > options.notice_page_max_chars:
        return None
    notice = _match(text, options)
    return f"notice:{notice}" if notice else None


def visible_text(body: bytes, content_type: str = "") -> str:
    """A page's readable text with scripts, styles and markup removed, whitespace squeezed (hostile bytes: parsed,
    never run)."""
    if not body.strip():
        return ""
    if "html" not in content_type.lower() and b"<" not in body[:2048]:
        return " ".join(body.decode("utf-8", errors="replace").split())
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return ""
    for bad in doc.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    return " ".join(doc.text_content().split())


def _match(text: str, options: DeletionWatchOptions) -> str | None:
    squeezed = "".join(text.split())
    for notice, pattern in options.notice_patterns():
        if pattern.search(squeezed):
            return notice
    return None
