"""Full-page screenshots of the articles linked to incidents: which ones, when, and what the record says.

Every article of a watched incident's stories (an active incident, or one closed less than
``deletion_watch.closed_for_days`` ago; ``incidents.evidence.watched_articles``) gets one screenshot
(``ArticleScreenshot``), taken by ``crawlers.screenshot.render_page`` in a child process with a time limit.

**Live first.** An evidence clerk expects a picture of the page as the web showed it at a recorded time, so the
live URL is rendered (its document fetched through the SSRF guard, the source's ``private_network`` allowance
applying as for crawling). The stored capture is rendered instead — and the record says so in ``render_source``
and ``note`` — when the live page is gone (HTTP 404 / 410, or the deletion watch already found it deleted), or
when ``live_attempts`` live attempts in a row failed (timeouts, 5xx, refused) and the article has a capture. A
capture is rendered from its stored bytes alone: nothing else is fetched for it.

**Failures** are recorded on the article's ``ArticleWatch`` row (attempts, the last error in Chinese, when) and
retried after ``retry_minutes`` (1st, 2nd, … wait; the last repeats). The scheduled job
(``take_due_screenshots``) takes at most ``per_round`` articles per run and awaits each browser (a child
process) without blocking the event loop; ``yuqing evidence screenshot INCIDENT_ID`` takes an incident's missing
ones at once (ignoring the backoff).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.models import Article, ArticleCapture, CaptureKind
from crawlers.pipelines import captured_bytes
from crawlers.screenshot import RenderRequest, RenderResult, render_page_async
from crawlers.ssrf import PrivateAllowance
from incidents.evidence import incident_articles, watched_articles
from incidents.evidence_config import EvidenceConfig, ScreenshotOptions
from incidents.evidence_models import ArticleScreenshot, ArticleWatch, RenderSource
from yuqing.clock import Clock

log = logging.getLogger(__name__)

Renderer = Callable[[RenderRequest, float], Awaitable[RenderResult]]
Allowances = dict[str, PrivateAllowance | None]  # source id → its private_network allowance


@dataclass
class ShotOutcome:
    article_id: int
    ok: bool
    render_source: str | None = None
    message: str = ""  # Chinese, for the CLI and the logs


@dataclass
class ShotReport:
    taken: int = 0
    failed: int = 0
    outcomes: list[ShotOutcome] = field(default_factory=list)


async def default_renderer(request: RenderRequest, time_limit: float) -> RenderResult:
    return await render_page_async(request, time_limit=time_limit)


def allowances_for(sources: list, allowed_ids: Iterable[str]) -> Allowances:
    """Each source's ``private_network`` allowance, for the sources the admin opted in by id
    (``YUQING_ALLOW_PRIVATE_SOURCES``) — as for crawling; a disabled source's is checked the same way."""
    allowed = set(allowed_ids)
    return {s.id: s.private_allowance if s.id in allowed else None for s in sources}


def due_articles(session: Session, now: datetime, config: EvidenceConfig, *, limit: int) -> list[int]:
    """Ids of watched articles without a screenshot whose backoff has passed, oldest article first."""
    watched = watched_articles(session, now, closed_for_days=config.deletion_watch.closed_for_days)
    if not watched:
        return []
    ids = sorted(watched)
    shot = set(session.scalars(select(ArticleScreenshot.article_id).where(ArticleScreenshot.article_id.in_(ids))))
    waiting = set(session.scalars(select(ArticleWatch.article_id).where(
        ArticleWatch.article_id.in_(ids), ArticleWatch.shot_next_at.is_not(None), ArticleWatch.shot_next_at > now)))
    return [i for i in ids if i not in shot and i not in waiting][:limit]


def missing_for_incident(session: Session, incident_id: int) -> list[int]:
    """Ids of the incident's articles that have no screenshot yet (raises ``EvidenceError`` for no incident)."""
    _incident, articles = incident_articles(session, incident_id)
    ids = [a.id for a in articles]
    if not ids:
        return []
    shot = set(session.scalars(select(ArticleScreenshot.article_id).where(ArticleScreenshot.article_id.in_(ids))))
    return [i for i in ids if i not in shot]


