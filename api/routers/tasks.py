"""``/api/v1/tasks``: completing, reassigning and marking not applicable the checklist steps of an incident."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api import actions, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.schemas import ReasonRequest, TaskCompleteRequest, TaskRead, TaskReassignRequest

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


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
