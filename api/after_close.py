"""After a case closes: review action items (整改事项) marked done, and the decision on a 舆情反弹 flag — the actions
the JSON API (``api.routers.after_close``), the dashboard forms below and the CLI (``runner.cli_after_close``) share.

Every action checks, in order: the incident exists (404), the caller's units contain it (403), the item belongs to
it (404), the caller may (403: an item's owner, a commander or a leader; a flag decision is the commander's or a
leader's); then the flow decides the rest (409 / 422 with its Chinese message) and the action commits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api import actions
from api.deps import ClockDep, IdPath, OrgDep, PageUser, Principal, SessionDep, ensure_csrf
from incidents import action_items, resurgence
from incidents.errors import NotFound
from incidents.models import ReviewActionItem
from yuqing.clock import Clock
from yuqing.org import ROLE_LABELS, OrgChart
from yuqing.text import repair_text

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def mark_action_item_done(session: Session, principal: Principal, *, incident_id: int, item_id: int, note: str,
                          org: OrgChart | None, clock: Clock) -> ReviewActionItem:
    """整改事项完成 by its owner, a commander or a leader."""
    incident = actions._visible_incident(session, principal, incident_id)
    try:
        item = action_items.get_item(session, incident_id=incident.id, item_id=item_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.user_message) from None
    if not action_items.may_mark_done(roles=principal.roles, login=principal.login, owner_id=item.owner_id):
        who = "、".join(ROLE_LABELS[r] for r in sorted(action_items.MARKERS, key=list(ROLE_LABELS).index))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权标记此整改事项完成：仅限负责人本人或{who}")
    actions._call(action_items.mark_done, session, incident_id=incident.id, item_id=item.id,
                  user_login=principal.login, note=repair_text(note).strip(), org=org, clock=clock)
    session.commit()
    session.refresh(item)
    return item


def dismiss_resurgence(session: Session, principal: Principal, *, incident_id: int, reason: str,
                       clock: Clock) -> None:
    """研判不重新打开 a flagged ended case (commander or leader), with the reason."""
    incident = actions._visible_incident(session, principal, incident_id)
    if not principal.has_role(*resurgence.DECIDE_ROLES):
        who = "、".join(ROLE_LABELS[r] for r in sorted(resurgence.DECIDE_ROLES, key=list(ROLE_LABELS).index))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权执行此操作：需要以下角色之一：{who}")
    actions._call(resurgence.dismiss_flag, session, incident_id=incident.id, user_login=principal.login,
                  reason=repair_text(reason), clock=clock)
    session.commit()


# --- dashboard forms ---------------------------------------------------------------------------------------------
CsrfField = Annotated[str, Form(max_length=128)]
Note = Annotated[str, Form(max_length=2000)]
Reason = Annotated[str, Form(max_length=500)]


@router.post("/incidents/{incident_id}/review/action-items/{item_id}/done")
def action_item_done_form(me: PageUser, session: SessionDep, org: OrgDep, clock: ClockDep, incident_id: IdPath,
                          item_id: IdPath, csrf_token: CsrfField = "", note: Note = "") -> Response:
    ensure_csrf(me, csrf_token)
    mark_action_item_done(session, me, incident_id=incident_id, item_id=item_id, note=note, org=org, clock=clock)
    return RedirectResponse(f"/incidents/{incident_id}?done=action_item#action-item-{item_id}",
                            status_code=status.HTTP_303_SEE_OTHER)


@router.post("/incidents/{incident_id}/resurgence/dismiss")
def resurgence_dismiss_form(me: PageUser, session: SessionDep, clock: ClockDep, incident_id: IdPath,
                            csrf_token: CsrfField = "", reason: Reason = "") -> Response:
    ensure_csrf(me, csrf_token)
    dismiss_resurgence(session, me, incident_id=incident_id, reason=reason, clock=clock)
    return RedirectResponse(f"/incidents/{incident_id}?done=resurgence", status_code=status.HTTP_303_SEE_OTHER)

