"""``/api/v1/outbox``: every message the system sent or tried (发送记录), for admins checking delivery — the same
rows and fields as the dashboard's /outbox page (recipient by person id and name, channel, status, the channel's
last error); one-click acknowledgement links are never stored, so they are never served."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import listings
from api.deps import OrgDep, Principal, SessionDep, require_roles
from api.pagination import Page, PageDep, paginate
from api.schemas import ERROR_RESPONSES, OutboxRead
from incidents.models import Notification
from incidents.notify import CHANNEL_LABELS, STATUS_LABELS
from yuqing.org import OrgChart, Role

router = APIRouter(prefix="/api/v1/outbox", tags=["notifications"], responses=ERROR_RESPONSES)
AdminUser = Annotated[Principal, Depends(require_roles(Role.admin))]


@router.get("", response_model=Page[OutboxRead], summary="发送记录（仅系统管理员；最新在前）")
def list_outbox(principal: AdminUser, session: SessionDep, org: OrgDep, page: PageDep,
                channel: Annotated[str | None, Query(max_length=16, description="渠道代码（email、wecom…）")] = None,
                status_: Annotated[str | None, Query(alias="status", max_length=16,
                                                     description="pending | sent | failed …")] = None,
                recipient: Annotated[str | None, Query(max_length=64, description="收件人（人员 id）")] = None
                ) -> Page[OutboxRead]:
    stmt, order = listings.outbox(channel=channel, status=status_, recipient=recipient)
    got = paginate(session, stmt, order=order, page=page,
                   scope=page.scope("outbox", channel=channel, status=status_, recipient=recipient))
    return Page(items=[outbox_read(org, n) for (n,) in got.rows], total=got.total, next_cursor=got.next_cursor)


def outbox_read(org: OrgChart, n: Notification) -> OutboxRead:
    person = org.find_person(n.recipient_id)
    return OutboxRead(id=n.id, channel=n.channel, channel_name=CHANNEL_LABELS.get(n.channel, n.channel),
                      purpose=n.purpose, recipient_id=n.recipient_id, recipient_name=person.name if person else None,
                      subject=n.subject, body=n.body, status=n.status,
                      status_name=STATUS_LABELS.get(n.status, n.status), attempts=n.attempts or 0,
                      last_error=n.last_error, created_at=n.created_at, sent_at=n.sent_at, read_at=n.read_at,
                      alert_id=n.alert_id, incident_id=n.incident_id)
