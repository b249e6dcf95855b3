"""来源管理: add, edit, enable / disable sources and 试抓取 one URL — dashboard forms and ``/api/v1/sources``.

Sources live in two configuration documents: ``sources.yaml`` (the bank's own list) and ``sources.public.yaml``
(the catalogue, every entry shipped disabled). An edit changes the effective document (``yuqing.config_store``:
the database copy over the file) through ``api.config_admin.validate_and_save``, which checks the whole
configuration as ``yuqing check-config`` would (ids unique across both files, SSRF rules, the private-network
opt-in ``YUQING_ALLOW_PRIVATE_SOURCES``) before anything is saved; the pipeline picks the change up at the start of
its next round, no restart. Only the entry being changed is rewritten (``api.yaml_entries``): the other entries
and the file's comments stay as they were; enabling or disabling rewrites only the ``enabled`` value. Catalogue
entries are enabled or disabled here; to change one otherwise, copy it into the bank's own list.

An entry is checked first on its own with ``crawlers.sources.SourceConfig`` (the model the loader uses), so the
form shows each error beside its field and keeps what was typed. Admins only (``admin`` role); the forms carry the
session's CSRF token and the API needs a bearer token, like every other write.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Form, HTTPException, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from api import views
from api.admin_forms import document_text, ensure_admin, field_errors, matcher_for, save_with_audit
from api.deps import ClockDep, CurrentUser, OrgDep, PageUser, Principal, SessionDep, SettingsDep, ensure_csrf
from api.schemas import ERROR_RESPONSES
from api.yaml_entries import EntryError, entries, replace, set_scalar
from crawlers.sources import (
    MIN_POLL_INTERVAL,
    SOURCE_ID_PATTERN,
    ListingOptions,
    SourceConfig,
    substitute_placeholders,
)
from crawlers.ssrf import PrivateAllowance
from crawlers.trial_fetch import TRIAL_KINDS, TrialRefused, trial_fetch
from yuqing.clock import Clock
from yuqing.org import OrgChart
from yuqing.settings import Settings

OWN_DOC = "sources.yaml"
CATALOGUE_DOC = "sources.public.yaml"
LIST_KEY = "sources"
KIND_LABELS = {"rss": "RSS / Atom 订阅源", "sitemap": "新闻站点地图", "listing": "列表页", "json_api": "JSON 接口",
               "trending": "热榜", "platform": "平台接口（数据服务商）"}
CHANNEL_LABELS = {"news": "新闻", "social": "社交媒体", "complaint": "投诉平台", "regulator": "监管公告",
                  "trending": "热榜"}
AUTHORITY_LABELS = {"national_media": "中央媒体", "provincial_media": "省级媒体", "local_media": "地方媒体",
                    "social": "社交平台", "complaint_platform": "投诉平台", "regulator": "监管机构",
                    "self_media": "自媒体"}
SIMPLE_FIELDS = ("id", "name", "kind", "channel", "url", "authority", "poll_interval", "max_pages", "max_items",
                 "private_network")
LISTING_FIELDS = ("link_selector", "next_selector", "link_pattern", "title_selector")
FORM_FIELDS = {*SIMPLE_FIELDS, "enabled", "respect_robots", *LISTING_FIELDS, "extra"}
DEFAULTS = {"max_pages": 5, "max_items": 200}
SourceId = Annotated[str, Path(max_length=64, pattern=SOURCE_ID_PATTERN)]

router = APIRouter(prefix="/api/v1/sources", tags=["sources"], responses=ERROR_RESPONSES)
pages = APIRouter(tags=["dashboard"], include_in_schema=False)


class SourceRefused(Exception):
    """The entry or the configuration it would make is wrong: ``fields`` beside the form's fields (``_`` above)."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


# --- the documents ----------------------------------------------------------------------------------------------
def _texts(session: Session, settings: Settings) -> dict[str, str]:
    return {OWN_DOC: document_text(session, settings, OWN_DOC), CATALOGUE_DOC: document_text(session, settings,
                                                                                            CATALOGUE_DOC)}


def _entries(text: str) -> list[dict[str, Any]]:
    try:
        return entries(text, LIST_KEY)
    except (EntryError, yaml.YAMLError):
        return []


