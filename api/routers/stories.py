"""``/api/v1/stories``: same-story groups of articles about the caller's units, with their current risk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api import queries, views
from api.deps import CurrentUser, IdPath, OrgDep, SessionDep, ensure_unit
from api.schemas import ListOf, StoryListRead, StoryRead

router = APIRouter(prefix="/api/v1/stories", tags=["stories"])


@router.get("", response_model=ListOf[StoryListRead], summary="事件话题（同一报道合并）")
def list_stories(principal: CurrentUser, session: SessionDep, org: OrgDep,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ListOf[StoryListRead]:
    whole_bank = org.root().id in principal.unit_ids
    rows = queries.list_stories(session, unit_ids=principal.unit_ids, include_unattributed=whole_bank, limit=limit)
    data = views.story_list_reads(session, org, rows)
    return ListOf(data=data, count=len(data))


@router.get("/{story_id}", response_model=StoryRead, summary="话题详情（含全部报道）")
def get_story(principal: CurrentUser, session: SessionDep, org: OrgDep,
              story_id: IdPath) -> StoryRead:
    story = queries.get_story(session, story_id=story_id)
    if story is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"话题 {story_id} 不存在")
    if not (story.unit_id is None and org.root().id in principal.unit_ids):
        ensure_unit(principal, story.unit_id)
    return views.story_read(session, org, story)