async def shoot_article(factory: sessionmaker[Session], article_id: int, *, clock: Clock,
                        options: ScreenshotOptions, allowances: Allowances,
                        renderer: Renderer = default_renderer) -> ShotOutcome:
    """Take one article's screenshot and record it (or the failure). The browser runs in a child process the
    event loop waits on; the database is read and written in short transactions before and after the render,
    never held across it."""
    with factory() as session:
        article = session.get(Article, article_id)
        if article is None:
            return ShotOutcome(article_id, False, message=f"文章 {article_id} 不存在")
        watch = session.get(ArticleWatch, article_id)
        capture = session.scalars(select(ArticleCapture).where(ArticleCapture.article_id == article_id)
                                  .order_by(ArticleCapture.fetched_at.desc(), ArticleCapture.id.desc())).first()
        url, source_id = article.url, article.source_id
        deleted_at = watch.deleted_at if watch else None
        attempts = watch.shot_attempts if watch else 0
        stored = _stored(capture) if capture is not None else None
    allowance = allowances.get(source_id)
    allowance_text = str(allowance) if allowance is not None else None
    base = RenderRequest(url=url, allowance=allowance_text, width=options.width, max_height=options.max_height,
                         nav_timeout_seconds=options.nav_timeout_seconds,
                         resource_timeout_seconds=options.resource_timeout_seconds,
                         max_resources=options.max_resources)
    live: RenderResult | None = None
    note = ""
    if deleted_at is None:
        live = await renderer(base, options.time_limit_seconds)
        if live.ok:
            return _record(factory, article_id, live, clock.now(), RenderSource.live, None, "")
        gone = live.gone
        if (not gone and attempts + 1 < options.live_attempts) or stored is None:
            return _failed(factory, article_id, clock.now(), options, _live_error(live, stored is None))
        note = (f"原网页已无法访问（HTTP {live.status}），截取的是 {{fetched}} 抓取时保存的原始网页" if gone else
                f"原网页连续 {attempts + 1} 次截图失败（最后一次：{_reason(live)}），截取的是 {{fetched}} "
                "抓取时保存的原始网页")
    else:
        if stored is None:
            return _failed(factory, article_id, clock.now(), options, "文章已被删除，且没有保存的原始网页可截取")
        note = "删除监测已发现原帖被删除，截取的是 {fetched} 抓取时保存的原始网页"
    capture_id, fetched_local, body, content_type = stored  # type: ignore[misc]
    request = RenderRequest(**{**base.__dict__, "mode": "capture", "stored_body_b64": base64.b64encode(body).decode(),
                               "stored_content_type": content_type})
    result = await renderer(request, options.time_limit_seconds)
    if not result.ok:
        return _failed(factory, article_id, clock.now(), options, f"原始网页截图失败：{_reason(result)}")
    return _record(factory, article_id, result, clock.now(), RenderSource.capture, capture_id,
                   note.replace("{fetched}", fetched_local), live_status=live.status if live else None)


async def take_due_screenshots(factory: sessionmaker[Session], *, clock: Clock, config: EvidenceConfig,
                               allowances: Allowances, renderer: Renderer = default_renderer) -> ShotReport:
    """The scheduled job: screenshot up to ``per_round`` watched articles that have none, one at a time."""
    report = ShotReport()
    options = config.screenshots
    if not options.enabled:
        return report
    with factory() as session:
        due = due_articles(session, clock.now(), config, limit=options.per_round)
    for article_id in due:
        _count(report, await shoot_article(factory, article_id, clock=clock, options=options,
                                           allowances=allowances, renderer=renderer))
    return report