def _where(texts: dict[str, str], source_id: str) -> tuple[str, dict[str, Any]] | None:
    """(document, raw entry) of a source id, own list first."""
    for doc in (OWN_DOC, CATALOGUE_DOC):
        entry = next((e for e in _entries(texts[doc]) if str(e.get("id")) == source_id), None)
        if entry is not None:
            return doc, entry
    return None


def _variables(text: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}
    found = data.get("variables") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def check_entry(entry: dict[str, Any], variables: dict[str, str] | None = None) -> SourceConfig:
    """The entry validated with ``SourceConfig`` (after ``${NAME}`` placeholders, as the loader fills them)."""
    problems: list[tuple[str, str]] = []
    data = substitute_placeholders(entry, variables or {}, "", problems)
    if problems:
        raise SourceRefused({"_": "；".join(f"{where}：{why}" for where, why in problems)})
    try:
        return SourceConfig.model_validate(data)
    except ValidationError as exc:
        raise SourceRefused(field_errors(exc, set(SIMPLE_FIELDS) | {"enabled", "respect_robots"},
                                         nested={f"listing.{f}": f for f in LISTING_FIELDS})) from None


def _save(session: Session, settings: Settings, clock: Clock, me: Principal, *, document: str, text: str,
          action: str, source_id: str, detail: str) -> None:
    problems = save_with_audit(session, document, text, me=me, settings=settings, clock=clock, action=action,
                               object_type="source", object_id=source_id, detail=detail, note=detail)
    if problems:
        raise SourceRefused({"_": "\n".join(problems)})


def create_source(session: Session, settings: Settings, clock: Clock, me: Principal, entry: dict[str, Any]) -> str:
    """Add ``entry`` to the bank's own list; its id must be new in both documents."""
    texts = _texts(session, settings)
    check_entry(entry, _variables(texts[OWN_DOC]))
    source_id = str(entry["id"])
    if _where(texts, source_id) is not None:
        raise SourceRefused({"id": f"来源 id「{source_id}」已存在（本行来源与公开目录中的 id 不能重复）"})
    try:
        text = replace(texts[OWN_DOC], LIST_KEY, "id", None, entry)
    except EntryError as exc:
        raise SourceRefused({"_": f"{OWN_DOC}：{exc}"}) from None
    _save(session, settings, clock, me, document=OWN_DOC, text=text, action="source.create", source_id=source_id,
          detail=f"新增来源 {source_id}（{entry.get('name', '')}）")
    return source_id


