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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.models import SourceState
from crawlers.sources import MIN_POLL_INTERVAL, SourceConfig

if TYPE_CHECKING:
    from crawlers.crawl import SourceRunResult

MAX_BACKOFF_FACTOR = 4
IDLE_GROWTH = 1.5
SILENT_AFTER_INTERVALS = 12.0
_STATS_PREFIXES = ("downloader/response_status_count/", "retry/", "yuqing/", "ssrf/", "httperror/", "politeness/",
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
    "yuqing/dropped/bad_entry": "条热榜条目没有标题，已跳过（请检查该来源 trending.fields.title 的路径或选择器）",
    # a feed item, sitemap entry or list link whose URL is no absolute http(s) URL (javascript:, data:, no host…)
    "yuqing/dropped/bad_url": "个条目的链接不是有效的 http(s) 网址（如 javascript:、data: 或缺少主机名），已跳过",
    "yuqing/dropped/record_error": "条接口记录解析出错，已跳过（请把日志中的报错交给开发人员）",
    # a spider callback raised (Scrapy counts it): the rest of that feed / list / API page was not read
    SPIDER_EXCEPTIONS_STAT: "次解析出错，所在页面的其余条目未能读取（请把日志中的报错交给开发人员）",
}
# Problems the spiders count without a message of their own: summed up in the health reason.
_UNMESSAGED = ("yuqing/dropped/bad_record", "yuqing/dropped/bad_entry", "yuqing/dropped/bad_url",
               "yuqing/dropped/record_error", SPIDER_EXCEPTIONS_STAT)
ITEM_ERRORS_STAT = "yuqing/item_errors"  # messages, one per failed item (crawlers.pipelines)
MAX_ITEM_ERRORS = 10
NOTHING_CRAWLED = "nothing_crawled"  # silent because no poll succeeded for too long
NOTHING_FOUND = "nothing_found"  # silent because polls succeed but bring nothing new
# Kept across polls in SourceState.stats: the usual gap between polls that brought new items (moving average) and
# the first poll's time (a source that never succeeded is judged silent from it).
USUAL_GAP_STAT = "items/usual_gap_s"
FIRST_RUN_STAT = "poll/first_run_at"
USUAL_GAP_WEIGHT = 0.3  # weight of the newest gap in the moving average
SHOWN_TZ = ZoneInfo("Asia/Shanghai")  # default zone of times inside messages (callers pass YUQING_TIMEZONE)


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
    previous_new_at = state.last_new_item_at
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
    kept = {k: v for k, v in (state.stats or {}).items() if k in (USUAL_GAP_STAT, FIRST_RUN_STAT)}
    kept.setdefault(FIRST_RUN_STAT, now.isoformat())
    if result.ok and result.new_items > 0 and previous_new_at is not None and now > previous_new_at:
        gap = (now - previous_new_at).total_seconds()
        usual = kept.get(USUAL_GAP_STAT)
        kept[USUAL_GAP_STAT] = round(gap if not isinstance(usual, int | float) else
                                     usual + USUAL_GAP_WEIGHT * (gap - usual), 1)
    state.stats = {
        **_counters(result.stats),
        **remembered,
        **kept,
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


# --- what failed, in a word (console lines and admin messages) -------------------------------------------------

_FAILURE_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"DNSLookupError|Name or service not known|nodename nor servname|getaddrinfo|"
                r"No address associated|name resolution|Domain name not found", re.I), "域名解析失败（DNS）"),
    (re.compile(r"ConnectionRefused|Connection refused|Connect call failed", re.I), "连接被拒绝"),
    (re.compile(r"Timeout|timed out|TimedOut", re.I), "连接超时"),
    (re.compile(r"ConnectionLost|ConnectionDone|ResponseNeverReceived|Connection reset|ServerDisconnected|"
                r"ConnectionReset", re.I), "连接中断"),
    (re.compile(r"SSL|certificate|TLS", re.I), "TLS/证书错误"),
]
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


