"""``/api/v1/sources``: crawl health of every configured source ("nothing found" ≠ "nothing crawled")."""

from __future__ import annotations

from fastapi import APIRouter

from api import queries, views
from api.deps import ClockDep, CurrentUser, SessionDep, SourceNamesDep
from api.schemas import ListOf, SourceRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", response_model=ListOf[SourceRead], summary="信息源健康状况")
def list_sources(principal: CurrentUser, session: SessionDep, clock: ClockDep,
                 names: SourceNamesDep) -> ListOf[SourceRead]:
    data = views.source_reads(queries.source_states(session), clock.now(), names=names)
    return ListOf(data=data, count=len(data))
