"""``/api/v1/tasks``: the checklist steps of the caller's incidents (earliest deadline first), and completing,
reassigning and marking one not applicable."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query

from api import actions, listings, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.pagination import Page, PageDep, paginate
from api.routers.audit import IdQuery
from api.schemas import ERROR_RESPONSES, ReasonRequest, TaskCompleteRequest, TaskRead, TaskReassignRequest

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[TaskRead], summary="处置任务（所辖单位的事件；最早到期在前）")
def list_tasks(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, page: PageDep,
               status_: Annotated[Literal["todo", "done", "not_applicable"] | None, Query(alias="status")] = None,
               mine: Annotated[bool, Query(description="只列分派给本人的任务")] = False,
               incident_id: IdQuery = None,
               active: Annotated[bool, Query(description="只列未结案事件的任务")] = False) -> Page[TaskRead]:
    stmt, order = listings.tasks(unit_ids=principal.unit_ids, status=status_,
                                 owner_id=principal.login if mine else None, incident_id=incident_id,
                                 active_only=active)
    got = paginate(session, stmt, order=order, page=page,
                   scope=page.scope("tasks", status=status_, mine=mine, incident_id=incident_id, active=active))
    now = clock.now()
    return Page(items=[views.task_read(org, t, now) for (t,) in got.rows], total=got.total,
                next_cursor=got.next_cursor)


@router.post("/{task_id}/complete", response_model=TaskRead, summary="完成处置任务")
def complete(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
             task_id: IdPath,
             body: Annotated[TaskCompleteRequest | None, Body()] = None) -> TaskRead:
    note = body.note.strip() if body is not None else ""
    task = actions.complete_task(session, principal, task_id=task_id, note=note, org=org, clock=clock)
    return views.task_read(org, task, clock.now())


@router.post("/{task_id}/reassign", response_model=TaskRead, summary="改派处置任务")
def reassign(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, task_id: IdPath,
             body: TaskReassignRequest) -> TaskRead:
    task = actions.reassign_task(session, principal, task_id=task_id, owner_id=body.owner_id, reason=body.reason,
                                 org=org, clock=clock)
    return views.task_read(org, task, clock.now())


@router.post("/{task_id}/not-applicable", response_model=TaskRead, summary="标记任务不适用")
def not_applicable(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep, task_id: IdPath,
                   body: ReasonRequest) -> TaskRead:
    task = actions.task_not_applicable(session, principal, task_id=task_id, reason=body.reason, clock=clock)
    return views.task_read(org, task, clock.now())