def failure_kind(error: str | None) -> str:
    """What failed, for a person: 域名解析失败（DNS）/ 连接被拒绝 / 连接超时 / HTTP 503 / … — else the error's own
    text, shortened (``errors`` are the spiders' messages, which quote the exception's class and text)."""
    text = (error or "").strip()
    if not text:
        return "未知错误"
    status = _HTTP_STATUS.search(text)
    if status:
        return f"HTTP {status.group(1)}"
    for pattern, label in _FAILURE_KINDS:
        if pattern.search(text):
            return label
    first = text.split("；", 1)[0]
    return first if len(first) <= 80 else first[:79] + "…"


# --- when a person must be told ---------------------------------------------------------------------------------

ALERT_OK, ALERT_FAILING, ALERT_SILENT = "ok", "failing", "silent"


@dataclass(frozen=True)
class HealthThresholds:
    """When a source's trouble is worth a message to the admin (``YUQING_SOURCE_ALERT_*``).

    ``failures``: consecutive failed polls. ``silent_intervals``: no successful poll for this many poll intervals
    (also when polls stopped altogether). ``quiet_factor``: a source that used to bring new items brings none for
    this many times its usual gap between new items (and at least ``silent_intervals`` poll intervals)."""

    failures: int = 5
    silent_intervals: float = SILENT_AFTER_INTERVALS
    quiet_factor: float = 4.0


DEFAULT_THRESHOLDS = HealthThresholds()


@dataclass(frozen=True)
class SourceAlertState:
    """A source's condition as the admin is told of it: ``ok``, ``failing`` (failed polls, or none succeeded for
    too long: nothing crawled) or ``silent`` (polls succeed but nothing new for far longer than usual: nothing
    found). ``since`` identifies the episode (it does not change while the condition lasts)."""

    state: str
    reason: str
    since: datetime | None


def alert_state(source: SourceConfig, state: SourceState | None, now: datetime,
                thresholds: HealthThresholds = DEFAULT_THRESHOLDS, tz: ZoneInfo = SHOWN_TZ) -> SourceAlertState:
    """The source's alert condition (pure). "Nothing found" is only judged when polls succeed, so it never hides
    "nothing crawled"."""
    if state is None or state.last_run_at is None or not source.enabled:
        return SourceAlertState(ALERT_OK, "", None)
    interval = timedelta(seconds=source.poll_interval)
    failures = state.consecutive_failures or 0
    kind = failure_kind(state.last_error)
    last_ok = _local_text(state.last_success_at, tz) if state.last_success_at else "从未成功"
    if failures >= thresholds.failures:
        return SourceAlertState(ALERT_FAILING, f"已连续 {failures} 次抓取失败（{kind}），最后成功于{last_ok}"
                                if state.last_success_at else f"已连续 {failures} 次抓取失败（{kind}），从未成功抓取",
                                state.last_success_at)
    reference = state.last_success_at or _first_run_at(state)
    if reference is not None and now - reference > interval * thresholds.silent_intervals:
        return SourceAlertState(ALERT_FAILING, f"{_ago(now, reference)}起没有一次成功抓取"
                                + (f"（{kind}）" if failures else "（抓取已停止）") + f"，最后成功于{last_ok}",
                                state.last_success_at)
    if state.last_new_item_at is not None and not failures:
        usual = (state.stats or {}).get(USUAL_GAP_STAT)
        window = interval * thresholds.silent_intervals
        if isinstance(usual, int | float) and usual > 0:
            window = max(window, timedelta(seconds=usual * thresholds.quiet_factor))
        if now - state.last_new_item_at > window:
            return SourceAlertState(ALERT_SILENT, f"抓取正常，但{_ago(now, state.last_new_item_at)}起没有新内容"
                                    f"（平时约每 {_span(usual)} 就有新内容）" if usual else
                                    f"抓取正常，但{_ago(now, state.last_new_item_at)}起没有新内容",
                                    state.last_new_item_at)
    return SourceAlertState(ALERT_OK, "", None)


def _first_run_at(state: SourceState) -> datetime | None:
    raw = (state.stats or {}).get(FIRST_RUN_STAT)
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _local_text(when: datetime, tz: ZoneInfo = SHOWN_TZ) -> str:
    local = when.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _span(seconds: float | None) -> str:
    minutes = int((seconds or 0) // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // 1440} 天"
