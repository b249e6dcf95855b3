"""``/api/v1/stories``: same-story groups of articles about the caller's units, with their current risk."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from api import listings, views
from api.deps import CurrentUser, IdPath, OrgDep, SessionDep, ensure_story
from api.pagination import Page, PageDep, paginate
from api.routing import OneHopRoute
from api.schemas import ERROR_RESPONSES, StoryListRead, StoryRead
from crawlers.models import Story

router = APIRouter(prefix="/api/v1/stories", tags=["stories"], responses=ERROR_RESPONSES,
                   route_class=OneHopRoute)


@router.get("", response_model=Page[StoryListRead], summary="事件话题（同一报道合并；默认最近活跃在前）")
def list_stories(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep,
                 sort: Annotated[Literal["time", "risk"], Query()] = "time") -> Page[StoryListRead]:
    whole_bank = org.root().id in principal.unit_ids
    stmt, order, params = listings.stories_bound(unit_ids=principal.unit_ids, include_unattributed=whole_bank,
                                                 sort=sort, above_ids=principal.above_ids)
    got = paginate(session, stmt, order=order, page=page, scope=page.scope("stories", sort=sort), params=params)
    return Page(items=views.story_list_reads(session, org, [s for (s,) in got.rows]), total=got.total,
                next_cursor=got.next_cursor)


@router.get("/{story_id}", response_model=StoryRead, summary="话题详情（含全部报道）")
def get_story(principal: CurrentUser, session: SessionDep, org: OrgDep,
              story_id: IdPath) -> StoryRead:
    story = session.get(Story, story_id)  # its articles are read as plain rows (views.story_detail)
    if story is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"话题 {story_id} 不存在")
    ensure_story(session, principal, org, story)
    return views.story_detail(session, org, story)
