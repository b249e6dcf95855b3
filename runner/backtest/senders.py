"""Senders that record instead of sending: a backtest must never reach a real person.

The outbox and ``incidents.notify.deliver_pending`` run unchanged; only the last hop is replaced. A personal
channel gets a ``RecordingSender``, a group-robot channel a ``RecordingGroupSender`` (one post per batch, as the
real robots are driven), and the phone channel keeps the product's own ``PhoneCallTasks`` (it never calls anyone:
it opens a call task). Every channel the outbox can name has a sender, so no row fails for want of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CONFIRMATION = "回测：已记录，未实际发送"
PERSONAL_CHANNELS = ("in_app", "email", "webhook", "sms")
GROUP_CHANNELS = ("wecom", "dingtalk", "feishu")


@dataclass(frozen=True)
class Handed:
    """One message the delivery code handed to a channel."""

    channel: str
    notification_id: int
    purpose: str
    recipients: tuple[str, ...]


@dataclass
class SendLog:
    handed: list[Handed] = field(default_factory=list)


class RecordingSender:
    def __init__(self, channel: str, log: SendLog):
        self.channel, self.log = channel, log

    async def send(self, notification: Any, person: Any) -> str | None:
        self.log.handed.append(Handed(self.channel, notification.id, notification.purpose, (person.id,)))
        return CONFIRMATION


class RecordingGroupSender:
    group = True

    def __init__(self, channel: str, log: SendLog):
        self.channel, self.log = channel, log

    async def send_group(self, notification: Any, people: Sequence[Any]) -> str | None:
        self.log.handed.append(Handed(self.channel, notification.id, notification.purpose,
                                      tuple(p.id for p in people)))
        return CONFIRMATION


def recording_senders(log: SendLog) -> dict[str, Any]:
    """A sender for every channel; messages are recorded in ``log`` and nothing leaves the process."""
    from incidents.notify import PhoneCallTasks

    senders: dict[str, Any] = {ch: RecordingSender(ch, log) for ch in PERSONAL_CHANNELS}
    senders.update({ch: RecordingGroupSender(ch, log) for ch in GROUP_CHANNELS})
    senders["phone"] = PhoneCallTasks()
    return senders
