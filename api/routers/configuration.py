"""``/api/v1/keyword-plans`` and ``/api/v1/org``: the configuration staff work under, read-only.

Both are read from what the running system uses: keyword plans from ``keywords.yaml`` in the config directory
(read on each request, so an edit shows without a restart; a broken file answers 503 naming the problem, never a
half list), the org chart from the app's loaded chart. Every signed-in user may read them (like source health):
who is on duty where is what staff need to escalate; people's contact details are not served.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from api import present
from api.deps import CurrentUser, OrgDep
from api.pagination import Page, PageDep, paginate_list
from api.schemas import ERROR_RESPONSES, KeywordPlanRead, OrgChartRead, OrgPersonRead, OrgUnitRead
from crawlers.keywords import load_keyword_plans
from yuqing.errors import ConfigError
from yuqing.org import ROLE_LABELS, Role

router = APIRouter(prefix="/api/v1", tags=["configuration"], responses=ERROR_RESPONSES)


@router.get("/keyword-plans", response_model=Page[KeywordPlanRead], summary="监测方案（关键词方案，按配置顺序）")
def keyword_plans(request: Request, principal: CurrentUser, page: PageDep) -> Page[KeywordPlanRead]:
    path = request.app.state.settings.config_dir / "keywords.yaml"
    try:
        plans = load_keyword_plans(path) if path.exists() else []
    except ConfigError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"监测方案配置有误：{str(exc)[:300]}") from None
    numbered = list(enumerate(plans))
    got = paginate_list(numbered, key=lambda item: (item[0],), page=page, scope=page.scope("keyword-plans"))
    items = [KeywordPlanRead(name=p.name, role=p.role, category=p.category,
                             category_name=present.category_name(p.category) if p.category else None,
                             must=[list(g) for g in p.must], any=list(p.any), exclude=list(p.exclude))
             for _, p in got.rows]
    return Page(items=items, total=got.total, next_cursor=got.next_cursor)


@router.get("/org", response_model=OrgChartRead, summary="机构与人员（组织架构；不含联系方式）")
def org_chart(principal: CurrentUser, org: OrgDep,
              unit: Annotated[str | None, Query(max_length=64, description="只列此单位及其下属单位")] = None
              ) -> OrgChartRead:
    units = list(org.units)
    if unit:
        if unit not in {u.id for u in units}:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"单位不存在：{unit}")
        keep = {unit} | {u.id for u in org.descendants(unit)}
        units = [u for u in units if u.id in keep]
    ids = {u.id for u in units}
    people = [p for p in org.people if p.unit in ids]
    return OrgChartRead(
        bank=org.bank.name, root=org.root().id,
        units=[OrgUnitRead(id=u.id, kind=str(u.kind), kind_name=u.kind_label, name=u.name, short_name=u.short_name,
                           parent=u.parent, aliases=list(u.aliases), regions=list(u.regions)) for u in units],
        people=[OrgPersonRead(id=p.id, name=p.name, title=p.title, unit=p.unit, roles=[str(r) for r in p.roles],
                              role_names=[ROLE_LABELS[Role(r)] for r in p.roles]) for p in people])
