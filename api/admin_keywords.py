"""关键词方案 (keyword plans): list, add, edit, delete, and 试匹配 — dashboard forms and ``/api/v1/keyword-plans``.

Plans are the ``plans`` list of the ``keywords.yaml`` configuration document. Each plan is checked with
``crawlers.keywords.KeywordPlan`` (errors beside the form's fields, what was typed kept), then the whole
configuration with the changed document through ``api.config_admin.validate_and_save`` (saved and audited only
when nothing is wrong); only the plan being changed is rewritten (``api.yaml_entries``), the file's comments stay.
The pipeline matches with the new plans from its next round on, no restart.

试匹配 runs the pipeline's matcher (``crawlers.matching.Matcher``: the org chart and the plans in force, or the
plan being edited in place of its saved version) on pasted text and shows which units and which plans' words it
found. Admins only; forms carry the CSRF token, the API needs a bearer token.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from api.admin_forms import KEYWORDS_DOC, current_plans, document_text, ensure_admin, field_errors, save_with_audit
from api.deps import ClockDep, CurrentUser, OrgDep, PageUser, Principal, SessionDep, SettingsDep, ensure_csrf
from api.schemas import ERROR_RESPONSES
from api.yaml_entries import EntryError, find, replace
from crawlers.keywords import KeywordPlan
from crawlers.matching import Matcher
from yuqing.categories import CATEGORIES
from yuqing.clock import Clock
from yuqing.org import OrgChart
from yuqing.settings import Settings

LIST_KEY = "plans"
TRY_TEXT_LIMIT = 20_000
_SPLIT = re.compile(r"[,，、;；\s]+")
PlanName = Annotated[str, Query(min_length=1, max_length=64)]
PlanPath = Annotated[str, Path(min_length=1, max_length=64, description="方案名（其中的 / 照写）")]

router = APIRouter(prefix="/api/v1/keyword-plans", tags=["configuration"], responses=ERROR_RESPONSES)
pages = APIRouter(tags=["dashboard"], include_in_schema=False)


_PLAN_RULES = {  # KeywordPlan's own rules (crawlers.keywords), said beside the field they concern
    "must: a group may not be empty": ("must", "每一组至少要有一个词"),
    "exclude: a filter plan needs at least one exclude word": ("exclude", "过滤方案至少需要一个排除词"),
    "must/any: a filter plan only takes exclude words": ("any", "过滤方案只能填写排除词"),
    "must/any: a topic plan needs must groups or any words": ("any", "主题方案至少需要“必含”或“任一”词语"),
}


class PlanRefused(Exception):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def plan_entry(plan: KeywordPlan) -> dict[str, Any]:
    """A plan as it is written in keywords.yaml (empty parts and the default role left out)."""
    entry: dict[str, Any] = {"name": plan.name}
    if plan.role != "topic":
        entry["role"] = plan.role
    if plan.category:
        entry["category"] = plan.category
    if plan.must:
        entry["must"] = [list(g) for g in plan.must]
    if plan.any:
        entry["any"] = list(plan.any)
    if plan.exclude:
        entry["exclude"] = list(plan.exclude)
    return entry


def check_plan(data: dict[str, Any]) -> KeywordPlan:
    try:
        plan = KeywordPlan.model_validate(data)
    except ValidationError as exc:
        fields = field_errors(exc, {"name", "role", "category", "must", "any", "exclude"})
        general = fields.pop("_", "")
        for english, (field, chinese) in _PLAN_RULES.items():
            if english in general:
                general = general.replace(english, "").strip("；: ")
                fields[field] = chinese
        if general:
            fields["_"] = general
        raise PlanRefused(fields) from None
    if plan.category and plan.category not in CATEGORIES:
        raise PlanRefused({"category": f"未知的风险类别：{plan.category}"})
    return plan


def save_plan(session: Session, settings: Settings, clock: Clock, me: Principal, original: str | None,
              data: dict[str, Any]) -> KeywordPlan:
    """Add (``original`` None) or replace the plan ``original`` with ``data``; the whole configuration is checked."""
    plan = check_plan(data)
    text = document_text(session, settings, KEYWORDS_DOC)
    try:
        if original is not None and find(text, LIST_KEY, "name", original) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"监测方案不存在：{original}")
        if plan.name != original and find(text, LIST_KEY, "name", plan.name) is not None:
            raise PlanRefused({"name": f"已有同名方案：{plan.name}"})
        new_text = replace(text, LIST_KEY, "name", original, plan_entry(plan))
    except EntryError as exc:
        raise PlanRefused({"_": f"{KEYWORDS_DOC}：{exc}"}) from None
    verb = "新增" if original is None else "修改"
    detail = f"{verb}监测方案 {plan.name}" + (f"（原名 {original}）" if original and original != plan.name else "")
    problems = save_with_audit(session, KEYWORDS_DOC, new_text, me=me, settings=settings, clock=clock,
                               action="keyword_plan.create" if original is None else "keyword_plan.update",
                               object_type="keyword_plan", object_id=original or plan.name, detail=detail,
                               note=detail)
    if problems:
        raise PlanRefused({"_": "\n".join(problems)})
    return plan


def delete_plan(session: Session, settings: Settings, clock: Clock, me: Principal, name: str) -> None:
    text = document_text(session, settings, KEYWORDS_DOC)
    try:
        if find(text, LIST_KEY, "name", name) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"监测方案不存在：{name}")
        new_text = replace(text, LIST_KEY, "name", name, None)
    except EntryError as exc:
        raise PlanRefused({"_": f"{KEYWORDS_DOC}：{exc}"}) from None
    problems = save_with_audit(session, KEYWORDS_DOC, new_text, me=me, settings=settings, clock=clock,
                               action="keyword_plan.delete", object_type="keyword_plan", object_id=name,
                               detail=f"删除监测方案 {name}", note=f"删除监测方案 {name}")
    if problems:
        raise PlanRefused({"_": "\n".join(problems)})


def try_match(org: OrgChart, plans: list[KeywordPlan], text: str, title: str = "") -> dict[str, Any]:
    """What the pipeline's matcher finds in ``text``: units (with the words that named them), plans and their hit
    words, the exclude words that made it irrelevant, and whether it would count as a mention."""
    result = Matcher.from_org(org, plans).match(text, title)
    names = {u.id: u.name for u in org.units}
    return {"relevant": result.relevant, "bank_mentioned": result.bank_mentioned,
            "primary_unit_id": result.primary_unit_id,
            "units": [{"unit_id": m.unit_id, "unit_name": names.get(m.unit_id, m.unit_id), "terms": list(m.terms),
                       "primary": m.is_primary} for m in result.mentions],
            "plan_hits": {k: list(v) for k, v in result.plan_hits.items()},
            "excluded_by": list(result.excluded_by), "categories": list(result.categories)}


# --- the JSON API ------------------------------------------------------------------------------------------------
def _problems(fields: dict[str, str]) -> JSONResponse:
    detail = [{"loc": ["body"] + ([] if k == "_" else [k]), "msg": v, "type": "value_error"}
              for k, v in fields.items()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


PlanBody = Annotated[dict[str, Any], Body(description="一个监测方案，字段同 config/keywords.yaml（KeywordPlan）",
                                            examples=[{"name": "网点排队", "any": ["排长队", "排队取钱"]}])]


class TryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=TRY_TEXT_LIMIT)
    title: str = Field(default="", max_length=300)
    plan: dict[str, Any] | None = Field(default=None, description="试用这个方案（替换同名方案或追加），不保存")


@router.post("", status_code=status.HTTP_201_CREATED, summary="新增监测方案（仅系统管理员；下一轮起生效，无需重启）")
def api_create(me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep, body: PlanBody) -> Any:
    ensure_admin(me)
    try:
        plan = save_plan(session, settings, clock, me, None, body)
    except PlanRefused as exc:
        return _problems(exc.fields)
    return JSONResponse(plan_entry(plan), status_code=status.HTTP_201_CREATED)


@router.post("/try", summary="试匹配：用当前组织架构与监测方案匹配一段文字（不保存；仅系统管理员）")
def api_try(me: CurrentUser, session: SessionDep, settings: SettingsDep, org: OrgDep, body: TryRequest) -> Any:
    ensure_admin(me)
    plans = current_plans(session, settings)
    if body.plan is not None:
        try:
            trial = check_plan(body.plan)
        except PlanRefused as exc:
            return _problems({f"plan.{k}" if k != "_" else "plan": v for k, v in exc.fields.items()})
        plans = [p for p in plans if p.name != trial.name] + [trial]
    return try_match(org, plans, body.text, body.title)


@router.put("/{name:path}", summary="替换一个监测方案（仅系统管理员；方案名中的 / 照写）")
def api_replace(name: PlanPath, me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                body: PlanBody) -> Any:
    ensure_admin(me)
    try:
        plan = save_plan(session, settings, clock, me, name, body)
    except PlanRefused as exc:
        return _problems(exc.fields)
    return plan_entry(plan)


class PlanDeleted(BaseModel):
    name: str


@router.delete("/{name:path}", response_model=PlanDeleted, summary="删除一个监测方案（仅系统管理员）")
def api_delete(name: PlanPath, me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep) -> Any:
    ensure_admin(me)
    try:
        delete_plan(session, settings, clock, me, name)
    except PlanRefused as exc:
        return _problems(exc.fields)
    return PlanDeleted(name=name)


# --- the dashboard ---------------------------------------------------------------------------------------------
def _words(raw: str) -> list[str]:
    return [w for w in _SPLIT.split(raw) if w]


def plan_from_form(values: dict[str, str]) -> dict[str, Any]:
    """``must``: one group per line (alternatives separated by 、 , or spaces); ``any`` / ``exclude``: words."""
    data: dict[str, Any] = {"name": values.get("name", "").strip(), "role": values.get("role") or "topic"}
    if values.get("category"):
        data["category"] = values["category"]
    groups = [_words(line) for line in values.get("must", "").splitlines()]
    data["must"] = [g for g in groups if g]
    data["any"] = _words(values.get("any", ""))
    data["exclude"] = _words(values.get("exclude", ""))
    return data


def form_from_plan(plan: KeywordPlan) -> dict[str, str]:
    return {"name": plan.name, "role": plan.role, "category": plan.category or "",
            "must": "\n".join("、".join(g) for g in plan.must), "any": "、".join(plan.any),
            "exclude": "、".join(plan.exclude), "original": plan.name}


def _render(request: Request, me: Principal, session: Session, settings: Settings, context: dict[str, Any],
            template: str = "admin_keywords.html", status_code: int = 200) -> Response:
    from api.pages import render

    base = {"plans": current_plans(session, settings), "categories": CATEGORIES,
            "try_values": {"text": "", "title": ""}, "try_result": None, "errors": {}, "saved": "",
            "text_limit": TRY_TEXT_LIMIT}
    return render(request, template, me, "admin_keywords", {**base, **context}, status_code=status_code)


_SAVED = {"created": "监测方案已新增，下一轮匹配起生效。", "updated": "监测方案已保存，下一轮匹配起生效。",
          "deleted": "监测方案已删除。"}


@pages.get("/admin/keywords", response_class=HTMLResponse)
def page_list(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    ensure_admin(me)
    return _render(request, me, session, settings, {"saved": _SAVED.get(request.query_params.get("saved", ""), "")})


@pages.get("/admin/keywords/new", response_class=HTMLResponse)
def page_new(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    ensure_admin(me)
    values = {"name": "", "role": "topic", "category": "", "must": "", "any": "", "exclude": "", "original": ""}
    return _render(request, me, session, settings, {"values": values}, "admin_keyword_form.html")


@pages.get("/admin/keywords/edit", response_class=HTMLResponse)
def page_edit(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, name: PlanName) -> Response:
    ensure_admin(me)
    plan = next((p for p in current_plans(session, settings) if p.name == name), None)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"监测方案不存在：{name}")
    return _render(request, me, session, settings, {"values": form_from_plan(plan)}, "admin_keyword_form.html")


@pages.post("/admin/keywords/save")
async def page_save(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep,
                    clock: ClockDep) -> Response:
    form = await request.form()
    ensure_csrf(me, str(form.get("csrf_token", "")))
    ensure_admin(me)
    values = {k: str(form.get(k, ""))[:20000] for k in ("name", "role", "category", "must", "any", "exclude",
                                                         "original")}
    original = values["original"] or None
    try:
        await run_in_threadpool(save_plan, session, settings, clock, me, original, plan_from_form(values))
    except PlanRefused as exc:
        return _render(request, me, session, settings, {"values": values, "errors": exc.fields},
                       "admin_keyword_form.html", status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse(f"/admin/keywords?saved={'updated' if original else 'created'}",
                            status_code=status.HTTP_303_SEE_OTHER)


@pages.post("/admin/keywords/delete")
def page_delete(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                csrf_token: Annotated[str, Form(max_length=128)] = "",
                name: Annotated[str, Form(max_length=64)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    try:
        delete_plan(session, settings, clock, me, name)
    except PlanRefused as exc:
        return _render(request, me, session, settings, {"errors": exc.fields},
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse("/admin/keywords?saved=deleted", status_code=status.HTTP_303_SEE_OTHER)


@pages.post("/admin/keywords/try", response_class=HTMLResponse)
def page_try(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, org: OrgDep,
             csrf_token: Annotated[str, Form(max_length=128)] = "",
             text: Annotated[str, Form(max_length=TRY_TEXT_LIMIT)] = "",
             title: Annotated[str, Form(max_length=300)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    values = {"text": text, "title": title}
    if not text.strip():
        return _render(request, me, session, settings,
                       {"try_values": values, "errors": {"text": "请粘贴要试匹配的文字"}},
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    result = try_match(org, current_plans(session, settings), text, title)
    return _render(request, me, session, settings, {"try_values": values, "try_result": result})
