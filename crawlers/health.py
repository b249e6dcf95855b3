"""Source health: when to poll each source next, and whether it is working — "nothing found" ≠ "nothing crawled".

After every poll ``record_run`` updates the source's ``SourceState``: run and success times, the failure streak
and last error, item counts, the run's counters (status codes, ``retry/reason_count/*``, drops) and the next poll
time. Polling adapts: a source that just produced new items is polled sooner (half its interval, never under the
minimum), an idle one gradually less often (up to 4× its interval), and a failing one backs off the same way.
``health_report`` tells the admin, per source, whether it is ok, failing, or silent — and if silent, whether it
is crawled fine but finds nothing, or has not been crawled successfully for too long.
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
                   "downloader/exception_type_count/", "robotstxt/", "item_scraped_count", "finish_reason")

STATUS_LABELS = {"ok": "正常", "failing": "抓取失败", "silent": "静默", "never_run": "尚未运行", "disabled": "已停用"}
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
    interval = next_interval(source.poll_interval, previous_interval, ok=result.ok, new_items=result.new_items,
                             consecutive_failures=state.consecutive_failures)
    state.next_poll_at = now + timedelta(seconds=interval)
    state.stats = {
        **_counters(result.stats),
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

    def line(status: str, reason: str, silent_kind: str | None = None) -> SourceHealth:
        return SourceHealth(
            source_id=source.id, name=source.name, status=status, label=STATUS_LABELS[status], reason=reason,
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
    if state.last_new_item_at is None:
        if (state.runs or 0) >= silent_after:
            return line("silent", f"抓取正常，但 {state.runs} 次抓取从未发现新内容", NOTHING_FOUND)
    elif now - state.last_new_item_at > window:
        return line("silent", f"抓取正常，但{_ago(now, state.last_new_item_at)}起没有新内容", NOTHING_FOUND)
    return line("ok", "正常")


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
