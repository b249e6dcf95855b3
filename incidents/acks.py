"""One-click acknowledgement links, and what a person's acknowledgement of a message records.

A message that reaches one person (email, SMS, the generic webhook) carries a link ``/ack/<token>``. The token is
signed with the app's secret key (itsdangerous, salted with this feature's purpose so no other signed value of the
app can be replayed as one), names one notification and its recipient, and expires (24 hours by default, from the
moment the message was handed to the channel). Opening the link only shows a confirmation page: mail gateways and
chat previews fetch links, so a GET must never acknowledge. The POST from that page records the acknowledgement
once — the ``message_acks`` row is unique per notification, so a second use is refused by the database even when
two requests race.

Group chats (WeCom / DingTalk / Feishu robots) get no one-click link: everyone in the group reads every link, so
anyone could acknowledge as someone else. They carry the dashboard link instead, where each person acknowledges
with their own login.

What an acknowledgement means is decided here, in one place for the link and the inbox button: the message is
marked read, a ``MessageAck`` row records who and how, and the incident's timeline says so. Acknowledging the
alert itself (which stops escalation) is the caller's business (``api.actions``), because it checks role and unit
scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.message_acks import MessageAck
from incidents.models import Alert, Incident, Notification, TimelineEvent
from yuqing.org import Person

ACK_SALT = "yuqing.notification-ack.v1"
_LINK_LINE = re.compile(r"^处理链接：(/\S*)$", re.MULTILINE)
_ALERT_PATH = re.compile(r"^/alerts/(\d+)$")
DEFAULT_EXPIRY_HOURS = 24


class AckLinkError(Exception):
    """A link that cannot be used; ``reason`` is one of invalid, expired, used, wrong_person, gone."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "确认链接无效：链接不完整或已被改动。请从原消息重新打开，或登录系统在“消息”中确认。",
        "expired": "确认链接已过期。请登录系统，在“消息”中确认。",
        "used": "该确认链接已经使用过，无需重复确认。",
        "wrong_person": "该确认链接属于他人。请退出当前账号后再打开，或由本人确认。",
        "gone": "该消息或其收件人已不存在（可能已离职或被停用）。",
    }

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.user_message = self.MESSAGES.get(reason, "确认链接无法使用。")


@dataclass(frozen=True)
class AckClaim:
    """What a valid token says: this notification, for this person."""

    notification_id: int
    person_id: str


class AckLinks:
    """Makes and reads acknowledgement tokens, and turns a stored message body into the text one person gets."""

    def __init__(self, secret_key: str, *, base_url: str, expiry_hours: int = DEFAULT_EXPIRY_HOURS):
        if not secret_key:
            raise ValueError("acknowledgement links need the app's secret key")
        self._serializer = URLSafeTimedSerializer(secret_key, salt=ACK_SALT)
        self.base_url = base_url.rstrip("/")
        self.expiry_seconds = expiry_hours * 3600

    def token(self, notification_id: int, person_id: str) -> str:
        return self._serializer.dumps({"n": int(notification_id), "p": str(person_id)})

    def url(self, notification_id: int, person_id: str) -> str:
        return f"{self.base_url}/ack/{self.token(notification_id, person_id)}"

    def read(self, token: str) -> AckClaim:
        """The claim of a token signed by us and younger than the expiry; raises ``AckLinkError`` otherwise."""
        try:
            data = self._serializer.loads(token, max_age=self.expiry_seconds)
        except SignatureExpired:
            raise AckLinkError("expired") from None
        except BadSignature:
            raise AckLinkError("invalid") from None
        if not isinstance(data, dict) or not isinstance(data.get("n"), int) or not isinstance(data.get("p"), str):
            raise AckLinkError("invalid")
        return AckClaim(notification_id=data["n"], person_id=data["p"])

    def absolute(self, body: str) -> str:
        """The stored body with its dashboard link (``处理链接：/incidents/5``) made absolute."""
        return _LINK_LINE.sub(lambda m: f"处理链接：{self.base_url}{dashboard_path(m.group(1))}", body)

    def personal_text(self, notification_id: int, person_id: str, body: str, *, url: str | None = None) -> str:
        """The text one person receives: the body with absolute links and their own one-click link.

        ``url`` passes a link already made, so a payload that carries the link beside the text carries the same one
        (a token holds its signing second: two calls either side of a second boundary differ)."""
        hours = self.expiry_seconds // 3600
        return (f"{self.absolute(body)}\n\n一键确认收到（{hours}小时内有效，仅限本人使用）："
                f"{url or self.url(notification_id, person_id)}")


def dashboard_path(path: str) -> str:
    """The page a message's link means: an alert is shown on the alerts page (there is no page per alert)."""
    m = _ALERT_PATH.match(path)
    return f"/alerts#alert-{m.group(1)}" if m else path


def claim_notification(session: Session, claim: AckClaim) -> Notification:
    """The notification a valid token names, if it still exists and is still addressed to that person."""
    n = session.get(Notification, claim.notification_id)
    if n is None or n.recipient_id != claim.person_id:
        raise AckLinkError("gone")
    return n


def existing_ack(session: Session, notification_id: int) -> MessageAck | None:
    return session.scalar(select(MessageAck).where(MessageAck.notification_id == notification_id))


def record_acknowledgement(session: Session, *, notification: Notification, person: Person, via: str,
                           now: datetime, outcome: str) -> MessageAck:
    """Record that ``person`` acknowledged ``notification`` (via ``link`` or ``inbox``); once per message.

    ``outcome`` says what the acknowledgement did to the alert (``alert_acknowledged``, ``alert_already``,
    ``received``). Flushes; raises ``AckLinkError("used")`` when the message was already acknowledged (also when
    another request did so a moment ago: the unique row decides).
    """
    if existing_ack(session, notification.id) is not None:
        raise AckLinkError("used")
    ack = MessageAck(notification_id=notification.id, person_id=person.id, at=now, via=via, outcome=outcome)
    try:
        with session.begin_nested():
            session.add(ack)
            session.flush()
    except IntegrityError:
        raise AckLinkError("used") from None
    notification.read_at = notification.read_at or now
    incident = _incident_of(session, notification)
    if incident is not None:
        how = "一键确认链接" if via == "link" else "站内消息"
        session.add(TimelineEvent(incident=incident, at=now, kind="message_acknowledged", actor=person.id,
                                  text=f"{person.name}通过{how}确认收到通知：{notification.subject[:80]}",
                                  data={"notification_id": notification.id, "via": via, "outcome": outcome,
                                        "channel": notification.channel}))
    session.flush()
    return ack


def _incident_of(session: Session, n: Notification) -> Incident | None:
    incident_id = n.incident_id
    if incident_id is None and n.alert_id is not None:
        alert = session.get(Alert, n.alert_id)
        incident_id = alert.incident_id if alert else None
    return session.get(Incident, incident_id) if incident_id else None
