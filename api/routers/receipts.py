"""``POST /api/v1/notifications/{id}/ack``: 确认收到 — the inbox's acknowledge button, through the API.

The same act as the button and the one-click link (``api.inbox.acknowledge_message``): the person's receipt of
their own message is recorded; a message about an open alert the person may handle acknowledges the alert too
(stopping its escalation); a leader's acknowledgement of a message about an incident of their units is their
领导确认知悉. The receipt is recorded as made ``via="api"``. Another person's message answers 404, like a
missing one; a message already acknowledged answers 409.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from api import inbox
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.schemas import ERROR_RESPONSES
from incidents import acks

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], responses=ERROR_RESPONSES)


class MessageAckRead(BaseModel):
    outcome: Literal["alert_acknowledged", "alert_already", "received"] = Field(
        description="alert_acknowledged: the alert was acknowledged too; alert_already: it was no longer open; "
                    "received: the receipt alone was recorded")
    notification: inbox.NotificationRead


@router.post("/{notification_id}/ack", response_model=MessageAckRead,
             summary="确认收到（消息涉及待确认预警且有权时同时确认预警）")
def acknowledge(principal: CurrentUser, session: SessionDep, clock: ClockDep, org: OrgDep,
                notification_id: IdPath) -> MessageAckRead:
    n = inbox._own(session, principal, notification_id)
    person = inbox._person(org, principal.login)
    try:
        outcome = inbox.acknowledge_message(session, principal, n, person, via="api", now_clock=clock)
    except acks.AckLinkError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, "该消息已确认，无需重复确认") from None
    session.refresh(n)
    return MessageAckRead(outcome=outcome,
                          notification=inbox.notification_read(n, inbox.acknowledged_at(session, [n]).get(n.id)))
