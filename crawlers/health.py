"""Source health: when to poll each source next, and whether it is working — "nothing found" ≠ "nothing crawled".

After every poll ``record_run`` updates the source's ``SourceState``: run and success times, the failure streak
and last error, item counts, the run's counters (status codes, ``retry/reason_count/*``, drops) and the next poll
time. Polling adapts: a source that just produced new items is polled sooner (half its interval, never under the
minimum), an idle one gradually less often (up to 4× its interval), and a failing one backs off the same way.
``health_report`` tells the admin, per source, whether it is ok, failing, or silent — and if silent, whether it
is crawled fine but finds nothing, or has not been crawled successfully for too long.

A poll can succeed while some of what the source offered is lost: a page that cannot be parsed, an item the
database refuses, an API record without an id or text (or one that could not be read), a feed item or link whose
URL is no absolute http(s) URL (``yuqing/dropped/bad_url``), a spider callback that raised on a hostile feed or API
page (Scrapy's ``spider_exceptions/*``). Those are counted from the run's stats
(``ITEM_PROBLEM_STATS``, written by ``crawlers.pipelines`` and the spiders), remembered in ``SourceState.stats``
(``items/problem_*``) with their messages, and make the source ``failing`` with the label "部分内容失败" for as long
as the last such problem is recent (the silent window) — without a failure streak or a longer poll interval,
because the source itself answers. An admin sees which item failed and why instead of a healthy-looking source
that silently drops posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.models import SourceState
from crawlers.sources import MIN_POLL_INTERVAL, SourceConfig

if TYPE_CHECKING:
    from crawlers.crawl import SourceRunResult

MAX_BACKOFF_FACTOR = 4
IDLE_GROWTH = 1.5
SILENT_AFTER_INTERVALS = 12.0
_STATS_PREFIXES = ("downloader/response_status_count/", "retry/", "yuqing/", "ssrf/", "httperror/",
                   "spider_exceptions/", "downloader/exception_type_count/", "robotstxt/", "item_scraped_count",
                   "finish_reason")

STATUS_LABELS = {"ok": "正常", "failing": "抓取失败", "silent": "静默", "never_run": "尚未运行", "disabled": "已停用"}
PARTIAL_LABEL = "部分内容失败"  # status "failing" because items were lost although the poll itself worked
# Run stats that count items a source offered but that did not become articles, with what each one means.
SPIDER_EXCEPTIONS_STAT = "spider_exceptions/count"
ITEM_PROBLEM_STATS = {
    "yuqing/items/failed": "条内容入库失败",
    "yuqing/items/unparsable": "个页面无法解析",
    "yuqing/items/empty": "个页面没有可读的标题或正文",
    "yuqing/dropped/bad_record": "条接口记录缺少编号或正文，已跳过（请检查该来源 json_api.fields 的字段路径）",
    # a feed item, sitemap entry or list link whose URL is no absolute http(s) URL (javascript:, data:, no host…)
    "yuqing/dropped/bad_url": "个条目的链接不是有效的 http(s) 网址（如 javascript:、data: 或缺少主机名），已跳过",
    "yuqing/dropped/record_error": "条接口记录解析出错，已跳过（请把日志中的报错交给开发人员）",
    # a spider callback raised (Scrapy counts it): the rest of that feed / list / API page was not read
    SPIDER_EXCEPTIONS_STAT: "次解析出错，所在页面的其余条目未能读取（请把日志中的报错交给开发人员）",
}
# Problems the spiders count without a message of their own: summed up in the health reason.
_UNMESSAGED = ("yuqing/dropped/bad_record", "yuqing/dropped/bad_url", "yuqing/dropped/record_error",
               SPIDER_EXCEPTIONS_STAT)
ITEM_ERRORS_STAT = "yuqing/item_errors"  # messages, one per failed item (crawlers.pipelines)
MAX_ITEM_ERRORS = 10
NOTHING_CRAWLED = "nothing_crawled"  # silent because no poll succeeded for too long
NOTHING_FOUND = "nothing_found"  # silent because polls succeed but bring nothing new


@dataclass(frozen=True)
class SourceHealth:
    """One line of the source-health table; ``reason`` is Chinese text for the admin."""

    source_id: str
    name: str
    status: str  # ok | failing | silent | never_run | disabled
    label: str
    reason: str
    silent_kind: str | None  # NOTHING_CRAWLED | NOTHING_FOUND when status is silent
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    items_total: int
    next_poll_at: datetime | None


def next_interval(base: int, previous: float | None, *, ok: bool, new_items: int, consecutive_failures: int) -> int:
    """Seconds until the next poll (pure): faster after news, slower when idle or failing, within [30 s, 4×base]."""
    ceiling = base * MAX_BACKOFF_FACTOR
    if not ok:
        return int(min(ceiling, base * 2 ** max(0, consecutive_failures - 1)))
    if new_items > 0:
        return int(max(MIN_POLL_INTERVAL, base // 2))
    grown = (previous or base) * IDLE_GROWTH
    return int(min(ceiling, max(base, grown)))


def record_run(session: Session, source: SourceConfig, result: SourceRunResult, now: datetime) -> SourceState:
    """Update (or create) the source's state from one poll's result."""
    state = session.get(SourceState, source.id)
    if state is None:
        state = SourceState(source_id=source.id, consecutive_failures=0, runs=0, items_last_run=0, items_total=0,
                            stats={})
        session.add(state)
    previous_interval = (state.stats or {}).get("poll/interval")
    state.last_run_at = now
    state.runs = (state.runs or 0) + 1
    state.items_last_run = result.new_items
    state.items_total = (state.items_total or 0) + result.new_items
    if result.ok:
        state.last_success_at = now
        state.consecutive_failures = 0
        if result.new_items > 0:
            state.last_new_item_at = now
    else:
        state.consecutive_failures = (state.consecutive_failures or 0) + 1
        state.last_error = "；".join(result.errors[:3]) or "未知错误"
        state.last_error_at = now
    problems, messages = item_problems(result.stats)
    if problems:
        remembered: dict[str, Any] = {"items/problem_at": now.isoformat(), "items/problems": problems,
                                      "items/problem_errors": messages[:MAX_ITEM_ERRORS]}
        if result.ok:  # a failed poll's own error says more; the item problems stay in the stats
            state.last_error = "；".join(messages[:3])
            state.last_error_at = now
    else:  # a clean poll does not erase a recent problem: the admin must get a chance to see it
        remembered = {k: v for k, v in (state.stats or {}).items() if k.startswith("items/problem")}
    interval = next_interval(source.poll_interval, previous_interval, ok=result.ok, new_items=result.new_items,
                             consecutive_failures=state.consecutive_failures)
    state.next_poll_at = now + timedelta(seconds=interval)
    state.stats = {
        **_counters(result.stats),
        **remembered,
        "run/item_problems": problems,
        "poll/interval": interval,
        "run/ok": result.ok,
        "run/new_items": result.new_items,
        "run/updated_items": result.updated_items,
        "run/not_modified": result.not_modified,
        "run/duration_s": round(result.duration, 3),
        "run/errors": result.errors[:10],
        "run/status_counts": {str(k): v for k, v in sorted(result.status_counts.items())},
    }
    session.flush()
    return state


def item_problems(stats: Mapping[str, Any]) -> tuple[int, list[str]]:
    """How many items of a run were lost (``ITEM_PROBLEM_STATS``) and the messages saying which and why."""
    counts = {key: int(stats.get(key) or 0) for key in ITEM_PROBLEM_STATS}
    total = sum(counts.values())
    messages = [m for m in (stats.get(ITEM_ERRORS_STAT) or []) if isinstance(m, str)]
    # problems counted without messages of their own (records or pages the spider lost) are summed up, first
    summaries = [f"{n} {ITEM_PROBLEM_STATS[key]}" for key, n in counts.items()
                 if n and (key in _UNMESSAGED or not messages)]
    if counts[SPIDER_EXCEPTIONS_STAT]:
        kinds = sorted(k.removeprefix("spider_exceptions/") for k in stats
                       if k.startswith("spider_exceptions/") and k != SPIDER_EXCEPTIONS_STAT)
        summaries = [s.replace("次解析出错", f"次解析出错（{'、'.join(kinds)}）", 1) if kinds else s
                     for s in summaries]
    return total, [*summaries, *messages][:MAX_ITEM_ERRORS]


def due_sources(session: Session, sources: Iterable[SourceConfig], now: datetime) -> list[SourceConfig]:
    """Enabled sources never polled or whose ``next_poll_at`` has come."""
    enabled = [s for s in sources if s.enabled]
    states = _states(session, [s.id for s in enabled])
    due = []
    for source in enabled:
        state = states.get(source.id)
        if state is None or state.next_poll_at is None or state.next_poll_at <= now:
            due.append(source)
    return due


def health_report(session: Session, sources: Iterable[SourceConfig], now: datetime, *,
                  silent_after: float = SILENT_AFTER_INTERVALS) -> list[SourceHealth]:
    """Per source: ok / failing / silent (no success, or nothing new, for ``silent_after`` intervals)."""
    sources = list(sources)
    states = _states(session, [s.id for s in sources])
    return [_judge(source, states.get(source.id), now, silent_after) for source in sources]


def _judge(source: SourceConfig, state: SourceState | None, now: datetime, silent_after: float) -> SourceHealth:
    window = timedelta(seconds=source.poll_interval * silent_after)

    def line(status: str, reason: str, silent_kind: str | None = None, label: str | None = None) -> SourceHealth:
        return SourceHealth(
            source_id=source.id, name=source.name, status=status, label=label or STATUS_LABELS[status],
            reason=reason,
            silent_kind=silent_kind,
            last_run_at=state.last_run_at if state else None,
            last_success_at=state.last_success_at if state else None,
            last_new_item_at=state.last_new_item_at if state else None,
            consecutive_failures=(state.consecutive_failures or 0) if state else 0,
            last_error=state.last_error if state else None,
            items_total=(state.items_total or 0) if state else 0,
            next_poll_at=state.next_poll_at if state else None,
        )

    if not source.enabled:
        return line("disabled", "该来源已停用")
    if state is None or state.last_run_at is None:
        return line("never_run", "尚未抓取过")
    if state.last_success_at is None:
        return line("failing", f"从未成功抓取（连续失败 {state.consecutive_failures} 次）：{state.last_error or ''}")
    if now - state.last_success_at > window:
        return line("silent", f"{_ago(now, state.last_success_at)}起未成功抓取（连续失败 "
                              f"{state.consecutive_failures} 次）：{state.last_error or ''}", NOTHING_CRAWLED)
    if state.consecutive_failures:
        return line("failing", f"最近 {state.consecutive_failures} 次抓取失败：{state.last_error or ''}")
    partial = _item_problem_reason(state, now, window)
    if partial:
        return line("failing", partial, label=PARTIAL_LABEL)
    if state.last_new_item_at is None:
        if (state.runs or 0) >= silent_after:
            return line("silent", f"抓取正常，但 {state.runs} 次抓取从未发现新内容", NOTHING_FOUND)
    elif now - state.last_new_item_at > window:
        return line("silent", f"抓取正常，但{_ago(now, state.last_new_item_at)}起没有新内容", NOTHING_FOUND)
    return line("ok", "正常")


def _item_problem_reason(state: SourceState, now: datetime, window: timedelta) -> str | None:
    """The admin's reason when items were lost recently (within ``window``), else None."""
    stats = state.stats or {}
    count = stats.get("items/problems")
    try:
        at = datetime.fromisoformat(stats["items/problem_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if not count or at.tzinfo is None or now - at > window:
        return None
    when = "最近一次抓取" if state.last_run_at is not None and at >= state.last_run_at else f"{_ago(now, at)}的抓取"
    errors = [e for e in stats.get("items/problem_errors") or [] if isinstance(e, str)]
    detail = "；".join(errors[:3]) + ("……" if len(errors) > 3 else "")
    return f"抓取正常，但{when}有 {count} 条内容未能入库：{detail}"


def _states(session: Session, ids: list[str]) -> dict[str, SourceState]:
    if not ids:
        return {}
    return {s.source_id: s for s in session.scalars(select(SourceState).where(SourceState.source_id.in_(ids)))}


def _counters(stats: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in stats.items():
        if key.startswith(_STATS_PREFIXES) and isinstance(value, int | float | str | bool):
            kept[key] = value
    return kept


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} 分钟前"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时前"
    return f"{minutes // 1440} 天前"
