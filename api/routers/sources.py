"""``/api/v1/sources``: crawl health of every configured source ("nothing found" ≠ "nothing crawled")."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import views
from api.deps import ClockDep, CurrentUser, SessionDep
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES, SourceRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[SourceRead], summary="信息源健康状况（按 id 排序）")
def list_sources(request: Request, principal: CurrentUser, session: SessionDep, clock: ClockDep,
                 page: PageDep) -> Page[SourceRead]:
    data = views.source_reads(session, request.app.state.sources, clock.now())
    got = paginate_list(data, key=lambda s: (s.source_id,), page=page, scope=page.scope("sources"))
    return Page(items=got.rows, total=got.total, next_cursor=got.next_cursor)
