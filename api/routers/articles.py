"""``/api/v1/articles``: the mentions feed — articles naming the caller's units, ranked by risk."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import queries, views
from api.deps import CurrentUser, OrgDep, SessionDep, ensure_unit
from api.schemas import ListOf, MentionListRead

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])


@router.get("", response_model=ListOf[MentionListRead], summary="舆情信息（按风险排序）")
def mentions_feed(principal: CurrentUser, session: SessionDep, org: OrgDep,
                  unit: Annotated[str | None, Query(max_length=64, description="单位 id，含其下属单位")] = None,
                  label: Annotated[Literal["negative", "neutral", "positive"] | None, Query()] = None,
                  sort: Annotated[Literal["risk", "time"], Query()] = "risk",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ListOf[MentionListRead]:
    unit_ids = principal.unit_ids
    if unit:
        ensure_unit(principal, unit)
        unit_ids = frozenset([unit, *(u.id for u in org.descendants(unit))])
    rows = queries.mention_feed(session, unit_ids=unit_ids, label=label, sort=sort, limit=limit)
    data = views.mention_reads(org, rows)
    return ListOf(data=data, count=len(data))
