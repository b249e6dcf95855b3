"""``yuqing evidence export`` / ``verify`` / ``screenshot`` / ``check``: an incident's pages as fetched and their
screenshots in a zip anyone can check (``incidents.evidence``), screenshots taken now
(``incidents.screenshots``), and a deletion re-check now (``incidents.deletion_watch``).

Registered by one import in ``runner.cli``. Export, screenshot and check use the database (as the operator running
the command line, like ``yuqing audit verify``); verify needs only the zip. ``ctx.obj["clock"]`` may inject a
clock. Screenshot and check reach the web like the pipeline does: the SSRF guard, and a source's
``private_network`` allowance only when ``YUQING_ALLOW_PRIVATE_SOURCES`` lists it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from runner.cli_base import _fail, _user_session

evidence_app = typer.Typer(help="Evidence: 证据包导出与校验、网页截图、删除复查 (pages as fetched, screenshots, "
                                "SHA-256 manifest, deletion checks).", no_args_is_help=True)

VERIFY_FAILED = 1


@evidence_app.command("export")
def evidence_export(
        ctx: typer.Context,
        incident_id: Annotated[int, typer.Argument(min=1, help="incident id")],
        out: Annotated[Path, typer.Option("--out", help="the zip to write")],
        as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False) -> None:
    """导出事件证据包：相关文章抓取时的原始网页、网页截图与 manifest.json（SHA-256、抓取/截图时间、响应头）。"""
    from incidents.evidence import EvidenceError, export_package
    from yuqing.clock import SystemClock

    clock = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
    _settings, factory = _user_session()
    with factory() as session:
        try:
            manifest = export_package(session, incident_id, out, (clock or SystemClock()).now())
        except EvidenceError as exc:
            _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    files = [f for f in manifest["files"] if f.get("kind") != "screenshot"]
    shots = [f for f in manifest["files"] if f.get("kind") == "screenshot"]
    cut = sum(1 for f in files if f["truncated"])
    typer.echo(f"已导出事件 {manifest['incident']['number']} 的证据包：{out}（{len(files)} 个原始网页"
               + (f"，其中 {cut} 个超过保存上限、只保存了开头部分" if cut else "") + f"，{len(shots)} 张网页截图）")
    if not files:
        typer.echo("注意：该事件的文章没有保存原始网页（早于证据保存功能入库的文章没有快照）", err=True)
    if not shots:
        typer.echo("注意：该事件的文章还没有截图，可运行 yuqing evidence screenshot 事件编号 立即截图", err=True)


@evidence_app.command("verify")
def evidence_verify(
        package: Annotated[Path, typer.Argument(help="the evidence zip")],
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """校验证据包：每个文件的 SHA-256 与清单一致时退出码为 0，否则指出第一个不一致的文件并以非零退出。"""
    from incidents.evidence import EvidenceError, verify_package

    try:
        result = verify_package(package)
    except EvidenceError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "files": result.files,
                               "problems": [p.__dict__ for p in result.problems]}, ensure_ascii=False))
    elif result.ok:
        typer.echo(f"校验通过：{result.files} 个文件的 SHA-256 均与清单一致（{package}）")
    else:
        first = result.problems[0]
        typer.echo(f"校验失败：{first.message}", err=True)
        for more in result.problems[1:]:
            typer.echo(f"  另：{more.message}", err=True)
    if not result.ok:
        raise typer.Exit(VERIFY_FAILED)


@evidence_app.command("screenshot")
def evidence_screenshot(
        ctx: typer.Context,
        incident_id: Annotated[int, typer.Argument(min=1, help="incident id")],
        as_json: Annotated[bool, typer.Option("--json", help="print the outcomes as JSON")] = False) -> None:
    """立即为事件相关文章中尚未截图的逐一截取整页截图（原网页已不存在时截取保存的原始网页）。失败时退出码为 1。"""
    import asyncio

    from incidents.evidence import EvidenceError
    from incidents.screenshots import take_incident_screenshots

    clock, factory, config, allowances = _evidence_context(ctx)
    try:
        report = asyncio.run(take_incident_screenshots(factory, incident_id, clock=clock, config=config,
                                                       allowances=allowances))
    except EvidenceError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"taken": report.taken, "failed": report.failed,
                               "outcomes": [o.__dict__ for o in report.outcomes]}, ensure_ascii=False))
    else:
        for o in report.outcomes:
            typer.echo(f"文章 {o.article_id}：{o.message}", err=not o.ok)
        typer.echo(f"截图完成：新截 {report.taken} 张，失败 {report.failed} 篇"
                   + ("（该事件的文章均已有截图）" if not report.outcomes else ""))
    if report.failed:
        raise typer.Exit(VERIFY_FAILED)


@evidence_app.command("check")
def evidence_check(
        ctx: typer.Context,
        incident_id: Annotated[int, typer.Argument(min=1, help="incident id")],
        as_json: Annotated[bool, typer.Option("--json", help="print the outcomes as JSON")] = False) -> None:
    """立即复查事件相关文章是否已被删除（不等定时复查）；发现删除或恢复时记入事件处置记录。"""
    import time
    from urllib.parse import urlsplit

    from incidents.deletion_watch import check_article
    from incidents.evidence import EvidenceError, incident_articles
    from incidents.lifecycle import ACTIVE

    clock, factory, config, allowances = _evidence_context(ctx)
    with factory() as session:
        try:
            incident, articles = incident_articles(session, incident_id)
        except EvidenceError as exc:
            _fail(str(exc))
        active = incident.status in ACTIVE
        ids = [(a.id, a.url) for a in articles]
    rows = []
    last: dict[str, float] = {}  # host → when it was last asked: per_host_delay_seconds apart, as the job does
    for article_id, url in ids:
        host = urlsplit(url).netloc.lower()
        if host in last:
            time.sleep(max(0.0, config.deletion_watch.per_host_delay_seconds - (time.monotonic() - last[host])))
        verdict = check_article(factory, article_id, active=active, clock=clock, options=config.deletion_watch,
                                allowances=allowances)
        last[host] = time.monotonic()
        rows.append({"article_id": article_id, "outcome": verdict.outcome, "status": verdict.status,
                     "reason": verdict.reason, "change": verdict.change})
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    names = {"present": "仍在", "deleted": "已删除", "failed": "复查失败"}
    for r in rows:
        change = {"article_deleted": "（新发现删除，已记入处置记录）",
                  "article_restored": "（已恢复，已记入处置记录）"}.get(r["change"] or "", "")
        typer.echo(f"文章 {r['article_id']}：{names.get(r['outcome'], r['outcome'])}"
                   + (f"，HTTP {r['status']}" if r["status"] else "") + (f"，{r['reason']}" if r["reason"] else "")
                   + change)
    typer.echo(f"复查完成：{len(rows)} 篇")


def _evidence_context(ctx: typer.Context):
    """(clock, session factory, evidence config, allowances) for the commands that reach the web."""
    from crawlers.sources import load_sources
    from incidents.evidence_config import EVIDENCE_FILE, load_evidence_config
    from incidents.screenshots import allowances_for
    from yuqing.clock import SystemClock
    from yuqing.errors import ConfigError

    clock = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
    settings, factory = _user_session()
    try:
        config = load_evidence_config(settings.config_dir / EVIDENCE_FILE)
        sources = load_sources(settings.sources_path) if settings.sources_path.exists() else []
    except ConfigError as exc:
        _fail(str(exc))
    allowances = allowances_for(sources, settings.allow_private_sources)
    return clock or SystemClock(), factory, config, allowances