def update_source(session: Session, settings: Settings, clock: Clock, me: Principal, source_id: str,
                  entry: dict[str, Any]) -> str:
    """Replace the entry ``source_id`` (in whichever document holds it) by ``entry``; the id may change if the
    new one is free."""
    texts = _texts(session, settings)
    found = _where(texts, source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    document, _old = found
    check_entry(entry, _variables(texts[document]))
    new_id = str(entry["id"])
    if new_id != source_id and _where(texts, new_id) is not None:
        raise SourceRefused({"id": f"来源 id「{new_id}」已存在（本行来源与公开目录中的 id 不能重复）"})
    try:
        text = replace(texts[document], LIST_KEY, "id", source_id, entry)
    except EntryError as exc:
        raise SourceRefused({"_": f"{document}：{exc}"}) from None
    _save(session, settings, clock, me, document=document, text=text, action="source.update", source_id=source_id,
          detail=f"修改来源 {source_id}" + (f"（id 改为 {new_id}）" if new_id != source_id else ""))
    return new_id


def set_enabled(session: Session, settings: Settings, clock: Clock, me: Principal, source_id: str,
                enabled: bool) -> str:
    """Enable or disable one entry of either document; only its ``enabled`` value is rewritten."""
    texts = _texts(session, settings)
    found = _where(texts, source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    document, _entry = found
    try:
        text = set_scalar(texts[document], LIST_KEY, "id", source_id, "enabled", enabled)
    except EntryError as exc:
        raise SourceRefused({"_": f"{document}：{exc}"}) from None
    verb = "启用" if enabled else "停用"
    _save(session, settings, clock, me, document=document, text=text,
          action="source.enable" if enabled else "source.disable", source_id=source_id,
          detail=f"{verb}来源 {source_id}" + ("（公开目录）" if document == CATALOGUE_DOC else ""))
    return document


def delete_source(session: Session, settings: Settings, clock: Clock, me: Principal, source_id: str) -> None:
    """Remove an entry of the bank's own list (catalogue entries are disabled, never removed)."""
    texts = _texts(session, settings)
    found = _where(texts, source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    if found[0] == CATALOGUE_DOC:
        raise HTTPException(status.HTTP_409_CONFLICT, "公开目录中的来源不能删除，只能停用")
    text = replace(texts[OWN_DOC], LIST_KEY, "id", source_id, None)
    _save(session, settings, clock, me, document=OWN_DOC, text=text, action="source.delete", source_id=source_id,
          detail=f"删除来源 {source_id}")


# --- the form <-> an entry -------------------------------------------------------------------------------------
def entry_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The YAML entry a submitted form describes (defaults left out, so the file stays short)."""
    errors: dict[str, str] = {}
    entry: dict[str, Any] = {}
    for name in ("id", "name", "kind", "channel", "url", "authority"):
        entry[name] = form.get(name, "").strip()
    entry["enabled"] = form.get("enabled") == "1"
    for name in ("poll_interval", "max_pages", "max_items"):
        raw = form.get(name, "").strip()
        if not raw:
            continue
        if not re.fullmatch(r"\d{1,9}", raw):
            errors[name] = "请输入整数"
            continue
        if DEFAULTS.get(name) != int(raw):
            entry[name] = int(raw)
    if form.get("private_network", "").strip():
        entry["private_network"] = form["private_network"].strip()
    if form.get("respect_robots") != "1":
        entry["respect_robots"] = False
    listing = {f: form[f].strip() for f in LISTING_FIELDS if form.get(f, "").strip()}
    extra_text = form.get("extra", "").strip()
    if extra_text:
        try:
            extra = yaml.safe_load(extra_text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行：" if mark else ""
            errors["extra"] = f"YAML 格式错误：{where}{getattr(exc, 'problem', '')}"
            extra = None
        if extra is not None and not isinstance(extra, dict):
            errors["extra"] = "应为键值对，例如 json_api: {items_path: data}"
        elif isinstance(extra, dict):
            taken = sorted(k for k in extra if k in entry or k in ("enabled", "respect_robots"))
            if taken:
                errors["extra"] = f"这些字段请在上方表单中填写：{', '.join(map(str, taken))}"
            for key, value in extra.items():
                if key == "listing" and isinstance(value, dict):
                    listing = {**value, **listing}
                elif key not in taken:
                    entry[str(key)] = value
    if listing:
        entry["listing"] = listing
    if errors:
        raise SourceRefused(errors)
    return entry


def form_from_entry(entry: dict[str, Any]) -> dict[str, str]:
    """The form's values for an entry: the simple fields, the listing selectors, the rest as YAML."""
    values = {name: "" if entry.get(name) is None else str(entry.get(name)) for name in SIMPLE_FIELDS}
    values["poll_interval"] = str(entry.get("poll_interval", 600))
    for name, default in DEFAULTS.items():
        values[name] = str(entry.get(name, default))
    values["enabled"] = "1" if entry.get("enabled", True) else ""
    values["respect_robots"] = "1" if entry.get("respect_robots", True) else ""
    rest = {k: v for k, v in entry.items() if k not in SIMPLE_FIELDS and k not in ("enabled", "respect_robots")}
    listing = dict(rest.pop("listing", None) or {})
    for name in LISTING_FIELDS:
        values[name] = str(listing.pop(name, "") or "")
    if listing:
        rest["listing"] = listing
    values["extra"] = yaml.safe_dump(rest, allow_unicode=True, sort_keys=False) if rest else ""
    return values


def _blank_form() -> dict[str, str]:
    return {**{name: "" for name in FORM_FIELDS}, "kind": "rss", "channel": "news", "authority": "local_media",
            "poll_interval": "600", "max_pages": "5", "max_items": "200", "enabled": "1", "respect_robots": "1"}


# --- the JSON API ------------------------------------------------------------------------------------------------
def _problems(fields: dict[str, str]) -> JSONResponse:
    """422 in the API's usual shape: a list of problems, each with where (``loc``) and why (``msg``)."""
    detail = [{"loc": ["body"] + ([] if k == "_" else [k]), "msg": v, "type": "value_error"}
              for k, v in fields.items()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


class SourceSaved(BaseModel):
    id: str
    document: str = Field(description="sources.yaml（本行来源）或 sources.public.yaml（公开目录）")
    entry: dict[str, Any]


SourceBody = Annotated[dict[str, Any], Body(description="一条来源配置，字段同 config/sources.yaml（SourceConfig）",
                                              examples=[{"id": "jcwb-rss", "name": "江城晚报网", "kind": "rss",
                                                         "channel": "news", "url": "https://news.example.cn/rss.xml",
                                                         "authority": "local_media", "poll_interval": 300}])]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SourceSaved,
             summary="新增来源（仅系统管理员；校验后保存，下一轮抓取生效，无需重启）")
def api_create(me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep,
               body: SourceBody) -> Any:
    ensure_admin(me)
    try:
        source_id = create_source(session, settings, clock, me, body)
    except SourceRefused as exc:
        return _problems(exc.fields)
    return JSONResponse(SourceSaved(id=source_id, document=OWN_DOC, entry=body).model_dump(), status_code=201)


@router.put("/{source_id}", response_model=SourceSaved, summary="替换一条来源配置（仅系统管理员）")
def api_replace(source_id: SourceId, me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                body: SourceBody) -> Any:
    ensure_admin(me)
    try:
        new_id = update_source(session, settings, clock, me, source_id, body)
    except SourceRefused as exc:
        return _problems(exc.fields)
    found = _where(_texts(session, settings), new_id)
    return SourceSaved(id=new_id, document=found[0] if found else OWN_DOC, entry=body)


@router.patch("/{source_id}", response_model=SourceSaved,
              summary="修改来源的部分字段（仅系统管理员；如 {\"enabled\": false} 停用；值为 null 删除该字段）")
def api_patch(source_id: SourceId, me: CurrentUser, session: SessionDep, settings: SettingsDep, clock: ClockDep,
              body: Annotated[dict[str, Any], Body(examples=[{"enabled": False}])]) -> Any:
    ensure_admin(me)
    found = _where(_texts(session, settings), source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    try:
        if set(body) == {"enabled"} and isinstance(body["enabled"], bool):
            set_enabled(session, settings, clock, me, source_id, body["enabled"])
            new_id = source_id
        else:
            merged = {k: v for k, v in {**found[1], **body}.items() if v is not None}
            new_id = update_source(session, settings, clock, me, source_id, merged)
    except SourceRefused as exc:
        return _problems(exc.fields)
    after = _where(_texts(session, settings), new_id)
    assert after is not None
    return SourceSaved(id=new_id, document=after[0], entry=after[1])


class SourceDeleted(BaseModel):
    id: str
    document: str = OWN_DOC


@router.delete("/{source_id}", response_model=SourceDeleted,
               summary="删除本行来源（仅系统管理员；公开目录中的来源只能停用，409）")
def api_delete(source_id: SourceId, me: CurrentUser, session: SessionDep, settings: SettingsDep,
               clock: ClockDep) -> Any:
    ensure_admin(me)
    try:
        delete_source(session, settings, clock, me, source_id)
    except SourceRefused as exc:
        return _problems(exc.fields)
    return SourceDeleted(id=source_id)


class TrialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")
    kind: str = Field(default="page", pattern=r"^(page|rss|sitemap|listing)$",
                      description="page 单篇文章 | rss | sitemap | listing 列表页")
    source_id: str | None = Field(default=None, max_length=64,
                                  description="以此来源的身份抓取：其 private_network 仅当 id 已列入 "
                                              "YUQING_ALLOW_PRIVATE_SOURCES 时生效")
    private_network: str | None = Field(default=None, max_length=300)
    listing: ListingOptions | None = None


def run_trial(session: Session, settings: Settings, org: OrgChart, body: TrialRequest) -> dict[str, Any]:
    """The trial's result as JSON data; ``SourceRefused`` when the URL or its private-network allowance is refused."""
    allowance = None
    private = body.private_network
    listing = body.listing
    if body.source_id:
        found = _where(_texts(session, settings), body.source_id)
        if found is not None:
            private = private or found[1].get("private_network")
            if listing is None and isinstance(found[1].get("listing"), dict):
                try:
                    listing = ListingOptions.model_validate(found[1]["listing"])
                except ValidationError:
                    listing = None
    if private:
        try:
            allowance = PrivateAllowance.parse(str(private))
        except ValueError as exc:
            raise SourceRefused({"private_network": str(exc)}) from None
        if not body.source_id or body.source_id not in settings.allow_private_sources:
            raise SourceRefused({"private_network": (
                f"内网地址 {allowance} 未获放行：填写来源 id，并在环境变量 YUQING_ALLOW_PRIVATE_SOURCES 中列出该 id"
                "（与正式抓取的规则相同）")})
    try:
        result = trial_fetch(body.url.strip(), kind=body.kind, matcher=matcher_for(session, settings, org),  # type: ignore[arg-type]
                             allowance=allowance, listing=listing)
    except TrialRefused as exc:
        raise SourceRefused({"url": f"拒绝抓取：{exc}"}) from None
    return result.to_json()


@router.post("/test-fetch",
             summary="试抓取一个地址：经 SSRF 防护抓取并按流水线抽取、匹配，展示结果（不保存；仅系统管理员）")
def api_test_fetch(me: CurrentUser, session: SessionDep, settings: SettingsDep, org: OrgDep,
                   body: TrialRequest) -> Any:
    ensure_admin(me)
    try:
        return run_trial(session, settings, org, body)
    except SourceRefused as exc:
        return _problems(exc.fields)


# --- the dashboard ---------------------------------------------------------------------------------------------
def _render(request: Request, template: str, me: Principal, context: dict[str, Any], status_code: int = 200
            ) -> Response:
    from api.pages import render

    base = {"kinds": KIND_LABELS, "channels": CHANNEL_LABELS, "authorities": AUTHORITY_LABELS,
            "min_poll": MIN_POLL_INTERVAL, "trial_kinds": TRIAL_KINDS}
    return render(request, template, me, "admin_sources", {**base, **context}, status_code=status_code)


def _rows(session: Session, settings: Settings, clock: Clock) -> list[dict[str, Any]]:
    texts = _texts(session, settings)
    configs: list[SourceConfig] = []
    rows = []
    for document in (OWN_DOC, CATALOGUE_DOC):
        variables = _variables(texts[document])
        for entry in _entries(texts[document]):
            try:
                config = check_entry(entry, variables)
            except SourceRefused as exc:
                config, problem = None, "；".join(exc.fields.values())
            else:
                problem = ""
                configs.append(config)
            rows.append({"id": str(entry.get("id", "")), "name": str(entry.get("name", "")),
                         "kind": str(entry.get("kind", "")), "channel": str(entry.get("channel", "")),
                         "url": str(entry.get("url", "")), "enabled": bool(entry.get("enabled", True)),
                         "poll_interval": entry.get("poll_interval", 600), "document": document,
                         "problem": problem, "health": None})
    health = {h.source_id: h for h in views.source_reads(session, [c for c in configs if c.enabled], clock.now())}
    for row in rows:
        row["health"] = health.get(row["id"]) if row["enabled"] else None
    return rows


@pages.get("/admin/sources", response_class=HTMLResponse)
def page_list(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, clock: ClockDep
              ) -> Response:
    ensure_admin(me)
    rows = _rows(session, settings, clock)
    own = [r for r in rows if r["document"] == OWN_DOC]
    public = [r for r in rows if r["document"] == CATALOGUE_DOC]
    done = {"created": "来源已新增，下一轮抓取生效。", "updated": "来源已保存，下一轮抓取生效。",
            "enabled": "来源已启用，下一轮抓取生效。", "disabled": "来源已停用。"}.get(
        request.query_params.get("saved", ""), "")
    return _render(request, "admin_sources.html", me, {"own": own, "public": public, "saved": done,
                                                       "allowed_private": settings.allow_private_sources})


@pages.get("/admin/sources/new", response_class=HTMLResponse)
def page_new(request: Request, me: PageUser) -> Response:
    ensure_admin(me)
    return _render(request, "admin_source_form.html", me, {"values": _blank_form(), "errors": {}, "editing": None})


def _form_values(form: Any) -> dict[str, str]:
    return {name: str(form.get(name, ""))[:20000] for name in FORM_FIELDS}


@pages.post("/admin/sources/new")
async def page_create(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep,
                      clock: ClockDep) -> Response:
    form = await request.form()
    ensure_csrf(me, str(form.get("csrf_token", "")))
    ensure_admin(me)
    values = _form_values(form)
    try:
        await run_in_threadpool(create_source, session, settings, clock, me, entry_from_form(values))
    except SourceRefused as exc:
        return _render(request, "admin_source_form.html", me, {"values": values, "errors": exc.fields,
                                                               "editing": None}, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse("/admin/sources?saved=created", status_code=status.HTTP_303_SEE_OTHER)


@pages.get("/admin/sources/{source_id}/edit", response_class=HTMLResponse)
def page_edit(request: Request, source_id: SourceId, me: PageUser, session: SessionDep,
              settings: SettingsDep) -> Response:
    ensure_admin(me)
    found = _where(_texts(session, settings), source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    return _render(request, "admin_source_form.html", me, {"values": form_from_entry(found[1]), "errors": {},
                                                           "editing": source_id, "document": found[0]})


@pages.post("/admin/sources/{source_id}/edit")
async def page_update(request: Request, source_id: SourceId, me: PageUser, session: SessionDep,
                      settings: SettingsDep, clock: ClockDep) -> Response:
    form = await request.form()
    ensure_csrf(me, str(form.get("csrf_token", "")))
    ensure_admin(me)
    values = _form_values(form)
    found = _where(_texts(session, settings), source_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"来源不存在：{source_id}")
    try:
        await run_in_threadpool(update_source, session, settings, clock, me, source_id, entry_from_form(values))
    except SourceRefused as exc:
        return _render(request, "admin_source_form.html", me, {"values": values, "errors": exc.fields,
                                                               "editing": source_id, "document": found[0]},
                       status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse("/admin/sources?saved=updated", status_code=status.HTTP_303_SEE_OTHER)


@pages.post("/admin/sources/{source_id}/enabled")
def page_enable(request: Request, source_id: SourceId, me: PageUser, session: SessionDep, settings: SettingsDep,
                clock: ClockDep, csrf_token: Annotated[str, Form(max_length=128)] = "",
                enabled: Annotated[str, Form(max_length=1)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    try:
        set_enabled(session, settings, clock, me, source_id, enabled == "1")
    except SourceRefused as exc:
        rows = _rows(session, settings, clock)
        return _render(request, "admin_sources.html", me, {
            "own": [r for r in rows if r["document"] == OWN_DOC],
            "public": [r for r in rows if r["document"] == CATALOGUE_DOC], "saved": "",
            "error": f"来源 {source_id} 未能{'启用' if enabled == '1' else '停用'}：" + "；".join(exc.fields.values()),
            "allowed_private": settings.allow_private_sources}, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse(f"/admin/sources?saved={'enabled' if enabled == '1' else 'disabled'}",
                            status_code=status.HTTP_303_SEE_OTHER)


@pages.get("/admin/sources/test-fetch", response_class=HTMLResponse)
def page_trial_form(request: Request, me: PageUser, url: str = "", source_id: str = "", kind: str = "page"
                    ) -> Response:
    ensure_admin(me)
    values = {"url": url[:2000], "source_id": source_id[:64], "kind": kind if kind in TRIAL_KINDS else "page",
              "private_network": "", **{f: "" for f in LISTING_FIELDS}}
    return _render(request, "admin_source_trial.html", me, {"values": values, "errors": {}, "result": None})


@pages.post("/admin/sources/test-fetch", response_class=HTMLResponse)
async def page_trial(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep,
                     org: OrgDep) -> Response:
    form = await request.form()
    ensure_csrf(me, str(form.get("csrf_token", "")))
    ensure_admin(me)
    values = {name: str(form.get(name, ""))[:2000] for name in
              ("url", "source_id", "kind", "private_network", *LISTING_FIELDS)}
    listing_values = {f: values[f].strip() for f in LISTING_FIELDS if values[f].strip()}
    try:
        body = TrialRequest(url=values["url"].strip(), kind=values["kind"] or "page",
                            source_id=values["source_id"].strip() or None,
                            private_network=values["private_network"].strip() or None,
                            listing=ListingOptions(**listing_values) if listing_values else None)
    except ValidationError as exc:
        errors = field_errors(exc, {"url", "kind", "source_id", "private_network"},
                              nested={f"listing.{f}": f for f in LISTING_FIELDS})
        return _render(request, "admin_source_trial.html", me, {"values": values, "errors": errors, "result": None},
                       status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        result = await run_in_threadpool(run_trial, session, settings, org, body)
    except SourceRefused as exc:  # the trial ran and its answer is a refusal (the API says 422): shown as such
        return _render(request, "admin_source_trial.html", me, {"values": values, "errors": exc.fields,
                                                                "result": None})
    return _render(request, "admin_source_trial.html", me, {"values": values, "errors": {}, "result": result,
                                                            "tz": settings.tz})
