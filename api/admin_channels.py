"""通知渠道: each channel's status and 发送测试消息 — the page ``/admin/channels`` and
``POST /api/v1/channels/{name}/test``.

Status per channel, from the channels document in force (``channels.yaml``, database copy over the file): enabled
or not, where it sends (SMTP relay, webhook address — robot URLs are secrets and never shown), whether each
environment variable it names is set in *this* process, whether its sender can be built, and its circuit breaker:
the live state when the process that delivers shares its ``ChannelBreakers`` with the app
(``app.state.channel_breakers``; ``yuqing run`` runs both in one process), else what the outbox shows (messages
held back with a 熔断 note, the last failure).

A test message goes through that channel's real sender (``incidents.notify.default_senders``, built for that one
channel) to the acting admin or a person chosen from the org chart, and is recorded as an outbox row of purpose
``channel_test``: ``sent`` with the channel's confirmation (SMTP 250, the robot's errcode 0 …) or ``failed`` with
the error — never "read", which only the person can do. The row is claimed (its next attempt a lease ahead) before
the send and settled after it, so the pipeline's deliverer never sends it a second time; the send and its outcome
are audited (``channel.test``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, HTTPException, Path, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import audit
from api.admin_forms import document_text, ensure_admin
from api.deps import (
    ClockDep,
    CurrentUser,
    OrgDep,
    PageUser,
    PolicyDep,
    Principal,
    SessionDep,
    SettingsDep,
    ensure_csrf,
)
from api.schemas import ERROR_RESPONSES
from incidents.models import Notification
from incidents.notify import CHANNEL_LABELS, default_senders
from incidents.policy import ChannelsFile, Policy
from yuqing.clock import Clock
from yuqing.errors import ConfigError
from yuqing.org import OrgChart, Person
from yuqing.settings import Settings

CHANNELS_DOC = "channels.yaml"
CHANNEL_NAMES = ("in_app", "email", "wecom", "dingtalk", "feishu", "webhook", "sms", "phone")
TEST_PURPOSE = "channel_test"
LEASE_SECONDS = 60  # beyond the channel's own timeout: how long the claimed row is kept from the deliverer
BREAKER_NOTE = "熔断"
UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT
ChannelName = Annotated[str, Path(pattern=r"^(in_app|email|wecom|dingtalk|feishu|webhook|sms|phone)$")]

router = APIRouter(prefix="/api/v1/channels", tags=["notifications"], responses=ERROR_RESPONSES)
pages = APIRouter(tags=["dashboard"], include_in_schema=False)


class TestRefused(Exception):
    """The test cannot be sent (channel off, no sender, the person cannot be reached on it); ``code`` is HTTP."""

    def __init__(self, message: str, code: int = status.HTTP_409_CONFLICT):
        super().__init__(message)
        self.code = code


@dataclass
class ChannelStatus:
    name: str
    label: str
    enabled: bool
    target: str  # where it sends, without secrets
    secrets: list[tuple[str, bool]]  # (environment variable, set in this process)
    sender_error: str | None  # why its sender cannot be built (None: it can, or the channel is off)
    breaker: str  # closed | open | half_open | unknown
    breaker_note: str
    last_test: Notification | None


def channels_in_force(session: Session, settings: Settings, policy: Policy | None) -> ChannelsFile:
    """The channels document in force (database copy over the file); the loaded policy's if it cannot be read."""
    try:
        data = yaml.safe_load(document_text(session, settings, CHANNELS_DOC) or "") or {}
        return ChannelsFile.model_validate(data)
    except (yaml.YAMLError, ValidationError):
        if policy is not None:
            return policy.channels
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "通知渠道配置有误且未加载分级配置") from None


def _only(channels: ChannelsFile, name: str) -> ChannelsFile:
    """The channels file with every channel but ``name`` (and the always-on inbox) switched off."""
    c = channels.channels
    off = {other: getattr(c, other).model_copy(update={"enabled": False})
           for other in CHANNEL_NAMES if other not in (name, "in_app") and hasattr(getattr(c, other), "enabled")}
    return channels.model_copy(update={"channels": c.model_copy(update=off)})


def sender_for(policy: Policy, channels: ChannelsFile, settings: Settings, name: str) -> Any:
    """The channel's real sender, built alone (another channel's missing secret does not stop this one)."""
    senders = default_senders(policy.model_copy(update={"channels": _only(channels, name)}), settings)
    if name not in senders:
        raise TestRefused(f"{CHANNEL_LABELS.get(name, name)}渠道未启用")
    return senders[name]


def _secrets(cfg: Any) -> list[str]:
    return [getattr(cfg, f) for f in ("password_env", "url_env", "secret_env", "auth_env") if getattr(cfg, f, None)]