async def take_incident_screenshots(factory: sessionmaker[Session], incident_id: int, *, clock: Clock,
                                    config: EvidenceConfig, allowances: Allowances,
                                    renderer: Renderer = default_renderer) -> ShotReport:
    """Screenshot every article of the incident that has none yet, now (the CLI)."""
    report = ShotReport()
    with factory() as session:
        missing = missing_for_incident(session, incident_id)
    for article_id in missing:
        _count(report, await shoot_article(factory, article_id, clock=clock, options=config.screenshots,
                                           allowances=allowances, renderer=renderer))
    return report


def _count(report: ShotReport, outcome: ShotOutcome) -> None:
    report.outcomes.append(outcome)
    if outcome.ok:
        report.taken += 1
    else:
        report.failed += 1
        log.warning("screenshot of article %s failed: %s", outcome.article_id, outcome.message)


def _stored(capture: ArticleCapture) -> tuple[int, str, bytes, str]:
    from crawlers.timewindow import SHANGHAI

    if capture.kind == CaptureKind.api_record:
        content_type = "application/json; charset=utf-8"
    elif capture.kind == CaptureKind.feed_item:
        content_type = "text/html; charset=utf-8"
    else:
        headers = {k.lower(): v for k, v in (capture.headers or {}).items()}
        content_type = headers.get("content-type", "text/html")
    local = capture.fetched_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return capture.id, local, captured_bytes(capture), content_type


def _reason(result: RenderResult) -> str:
    error = result.error or "未知原因"
    if error.startswith("time limit"):
        return "超过时限"
    if error.startswith("refused"):
        return "地址被安全检查拒绝"
    if error.startswith("HTTP "):
        return f"网站返回 {error}"
    if error.startswith("fetch failed"):
        return "网络错误或超时"
    return error[:200]


def _live_error(result: RenderResult, no_capture: bool) -> str:
    if result.gone:
        return f"原网页已无法访问（HTTP {result.status}），且没有保存的原始网页可截取"
    return f"截图失败：{_reason(result)}" + ("（该文章没有保存的原始网页）" if no_capture else "")


def _watch(session: Session, article_id: int) -> ArticleWatch:
    watch = session.get(ArticleWatch, article_id)
    if watch is None:
        watch = ArticleWatch(article_id=article_id, check_failures=0, shot_attempts=0)
        session.add(watch)
    return watch


def _failed(factory: sessionmaker[Session], article_id: int, now: datetime, options: ScreenshotOptions,
            message: str) -> ShotOutcome:
    with factory() as session:
        watch = _watch(session, article_id)
        watch.shot_attempts = (watch.shot_attempts or 0) + 1
        wait = options.retry_minutes[min(watch.shot_attempts, len(options.retry_minutes)) - 1]
        watch.shot_next_at = now + timedelta(minutes=wait)
        watch.shot_last_error = message
        watch.shot_failed_at = now
        session.commit()
    return ShotOutcome(article_id, False, message=message)


def _record(factory: sessionmaker[Session], article_id: int, result: RenderResult, now: datetime, source: str,
            capture_id: int | None, note: str, *, live_status: int | None = None) -> ShotOutcome:
    if result.clipped:
        note = (note + "；" if note else "") + f"页面高 {result.height} 像素，超过截图上限，只截取了顶部"
    with factory() as session:
        session.add(ArticleScreenshot(
            article_id=article_id, taken_at=now, url=result.url, render_source=source, capture_id=capture_id,
            http_status=result.status if source == RenderSource.live else live_status,
            page_sha256=result.page_sha256, sha256=hashlib.sha256(result.png).hexdigest(), size=len(result.png),
            width=result.width, page_height=result.height, clipped=result.clipped, blocked=result.blocked_count,
            note=note, png=result.png))
        watch = session.get(ArticleWatch, article_id)
        if watch is not None:
            watch.shot_next_at = None
        session.commit()
    where = "原网页" if source == RenderSource.live else "保存的原始网页"
    return ShotOutcome(article_id, True, source, f"已截图（{where}）" + (f"：{note}" if note else ""))
