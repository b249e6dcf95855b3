"""``/api/v1/sources``: crawl health of every configured source ("nothing found" ≠ "nothing crawled")."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import views
from api.deps import ClockDep, CurrentUser, SessionDep
from api.schemas import ListOf, SourceRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", response_model=ListOf[SourceRead], summary="信息源健康状况")
def list_sources(request: Request, principal: CurrentUser, session: SessionDep, clock: ClockDep) -> ListOf[SourceRead]:
    data = views.source_reads(session, request.app.state.sources, clock.now())
    return ListOf(data=data, count=len(data))
