"""Review action items (整改事项) marked done: the review (复盘) decides them, with an owner and a due date; the owner,
the commander or a leader records each one done, on the incident's timeline and in the audit log.

Who may (checked by the entry points, ``api.after_close``, before this runs): the item's owner, or anyone holding
the commander or leader role whose units contain the incident — the people who run the case and can vouch for
its follow-up. Anyone else is refused (403). An item is done once; marking it again is refused (409).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.errors import IncidentError, NotFound
from incidents.messages import plain_line
from incidents.models import Incident, IncidentReview, ReviewActionItem, TimelineEvent
from yuqing import audit_chain
from yuqing.clock import Clock, ensure_utc
from yuqing.org import OrgChart, Role

MARKERS = frozenset({Role.commander, Role.leader})  # besides the item's owner


def may_mark_done(*, roles: Iterable[str], login: str, owner_id: str) -> bool:
    """Whether someone may record an action item done: its owner, a commander or a leader."""
    return login == owner_id or bool({str(r) for r in roles} & {str(r) for r in MARKERS})


def get_item(session: Session, *, incident_id: int, item_id: int) -> ReviewActionItem:
    """One action item of one incident's reviews; ``NotFound`` when the id names no item of that incident."""
    item = session.scalar(select(ReviewActionItem).join(IncidentReview)
                          .where(ReviewActionItem.id == item_id, IncidentReview.incident_id == incident_id))
    if item is None:
        raise NotFound("review action item", item_id, "整改事项")
    return item


def mark_done(session: Session, *, incident_id: int, item_id: int, user_login: str, note: str = "",
              org: OrgChart | None = None, clock: Clock) -> ReviewActionItem:
    """整改事项完成: stamps ``done_at``, writes the timeline event and the audit entry; flushes."""
    now = clock.now()
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident", incident_id, "事件")
    item = get_item(session, incident_id=incident_id, item_id=item_id)
    if item.done_at is not None:
        raise IncidentError(f"action item {item_id} already done", f"整改事项“{plain_line(item.title, 40)}”已完成")
    item.done_at = now
    late = item.due_at is not None and now > ensure_utc(item.due_at)
    owner = item.owner_id
    if org is not None:
        with contextlib.suppress(KeyError):
            owner = org.person(item.owner_id).name
    text = f"整改事项完成：{plain_line(item.title, 120)}（负责人 {owner}）" + ("（已超期）" if late else "")
    if note.strip():
        text += f"：{plain_line(note, 200)}"
    session.add(TimelineEvent(incident=incident, at=now, kind="action_item_done", actor=user_login, text=text,
                              data={"item_id": item.id, "review_id": item.review_id, "owner": item.owner_id,
                                    "late": late, "note": note.strip()}))
    audit_chain.append(session, at=now, actor=user_login, action="review.action_item_done",
                       object_type="review_action_item", object_id=item.id, detail=plain_line(item.title, 200),
                       data={"incident_id": incident.id, "owner": item.owner_id, "note": note.strip()})
    session.flush()
    return item


def is_overdue(item: ReviewActionItem, now: datetime) -> bool:
    return item.done_at is None and item.due_at is not None and ensure_utc(item.due_at) < now
