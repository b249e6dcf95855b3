"""``/api/v1/tasks``: completing checklist steps of an incident."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api import actions, views
from api.deps import ClockDep, CurrentUser, IdPath, OrgDep, SessionDep
from api.schemas import TaskCompleteRequest, TaskRead

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


@router.post("/{task_id}/complete", response_model=TaskRead, summary="完成处置任务")
def complete(principal: CurrentUser, session: SessionDep, org: OrgDep, clock: ClockDep,
             task_id: IdPath,
             body: Annotated[TaskCompleteRequest | None, Body()] = None) -> TaskRead:
    note = body.note.strip() if body is not None else ""
    task = actions.complete_task(session, principal, task_id=task_id, note=note, clock=clock)
    return views.task_read(org, task, clock.now())
