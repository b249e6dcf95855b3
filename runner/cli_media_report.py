"""The media side of complaints on the command line: ``yuqing complaint media-report`` (an outlet reports that a
journalist is asking questions or filming, 记者正在询问/拍摄, before anything is published: the media-exposure alert
opens at once — ``incidents.complaints.media_reports``), and ``yuqing complaint link`` / ``raise`` (a complaint
linked to, or opening, an incident: one case — ``incidents.complaints.links``).

Registered on ``yuqing complaint`` by one import in ``runner.cli``. Runs as the script actor ``cli`` or, with
``--as LOGIN``, as a dashboard user whose scope must contain the unit and whose role may report (the API's rule,
``api.media_reports.REPORTER_ROLES``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from runner.cli_complaints import AsLogin, ComplaintRef, _ComplaintCli, complaint_app

# links.CASE_ROLES in Chinese (the dashboard says the same)
CASE_REFUSAL = "无权关联事件或由投诉立案：需为值班监测、应急处置负责人、分行领导或系统管理员"

@complaint_app.command("media-report")
def media_report(
        ctx: typer.Context,
        unit: Annotated[str, typer.Option("--unit", help="the unit the journalist is at / asking about (org id)")],
        text: Annotated[str, typer.Option("--text", help="who is asking or filming, and about what")],
        as_: AsLogin = None,
        category: Annotated[str, typer.Option(help="risk category code (yuqing.categories), if known")] = "other",
        as_json: Annotated[bool, typer.Option("--json", help="print what was opened as JSON")] = False) -> None:
    """记者正在询问/拍摄（尚未见报）：直接生成媒体曝光预警并通知综合管理部值班。"""
    from api.media_reports import REPORTER_ROLES
    from incidents.complaints.flows import ComplaintError
    from incidents.complaints.media_reports import report_media_inquiry
    from incidents.policy import load_policy
    from yuqing.categories import level_label
    from yuqing.errors import ConfigError

    cli = _ComplaintCli(ctx, as_)
    try:
        policy = load_policy(cli.settings.levels_path, cli.settings.checklists_path)
    except ConfigError as exc:
        cli.fail(str(exc))
    if cli.me is not None:
        if not set(cli.me.roles) & {str(r) for r in REPORTER_ROLES}:
            cli.fail("无权报告媒体采访：需为网点负责人/联络人、值班监测、应急处置负责人或分行领导")
        cli.check_unit(unit)
    try:
        out = report_media_inquiry(cli.session, unit_id=unit, text=text, actor=cli.actor, org=cli.org,
                                   policy=policy, clock=cli.clock, category=category)
        cli.session.commit()
    except ComplaintError as exc:
        cli.fail(exc.zh)
    cli.session.close()
    if as_json:
        typer.echo(json.dumps({"alert_id": out.alert_id, "level": out.level, "incident_id": out.incident_id,
                               "incident_number": out.incident_number, "story_id": out.story_id},
                              ensure_ascii=False))
        return
    opened = f"，已立案 {out.incident_number}" if out.incident_number else ""
    typer.echo(f"已生成媒体曝光预警（{level_label(out.level)}，预警编号 {out.alert_id}）{opened}；"
               "已通知综合管理部值班。")



def _policy(cli: _ComplaintCli):
    from incidents.policy import load_policy
    from yuqing.errors import ConfigError

    try:
        return load_policy(cli.settings.levels_path, cli.settings.checklists_path)
    except ConfigError as exc:
        cli.fail(str(exc))


def _case_step(cli: _ComplaintCli, ref: str, fn, **kwargs):
    from incidents.complaints.flows import ComplaintError
    from incidents.complaints.links import may_join_cases

    c = cli.find(ref)
    if cli.me is not None and not may_join_cases(cli.me.roles):
        cli.fail(CASE_REFUSAL)
    cli.check_unit(c.unit_id)
    try:
        out = fn(cli.session, c.id, actor=cli.actor, clock=cli.clock, org=cli.org, policy=_policy(cli), **kwargs)
        cli.session.commit()
    except ComplaintError as exc:
        cli.fail(exc.zh)
    return c, out


@complaint_app.command("link")
def complaint_link(ctx: typer.Context, ref: ComplaintRef,
                   incident: Annotated[int, typer.Option("--incident", min=1, help="incident id")],
                   as_: AsLogin = None) -> None:
    """投诉关联舆情事件（同一案件）：事件追加投诉处理步骤，期限自投诉受理时起算。"""
    from incidents.complaints.links import link_incident
    from incidents.models import Incident

    cli = _ComplaintCli(ctx, as_)
    target = cli.session.get(Incident, incident)
    if target is None:
        cli.fail(f"事件不存在（编号 {incident}）")
    if cli.me is not None and not cli.me.sees_unit(target.unit_id):
        cli.fail("无权处理该事件：不属于您所辖的单位")
    c, _ = _case_step(cli, ref, lambda s, cid, **kw: link_incident(s, cid, incident, **kw))
    typer.echo(f"{c.number}\t已关联事件 {target.number}")
    cli.session.close()


@complaint_app.command("raise")
def complaint_raise(ctx: typer.Context, ref: ComplaintRef, as_: AsLogin = None,
                    level: Annotated[str | None, typer.Option(help="I | II | III | IV; default: incident_levels "
                                                                   "in config/complaints.yaml by severity")] = None
                    ) -> None:
    """由投诉立案（紧急投诉或正在网上发酵的投诉）：生成内部报告预警并立案，投诉与事件为同一案件。"""
    from incidents.complaints.links import raise_incident

    cli = _ComplaintCli(ctx, as_)
    c, incident = _case_step(cli, ref, raise_incident, level=level)
    typer.echo(f"{c.number}\t已立案 {incident.number}（{incident.level}级）")
    cli.session.close()
