"""系统管理 · 配置文件: every configuration document in the browser (admins only).

``/admin/config`` lists each document — what it is, where its effective text comes from (文件 / 数据库), its version
and who changed it last — with export (a zip of every effective document) and import (a zip or one ``.yaml``,
validated together, saved all or nothing: ``api.config_transfer``). ``/admin/config/{name}`` is the YAML editor:
校验 checks the text against the whole configuration with the start-up loaders (``api.config_admin``), 保存 checks
and saves a new version; problems are listed beside the editor naming file and field, and the text typed is kept.
Below it the revision history, each version's diff against the one before (difflib) and 恢复此版本, which saves that
version's text again — validated like any other save. Running processes apply a save without restart
(``runner.config_reload``, ``api.config_live``). Forms carry the session's CSRF token.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.admin_forms import ensure_admin
from api.config_admin import check_documents, validate_and_save
from api.config_transfer import BundleError, export_zip, import_documents, read_upload
from api.deps import ClockDep, PageUser, Principal, SessionDep, ensure_csrf
from api.pages import render
from yuqing import config_store
from yuqing.settings import Settings

pages = APIRouter(tags=["dashboard"], include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=128)]
FLASH = {"saved": "已保存并生效：运行中的系统在下一轮处理时采用新配置，无需重启。", "restored": "已恢复该版本并生效。"}


def _document(name: str) -> str:
    if not config_store.is_document_name(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有这个配置文件：{name}")
    return name


@pages.get("/admin/config", response_class=HTMLResponse)
def config_list(request: Request, me: PageUser, session: SessionDep) -> Response:
    ensure_admin(me)
    return _list_page(request, me, session, _base(request))


def _list_page(request: Request, me: Principal, session: Session, settings: Settings, *,
               import_problems: list[str] | None = None, imported: list[str] | None = None,
               unchanged: list[str] | None = None, status_code: int = 200) -> Response:
    docs = config_store.list_documents(session, settings)
    return render(request, "admin_config.html", me, "admin_config", {
        "documents": docs, "generation": config_store.config_generation(session),
        "import_problems": import_problems or [], "imported": imported, "unchanged": unchanged or []},
        status_code=status_code)


@pages.get("/admin/config/export")
def config_export(me: PageUser, session: SessionDep, request: Request, clock: ClockDep) -> Response:
    """Every effective document as ``yuqing-config-YYYYMMDD-HHMM.zip`` (local time)."""
    ensure_admin(me)
    settings = _base(request)
    stamp = clock.now().astimezone(settings.tz).strftime("%Y%m%d-%H%M")
    return Response(export_zip(session, settings), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="yuqing-config-{stamp}.zip"',
                             "Cache-Control": "no-store"})


@pages.post("/admin/config/import", response_class=HTMLResponse)
async def config_import(request: Request, me: PageUser, session: SessionDep, clock: ClockDep,
                        file: Annotated[UploadFile | None, File()] = None, csrf_token: CsrfField = "",
                        name: Annotated[str, Form(max_length=200)] = "",
                        note: Annotated[str, Form(max_length=500)] = "") -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    settings = _base(request)
    if file is None:
        return _list_page(request, me, session, settings, import_problems=["请选择要导入的文件"], status_code=422)
    data = await file.read()
    try:
        documents = read_upload(file.filename or "", data, name=name)
    except BundleError as exc:
        return _list_page(request, me, session, settings, import_problems=[str(exc)], status_code=422)
    result = await run_in_threadpool(import_documents, session, documents, actor=me.login, settings=settings,
                                     clock=clock, note=note or f"导入 {file.filename or ''}".strip())
    return _list_page(request, me, session, settings, import_problems=result.problems,
                      imported=None if result.problems else result.saved, unchanged=result.unchanged,
                      status_code=422 if result.problems else 200)


@pages.get("/admin/config/{name:path}", response_class=HTMLResponse)
def config_document(request: Request, me: PageUser, session: SessionDep, name: str, diff: int | None = None
                    ) -> Response:
    ensure_admin(me)
    _document(name)
    settings = _base(request)
    flash = FLASH.get(request.query_params.get("done", ""), "")
    return _document_page(request, me, session, settings, name, config_store.effective_text(session, settings, name),
                          diff=diff, flash=flash)


@pages.post("/admin/config/{name:path}", response_class=HTMLResponse)
async def config_document_post(
        request: Request, me: PageUser, session: SessionDep, clock: ClockDep, name: str,
        action: Annotated[Literal["validate", "save", "restore"], Form()],
        csrf_token: CsrfField = "", content: Annotated[str, Form(max_length=1_000_000)] = "",
        note: Annotated[str, Form(max_length=500)] = "", base_version: Annotated[int, Form(ge=0)] = 0,
        version: Annotated[int, Form(ge=0)] = 0) -> Response:
    ensure_csrf(me, csrf_token)
    ensure_admin(me)
    _document(name)
    settings = _base(request)
    content = content.replace("\r\n", "\n")
    if action == "validate":
        result = await run_in_threadpool(check_documents, session, {name: content}, settings=settings)
        return _document_page(request, me, session, settings, name, content, note=note, base_version=base_version,
                              problems=result.problems, pre_existing=result.pre_existing, checked=True,
                              status_code=422 if result.problems else 200)
    doc = config_store.get_document(session, name)
    current = doc.version if doc else 0
    if action == "restore":
        old = config_store.revision(session, name, version)
        if old is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name} 没有版本 {version}")
        content, note = old.content, note or f"恢复版本 {version}"
    elif base_version != current:  # someone saved since this editor was opened: do not overwrite their version
        who = doc.updated_by if doc else "他人"
        clash = f"{name}：打开编辑后已被 {who} 保存为版本 {current}，请先查看最新内容再保存（您输入的内容保留在下方）"
        return _document_page(request, me, session, settings, name, content, note=note, base_version=base_version,
                              problems=[clash], status_code=409)
    problems = await run_in_threadpool(validate_and_save, session, name, content, principal=me, settings=settings,
                                       clock=clock, note=note)
    if problems:
        return _document_page(request, me, session, settings, name, content, note=note, base_version=base_version,
                              problems=problems, status_code=422)
    done = "restored" if action == "restore" else "saved"
    return RedirectResponse(f"/admin/config/{name}?done={done}", status_code=status.HTTP_303_SEE_OTHER)


def _base(request: Request) -> Settings:
    """The settings as the app was given them (file overrides included): documents are resolved from these, the
    database copies over them, never from a previous effective directory."""
    state = request.app.state
    return getattr(state, "base_settings", None) or state.settings


def diff_lines(before: str, after: str, *, before_name: str, after_name: str) -> list[tuple[str, str]]:
    """A unified diff as ``(css class, line)``: ``add`` / ``del`` / ``hunk`` / ``ctx``."""
    out = []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""):
        kind = ("hunk" if line.startswith("@@") else "head" if line.startswith(("---", "+++"))
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        out.append((kind, line))
    return out


def _document_page(request: Request, me: Principal, session: Session, settings: Settings, name: str, content: str,
                   *, note: str = "", base_version: int | None = None, problems: list[str] | None = None,
                   pre_existing: list[str] | None = None, checked: bool = False, diff: int | None = None,
                   flash: str = "", status_code: int = 200) -> Response:
    doc = config_store.get_document(session, name)
    history = config_store.revisions(session, name)
    path = config_store.file_for(settings, name)
    shown_diff: dict[str, Any] | None = None
    if diff is not None:
        by_version = {r.version: r for r in history}
        if diff in by_version:
            after = by_version[diff]
            before = by_version.get(diff - 1)
            before_text = before.content if before else (path.read_text(encoding="utf-8") if path.is_file() else "")
            before_name = f"{name} 版本 {diff - 1}" if before else f"{name}（文件）"
            shown_diff = {"version": diff, "lines": diff_lines(before_text, after.content, before_name=before_name,
                                                               after_name=f"{name} 版本 {diff}")}
    context = {"name": name, "description": config_store.describe(name), "content": content, "note": note,
               "doc": doc, "source": "数据库" if doc else ("文件" if path.is_file() else "不存在"), "path": path,
               "base_version": (doc.version if doc else 0) if base_version is None else base_version,
               "problems": problems or [], "pre_existing": pre_existing or [], "checked": checked,
               "history": history, "shown_diff": shown_diff}
    if flash:
        context["flash"] = flash
    return render(request, "admin_config_doc.html", me, "admin_config", context, status_code=status_code)
