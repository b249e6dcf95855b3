"""Source health that reaches people: the admins are told when a source fails or falls silent, and when it recovers.

The crawling stage judges each source after every poll (``crawlers.health``); this job, run once per pipeline
round, turns that judgement into messages. A source is in one of three alert states (``crawlers.health.alert_state``):

* ``failing`` — ``failures`` consecutive polls failed, or no poll succeeded for ``silent_intervals`` poll intervals
  (nothing crawled — including a source whose polls stopped);
* ``silent`` — polls succeed but a source that used to bring new items has brought none for far longer than usual
  (nothing found; only judged while polls succeed, so it never hides nothing crawled);
* ``ok``.

Each change of state is one message to every admin (org chart role ``admin``, 系统管理员) through the outbox, on
their usual channels; a return to ``ok`` after a message is a recovery message. What the admins were last told is
read back from the outbox itself (the latest ``source_health`` row of the source, whose dedup key names the state
and the episode), so a restart neither repeats a message nor forgets one, and re-running a round adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.health import (
    ALERT_FAILING,
    ALERT_OK,
    ALERT_SILENT,
    DEFAULT_THRESHOLDS,
    HealthThresholds,
    SourceAlertState,
    alert_state,
)
from crawlers.models import SourceState
from crawlers.sources import SourceConfig
from incidents.models import Notification
from incidents.notify import queue_notifications
from incidents.policy import Policy
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role

SOURCE_HEALTH = "source_health"  # the outbox purpose
PURPOSE_LABEL = "信息源状态"
STATE_LABELS = {ALERT_OK: "正常", ALERT_FAILING: "抓取失败", ALERT_SILENT: "长时间没有新内容"}
SOURCES_PAGE = "/sources"


@dataclass(frozen=True)
class ToldState:
    """What the admins were last told about a source: its state, and when (None: never told)."""

    state: str
    at: datetime | None


def run_source_alerts(session: Session, *, org: OrgChart, policy: Policy, sources: Iterable[SourceConfig],
                      clock: Clock, thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
                      tz: ZoneInfo | None = None) -> int:
    """Queue a message to every admin for each enabled source whose alert state changed since they were last told;
    returns how many sources changed. Flushes; the caller commits."""
    admins = [p for p in org.people if Role.admin in p.roles]
    if not admins:
        return 0
    tz = tz or ZoneInfo(policy.levels_file.timezone)
    now = clock.now()
    enabled = [s for s in sources if s.enabled]
    states = {s.source_id: s for s in session.scalars(
        select(SourceState).where(SourceState.source_id.in_([s.id for s in enabled])))} if enabled else {}
    changed = 0
    for source in enabled:
        current = alert_state(source, states.get(source.id), now, thresholds, tz)
        told = last_told(session, source.id)
        if current.state == told.state:
            continue
        state = states.get(source.id)
        episode = current.since or (state.last_success_at if state is not None else None) or now
        key = f"source:{source.id}:{current.state}@{int(episode.timestamp())}"
        queued = queue_notifications(session, people=admins, policy=policy, now=now, alert=None, incident_id=None,
                                     purpose=SOURCE_HEALTH, key=key,
                                     message=source_message(source, current, told, state, tz))
        changed += 1 if queued else 0
    session.flush()
    return changed


def last_told(session: Session, source_id: str) -> ToldState:
    """The state named by the source's latest ``source_health`` message (``ok`` when there is none)."""
    prefix = f"source:{source_id}:"
    row = session.execute(select(Notification.dedup_key, Notification.created_at)
                          .where(Notification.purpose == SOURCE_HEALTH,
                                 Notification.dedup_key.startswith(prefix, autoescape=True))
                          .order_by(Notification.id.desc()).limit(1)).first()
    if row is None:
        return ToldState(ALERT_OK, None)
    state = row.dedup_key[len(prefix):].split("@", 1)[0]
    return ToldState(state if state in STATE_LABELS else ALERT_OK, row.created_at)


def source_message(source: SourceConfig, current: SourceAlertState, told: ToldState, state: SourceState | None,
                   tz: ZoneInfo) -> tuple[str, str]:
    """(subject, body) in Chinese for the admins."""
    where = f"来源「{source.name}」"
    link = f"地址：{source.url}\n处理链接：{SOURCES_PAGE}"
    if current.state == ALERT_FAILING:
        return (f"信息源异常：{source.name} 抓取失败",
                f"{where}{current.reason}。\n在此期间该来源的新内容不会进入监测，请检查网络、地址或访问令牌。\n{link}")
    if current.state == ALERT_SILENT:
        return (f"信息源静默：{source.name} 长时间没有新内容",
                f"{where}{current.reason}。\n没有新内容不一定是没有舆情：请确认该来源的页面结构或接口是否变化。\n{link}")
    when = state.last_success_at if state is not None else None
    since = f"，最近一次成功抓取于{_local(when, tz)}" if when else ""
    return (f"信息源恢复：{source.name}",
            f"{where}已恢复正常（此前：{STATE_LABELS.get(told.state, told.state)}）{since}。\n{link}")


def _local(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def source_alert_notes(session: Session, sources: Iterable[SourceConfig]) -> dict[str, ToldState]:
    """Per source id, what the admins were last told (for the dashboard's 信息源 page); sources never reported on
    are left out."""
    out = {}
    for source in sources:
        told = last_told(session, source.id)
        if told.at is not None:
            out[source.id] = told
    return out
