"""``yuqing evidence export`` / ``yuqing evidence verify``: an incident's pages as fetched, in a zip anyone can
check (see ``incidents.evidence``).

Registered by one import in ``yuqing.cli``. Export reads the database (as the operator running the command line,
like ``yuqing audit verify``); verify needs only the zip. ``ctx.obj["clock"]`` may inject a clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from yuqing.cli_base import _fail, _user_session

evidence_app = typer.Typer(help="Evidence packages: 证据包导出与校验 (pages as fetched, SHA-256 manifest).",
                           no_args_is_help=True)

VERIFY_FAILED = 1


@evidence_app.command("export")
def evidence_export(
        ctx: typer.Context,
        incident_id: Annotated[int, typer.Argument(min=1, help="incident id")],
        out: Annotated[Path, typer.Option("--out", help="the zip to write")],
        as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False) -> None:
    """导出事件证据包：相关文章抓取时的原始网页与 manifest.json（SHA-256、抓取时间、响应头）。"""
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
    files = manifest["files"]
    cut = sum(1 for f in files if f["truncated"])
    typer.echo(f"已导出事件 {manifest['incident']['number']} 的证据包：{out}（{len(files)} 个原始网页"
               + (f"，其中 {cut} 个超过保存上限、只保存了开头部分" if cut else "") + "）")
    if not files:
        typer.echo("注意：该事件的文章没有保存原始网页（早于证据保存功能入库的文章没有快照）", err=True)


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
