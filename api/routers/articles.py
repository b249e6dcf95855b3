"""``/api/v1/articles`` (the mentions feed — articles naming the caller's units, ranked by risk) and
``/api/v1/mentions`` (the matcher's rows: which unit an article names, by which words)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import listings, present, queries, views
from api.deps import CurrentUser, OrgDep, SessionDep, ensure_unit
from api.pagination import TOTAL_CAP, Page, PageDep, paginate
from api.routers.audit import IdQuery, as_utc
from api.routing import OneHopRoute
from api.schemas import ERROR_RESPONSES, MentionListRead, MentionRead
from yuqing.org import OrgChart

router = APIRouter(prefix="/api/v1", tags=["articles"], responses=ERROR_RESPONSES,
                   route_class=OneHopRoute)

UnitQuery = Annotated[str | None, Query(max_length=64, description="单位 id，含其下属单位")]
SinceQuery = Annotated[datetime | None, Query(description="起（含），ISO 8601；无时区按 UTC")]
UntilQuery = Annotated[datetime | None, Query(description="止（不含），ISO 8601；无时区按 UTC")]


def unit_filter(principal, org: OrgChart, unit: str | None) -> frozenset[str]:
    """The caller's units, or ``unit`` and the units under it when the caller may see it (403 otherwise)."""
    if not unit:
        return principal.unit_ids
    ensure_unit(principal, unit)
    return frozenset([unit, *(u.id for u in org.descendants(unit))])


@router.get("/articles", response_model=Page[MentionListRead], summary="舆情信息（按风险、时间或负面概率排序）")
def mentions_feed(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep, unit: UnitQuery = None,
                  label: Annotated[Literal["negative", "neutral", "positive"] | None, Query()] = None,
                  category: Annotated[str | None, Query(max_length=32, description="风险类别代码")] = None,
                  channel: Annotated[str | None, Query(max_length=16, description="渠道代码（news、social…）")] = None,
                  source: Annotated[str | None, Query(max_length=64, description="信息源 id")] = None,
                  since: SinceQuery = None, until: UntilQuery = None,
                  sort: Annotated[Literal["risk", "time", "negative"], Query()] = "risk") -> Page[MentionListRead]:
    unit_ids = unit_filter(principal, org, unit)
    filters = dict(unit_ids=unit_ids, label=label, category=category, channel=channel, source=source,
                   since=as_utc(since), until=as_utc(until), sort=sort)
    # plain rows, not ORM entities, and statements built once per shape (which filters, which sort) with this
    # request's values bound: building them was most of the rest of a page's CPU
    stmt, order, params = listings.articles_bound(**filters, plain=True)
    head = listings.articles_bound(**filters, scored_only=True, plain=True)[:2] if sort == "risk" else None
    scope = page.scope("articles", unit=unit, label=label, category=category, channel=channel, source=source,
                       since=since, until=until, sort=sort)
    counted = listings.articles_bound(**filters, count_only=True)[0]
    got = paginate(session, stmt, order=order, page=page, scope=scope, count_cap=TOTAL_CAP, head=head,
                   count=counted, count_key=(scope, tuple(sorted(unit_ids))), params=params)
    best = queries.best_mention_rows(session, [row[0] for row in got.rows], unit_ids)
    return Page(items=views.feed_reads(org, got.rows, best), total=got.total, total_capped=got.total_capped,
                next_cursor=got.next_cursor)


@router.get("/mentions", response_model=Page[MentionRead], summary="提及记录（文章提到的单位及命中的名称）")
def list_mentions(principal: CurrentUser, session: SessionDep, org: OrgDep, page: PageDep, unit: UnitQuery = None,
                  primary: Annotated[bool, Query(description="只列每篇文章最具体的单位")] = False,
                  article_id: IdQuery = None, since: SinceQuery = None, until: UntilQuery = None
                  ) -> Page[MentionRead]:
    unit_ids = unit_filter(principal, org, unit)
    stmt, order, params = listings.mentions_bound(unit_ids=unit_ids, primary_only=primary, article_id=article_id,
                                                  since=as_utc(since), until=as_utc(until))
    scope = page.scope("mentions", unit=unit, primary=primary, article_id=article_id, since=since, until=until)
    got = paginate(session, stmt, order=order, page=page, scope=scope, count_cap=TOTAL_CAP,
                   count_key=(scope, tuple(sorted(unit_ids))), params=params)
    items = [MentionRead(id=m.id, article_id=a.id, unit=views.unit_ref(org, m.unit_id), is_primary=bool(m.is_primary),
                         terms=[str(t) for t in (m.terms or [])], snippet=m.snippet or "", score=float(m.score or 0),
                         title=a.title or "（无标题）", url=a.url, source_id=a.source_id, channel=a.channel,
                         channel_name=present.label(present.CHANNEL_LABELS, a.channel),
                         published_at=a.published_at, fetched_at=a.fetched_at, story_id=a.story_id)
             for m, a in got.rows]
    return Page(items=items, total=got.total, total_capped=got.total_capped, next_cursor=got.next_cursor)
