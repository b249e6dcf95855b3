"""Outages of the services the pipeline stands on — PostgreSQL, Redis — told to the admins through the outbox.

Source health says what happened to each source; an outage of the database or of Redis is not any one source's
doing, so it gets a message of its own to every admin (org chart role ``admin``, 系统管理员), on their usual
channels, purpose ``system_health`` (系统状态):

* **database** — while PostgreSQL cannot be reached nothing can be written, the outbox included, so the message is
  queued once the database answers again and says when the outage began and ended and what it held up
  (``/readyz`` answers 503 while it lasts);
* **redis** — the crawl goes on with each process keeping its own per-domain budget (``crawlers.politeness``), so
  the admins are told when it begins and again when Redis is back;
* **channel:<name>** — a delivery channel whose circuit breaker opened (the mail relay down, a robot refusing):
  its messages wait in the outbox while the others go out, and the admins are told when it opens and when the
  channel delivers again (the copy on the broken channel itself arrives once it is back).

The stages notice (``runner.stages``): every process that sees an outage reports it, so the reports are merged
here: a report whose window overlaps one already queued for the same service (within ``MERGE_SLACK``) adds
nothing, decided under a transaction-level advisory lock on PostgreSQL. The admins get one message per outage,
not one per worker. The window is kept in the message's dedup key (``outage:<service>:<phase>:<start>-<end>``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from incidents.models import Notification
from incidents.notify import CHANNEL_LABELS, queue_notifications
from incidents.policy import Policy
from yuqing.org import OrgChart, Role

SYSTEM_HEALTH = "system_health"  # the outbox purpose
PURPOSE_LABEL = "系统状态"
SERVICES = {"database": "数据库（PostgreSQL）", "redis": "Redis（跨进程按域名限速）"}
BEGAN, ENDED = "began", "ended"
MERGE_SLACK = timedelta(minutes=2)  # two processes' views of one outage differ by their tick and timeout times
_LOCK_KEY = 0x79_71_6F_75  # pg_advisory_xact_lock key of these reports ("yqou")


def report_outage(session: Session, *, org: OrgChart, policy: Policy, service: str, phase: str,
                  started: datetime, ended: datetime | None, now: datetime, where: str,
                  tz: ZoneInfo | None = None) -> int:
    """Queue the admins' message that ``service`` stopped answering at ``started`` (``phase`` ``began``) or answered
    again at ``ended`` after stopping at ``started`` (``ended``), as seen by ``where`` (a process or stage name);
    returns how many rows were queued (0 when another process already told the admins about this outage).
    Flushes; the caller commits (the advisory lock is held until then)."""
    admins = [p for p in org.people if Role.admin in p.roles]
    if not admins:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = ended or now
    if _already_told(session, service, phase, started, last):
        return 0
    tz = tz or ZoneInfo(policy.levels_file.timezone)
    key = f"outage:{service}:{phase}:{int(started.timestamp())}-{int(last.timestamp())}"
    return queue_notifications(session, people=admins, policy=policy, now=now, alert=None, incident_id=None,
                               purpose=SYSTEM_HEALTH, key=key,
                               message=outage_message(service, phase, started, ended, where, tz))


def _already_told(session: Session, service: str, phase: str, started: datetime, last: datetime) -> bool:
    prefix = f"outage:{service}:{phase}:"
    keys = session.scalars(select(Notification.dedup_key).where(
        Notification.purpose == SYSTEM_HEALTH, Notification.dedup_key.startswith(prefix, autoescape=True),
        Notification.created_at >= started - timedelta(days=1)))
    for key in keys:
        try:
            window = key[len(prefix):].split(":", 1)[0]
            a, b = (datetime.fromtimestamp(int(x), UTC) for x in window.split("-", 1))
        except ValueError:
            continue
        if a - MERGE_SLACK <= last and started <= b + MERGE_SLACK:
            return True
    return False


def outage_message(service: str, phase: str, started: datetime, ended: datetime | None, where: str,
                   tz: ZoneInfo) -> tuple[str, str]:
    """(subject, body) in Chinese for the admins."""
    name = SERVICES.get(service, service)
    since = _local(started, tz)
    if service.startswith("channel:"):
        label = CHANNEL_LABELS.get(service.removeprefix("channel:"), service.removeprefix("channel:"))
        if phase == BEGAN:
            return (f"系统异常：通知渠道「{label}」暂停发送",
                    f"{since}起{label}连续发送失败（由 {where}报告），该渠道已暂停（熔断），待发消息保留在发件箱中，"
                    f"冷却后自动重试；其他渠道照常发送。\n请检查该渠道的服务器或接口设置及网络连通性（通知渠道页面显示其状态）。")
        return (f"系统恢复：通知渠道「{label}」已恢复",
                f"{label}已于{_local(ended or started, tz)}恢复发送（中断始于{since}，约 {_span(started, ended)}），"
                "积压的消息已继续发送。")
    if service == "redis":
        effect = ("在此期间各抓取进程改为各自按域名限速（同一网站可能被多个进程同时访问，"
                  "请求间隔只在单个进程内得到保证），抓取本身未中断。")
        if phase == BEGAN:
            return (f"系统异常：{name}不可用",
                    f"{since}起{name}无法连接（由 {where}报告）。\n{effect}\n请检查 Redis 服务及 YUQING_REDIS_URL。")
        return (f"系统恢复：{name}已恢复",
                f"{name}已于{_local(ended or started, tz)}恢复（中断始于{since}，约 {_span(started, ended)}）。\n"
                "跨进程按域名限速已重新生效。")
    effect = ("在此期间抓取到的内容可能未能入库（将在下次抓取时补回），匹配、分类、评分、告警和消息发送均暂停，"
              "仪表盘就绪检查（/readyz）返回不可用。")
    return (f"系统异常已恢复：{name}曾中断约 {_span(started, ended)}",
            f"{name}自{since}起无法访问，于{_local(ended or started, tz)}恢复（由 {where}报告）。\n{effect}\n"
            "各阶段已自动继续处理积压内容；如中断反复出现，请检查数据库服务器、网络及 YUQING_DB_* 超时设置。")


def _local(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M:%S}"


def _span(started: datetime, ended: datetime | None) -> str:
    seconds = max(0, int(((ended or started) - started).total_seconds()))
    if seconds < 120:
        return f"{max(seconds, 1)} 秒"
    if seconds < 7200:
        return f"{seconds // 60} 分钟"
    return f"{seconds // 3600} 小时"