def _target(name: str, cfg: Any) -> str:
    if name == "email":
        return f"SMTP {cfg.smtp_host}:{cfg.smtp_port}（发件人 {cfg.from_address}）"
    if name in ("webhook", "sms"):
        return cfg.url or "未配置地址"
    if name in ("wecom", "dingtalk", "feishu"):
        return f"机器人地址取自环境变量 {cfg.url_env}" if cfg.url_env else "未配置"
    if name == "phone":
        return "生成电话任务（不自动拨打）"
    return "站内消息箱"


def channel_statuses(session: Session, settings: Settings, policy: Policy, channels: ChannelsFile,
                     breakers: Any | None) -> list[ChannelStatus]:
    out = []
    for name in CHANNEL_NAMES:
        cfg = getattr(channels.channels, name)
        enabled = name == "in_app" or bool(getattr(cfg, "enabled", False))
        env = [(var, bool(os.environ.get(var, "").strip())) for var in _secrets(cfg)]
        error = None
        if enabled and name not in ("in_app", "phone"):
            try:
                sender_for(policy, channels, settings, name)
            except ConfigError as exc:
                error = "；".join(reason for _field, reason in exc.problems) or str(exc)
            except TestRefused as exc:
                error = str(exc)
        state, note = _breaker(session, name, breakers)
        last = session.scalar(select(Notification).where(Notification.channel == name,
                                                         Notification.purpose == TEST_PURPOSE)
                              .order_by(Notification.id.desc()).limit(1))
        out.append(ChannelStatus(name=name, label=CHANNEL_LABELS.get(name, name), enabled=enabled,
                                 target=_target(name, cfg), secrets=env, sender_error=error, breaker=state,
                                 breaker_note=note, last_test=last))
    return out


def _breaker(session: Session, name: str, breakers: Any | None) -> tuple[str, str]:
    if breakers is not None:
        state = breakers.state(name)
        if state == "closed":
            return "closed", "正常"
        what = "熔断中" if state == "open" else "半开（逐条试发）"
        return state, f"{what}，约 {round(breakers.retry_in(name))} 秒后重试"
    held = session.scalar(select(Notification.last_error).where(
        Notification.channel == name, Notification.status == "pending",
        Notification.last_error.like(f"%{BREAKER_NOTE}%")).limit(1))
    if held:
        return "open", f"据发送记录：{held}"
    return "unknown", "本进程不负责投递，熔断状态见运行 yuqing run 的进程日志；发送记录中没有熔断暂停的消息"


async def send_test(session: Session, *, policy: Policy, channels: ChannelsFile, settings: Settings, org: OrgChart,
                    clock: Clock, name: str, person: Person, actor: Principal, note: str = "") -> Notification:
    """Send one test message on ``name`` to ``person`` through the channel's real sender; the outbox row records
    what happened (sent with the channel's confirmation, or failed with the error) and the audit log the act."""
    if name == "phone":
        raise TestRefused("电话渠道不发送消息：它为需要电话通知的领导生成电话任务，由人工拨打")
    try:
        sender = sender_for(policy, channels, settings, name)
    except ConfigError as exc:
        raise TestRefused("渠道无法使用：" + "；".join(r for _f, r in exc.problems)) from None
    if name == "email" and not person.contacts.email:
        raise TestRefused(f"{person.name}没有登记电子邮箱（org.yaml），无法测试邮件渠道", UNPROCESSABLE)
    if name == "sms" and not person.contacts.phone:
        raise TestRefused(f"{person.name}没有登记手机号（org.yaml），无法测试短信渠道", UNPROCESSABLE)
    now = clock.now()
    label = CHANNEL_LABELS.get(name, name)
    body = (f"这是一条测试消息：系统管理员{actor.name}在管理后台测试「{label}」渠道，发给{person.name}。"
            "收到即说明该渠道可以送达，无需处理。") + (f"\n附言：{note}" if note else "")
    timeout = float(getattr(getattr(channels.channels, name), "timeout_seconds", 15.0) or 15.0)
    row = Notification(dedup_key=f"{TEST_PURPOSE}:{name}:{secrets.token_hex(8)}", recipient_id=person.id,
                       channel=name, purpose=TEST_PURPOSE, subject=f"【测试】{label}渠道测试消息", body=body,
                       status="pending", attempts=0, created_at=now,
                       next_attempt_at=now + timedelta(seconds=timeout + LEASE_SECONDS))
    session.add(row)
    session.commit()  # claimed: the deliverer skips it until the lease ends; the send below settles it
    error: str | None = None
    confirmation: str | None = None
    try:
        if getattr(sender, "group", False):
            confirmation = await asyncio.wait_for(sender.send_group(row, [person]), timeout + 5)
        else:
            confirmation = await asyncio.wait_for(sender.send(row, person), timeout + 5)
    except TimeoutError:
        error = f"超时（{timeout:g} 秒内未答复）"
    except Exception as exc:  # the channel's own failure: recorded as it is
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
    done = clock.now()
    row.attempts = 1
    row.next_attempt_at = None
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", done, None
    else:
        row.status, row.last_error = "failed", error[:1000]
    outcome = f"已发送（{confirmation}）" if error is None else f"发送失败：{error}"
    audit.record(session, clock=clock, actor=actor.login, action="channel.test", object_type="channel",
                 object_id=name, detail=f"向{person.name}发送{label}测试消息：{outcome}"[:1000],
                 data={"notification_id": row.id, "recipient": person.id, "status": row.status,
                       "confirmation": confirmation, "error": error})
    session.commit()
    return row


