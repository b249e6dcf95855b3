"""``yuqing incident regulator``: record a report to the regulator or the central bank (报告监管部门 / 报告人民银行),
or print its template to edit first.

Registered on ``yuqing incident`` by one import in ``runner.cli``. It acts as a named user through the same entry
points as the API and the incident page (``api.regulators``), so it is refused exactly where they would be.
"""

from __future__ import annotations

from typing import Annotated

import typer

from runner.cli import AsUser, IncidentId, _fail, _IncidentCli, _text_of, incident_app

KINDS = ("regulator_report", "pboc_report")


@incident_app.command("regulator")
def incident_regulator(
        ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
        to: Annotated[str, typer.Option("--to", help="recipient key in config/regulators.yaml (e.g. "
                                                      "nfra_jiangcheng); default: the one for the report kind, or "
                                                      "the recipient's name when none is configured")] = "",
        kind: Annotated[str | None, typer.Option(help="regulator_report (报告监管部门) | pboc_report (报告人民银行); "
                                                      "default: the kind --to receives")] = None,
        method: Annotated[str, typer.Option(help="how: one the recipient accepts, e.g. 书面报告, 电话, "
                                                 "监管报送系统")] = "",
        reference: Annotated[str, typer.Option(help="the recipient's reference number, if any")] = "",
        file: Annotated[str | None, typer.Option("--file", help="the report as sent (UTF-8; - for stdin)")] = None,
        template: Annotated[bool, typer.Option("--template", help="print the pre-filled template and record "
                                                                  "nothing")] = False) -> None:
    """登记报告监管部门 / 报告人民银行 (commander or leader): stops that report's clock and completes its task."""
    from api import regulators
    from incidents.regulators import REPORT_KINDS

    if kind is not None and kind not in KINDS:
        _fail(f"kind must be one of {', '.join(KINDS)}")
    cli = _IncidentCli(ctx, as_)
    if template:
        if kind is None:
            regs = cli.policy.regulators
            found = regs.recipient(to) if regs is not None and to else None
            kind = found.reports[0] if found is not None else "regulator_report"
        draft = cli.run(regulators.draft, incident_id=incident_id, kind=kind, org=cli.org, policy=cli.policy,
                        tz=cli.settings.timezone)
        typer.echo(f"# {draft.kind_name}：{draft.recipient_name}（{draft.to or '未配置'}）；方式："
                   f"{'、'.join(draft.methods) or '自填'}", err=True)
        typer.echo(draft.text)
        cli.session.close()
        return
    if not file:
        _fail("--file is required (the report as sent); --template prints one to start from")
    if not method:
        _fail("--method is required (e.g. 书面报告, 电话, 监管报送系统)")
    text = _text_of(file)
    row = cli.run(regulators.record, incident_id=incident_id, kind=kind, to=to, method=method, reference=reference,
                  text=text, org=cli.org, policy=cli.policy)
    cli.done(incident_id, f"已登记{REPORT_KINDS[row.kind]}：{row.recipient_name}（{row.method}）")