def _recipient(org: OrgChart, me: Principal, person_id: str | None) -> Person:
    person = org.find_person(person_id or me.login)
    if person is None:
        raise TestRefused(f"组织架构中没有此人：{person_id or me.login}", UNPROCESSABLE)
    return person


# --- the JSON API ------------------------------------------------------------------------------------------------
class ChannelTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str | None = Field(default=None, max_length=64, description="收件人（org.yaml 中的人员 id）；默认本人")
    note: str = Field(default="", max_length=200, description="附言（写入测试消息）")


class ChannelTestRead(BaseModel):
    notification_id: int
    channel: str
    recipient_id: str
    status: str = Field(description="sent（渠道已确认接收）| failed（见 error）")
    error: str | None = None
    sent_at: str | None = None


@router.post("/{name}/test", response_model=ChannelTestRead,
             summary="发送测试消息：经该渠道的真实发送器发给本人或指定人员，如实记录发送结果（仅系统管理员）")
async def api_test(name: ChannelName, me: CurrentUser, session: SessionDep, settings: SettingsDep, org: OrgDep,
                   clock: ClockDep, policy: PolicyDep, request: Request,
                   body: ChannelTestRequest | None = None) -> ChannelTestRead:
    ensure_admin(me)
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载分级与通知配置")
    body = body or ChannelTestRequest()
    try:
        person = _recipient(org, me, body.person_id)
        row = await send_test(session, policy=policy, channels=channels_in_force(session, settings, policy),
                              settings=settings, org=org, clock=clock, name=name, person=person, actor=me,
                              note=body.note)
    except TestRefused as exc:
        raise HTTPException(exc.code, str(exc)) from None
    return ChannelTestRead(notification_id=row.id, channel=name, recipient_id=row.recipient_id, status=row.status,
                           error=row.last_error, sent_at=row.sent_at.isoformat() if row.sent_at else None)


# --- the dashboard ---------------------------------------------------------------------------------------------
@pages.get("/admin/channels", response_class=HTMLResponse)
def page_channels(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, org: OrgDep,
                  policy: PolicyDep) -> Response:
    from api.pages import render

    ensure_admin(me)
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载分级与通知配置")
    channels = channels_in_force(session, settings, policy)
    rows = channel_statuses(session, settings, policy, channels, getattr(request.app.state, "channel_breakers", None))
    tested = request.query_params.get("tested", "")
    last = None
    if tested.isdigit():
        last = session.get(Notification, int(tested))
        last = last if last is not None and last.purpose == TEST_PURPOSE else None
    return render(request, "admin_channels.html", me, "admin_channels",
                  {"rows": rows, "people": [p for p in org.people], "me_id": me.login, "last": last})


@pages.post("/admin/channels/{name}/test")
async def page_test(request: Request, name: ChannelName, me: PageUser, session: SessionDep, settings: SettingsDep,
                    org: OrgDep, clock: ClockDep, policy: PolicyDep,
                    csrf_token: Annotated[str, Form(max_length=128)] = "",
                    person_id: Annotated[str, Form(max_length=64)] = "",
                    note: Annotated[str, Form(max_length=200)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    if policy is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未加载分级与通知配置")
    try:
        person = _recipient(org, me, person_id or None)
        row = await send_test(session, policy=policy, channels=channels_in_force(session, settings, policy),
                              settings=settings, org=org, clock=clock, name=name, person=person, actor=me, note=note)
    except TestRefused as exc:
        raise HTTPException(exc.code, str(exc)) from None
    return RedirectResponse(f"/admin/channels?tested={row.id}#channel-{name}", status_code=status.HTTP_303_SEE_OTHER)
