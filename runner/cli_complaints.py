"""``yuqing complaint``: enter complaints from scripts, list and show them, and record each handling step.

Registered in ``runner.cli`` as the ``complaint`` group. Commands run as a script actor named ``cli`` (no scope:
whoever can run the command on the server is trusted like an administrator) or, with ``--as LOGIN``, as a
dashboard user, checked like the API: the complaint's unit must be in that user's scope, ``add`` needs a role that
enters complaints and each step one that acts on this complaint (``incidents.complaints.access``), and ``show
--reveal`` follows ``masking.may_reveal`` (a role of ``full_details_roles``, or the complaint's 首问 owner or
assignee), each reveal written to the audit log.

Output: ``--json`` prints ``incidents.complaints.queries.complaint_view`` (the API's shape); without it, Chinese
lines for people. A refusal prints a Chinese error on stderr, exits non-zero, and saves nothing.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from runner.cli_base import _fail, _user_session

complaint_app = typer.Typer(help="Complaints (投诉): enter from any channel, list, show, and record each handling "
                                 "step (受理告知, 联系, 核实, 分派, 方案, 办结, 回访 …).", no_args_is_help=True)

AsLogin = Annotated[str | None, typer.Option("--as", help="act as this dashboard login (its unit scope and roles "
                                                          "are checked); default: the script actor 'cli'")]
ComplaintRef = Annotated[str, typer.Argument(help="complaint id or number (TS-YYYYMMDD-NNN)")]
AsJson = Annotated[bool, typer.Option("--json", help="print the record as JSON (the API's shape)")]


class _ComplaintCli:
    """A session, the org chart, the complaints config, the policy's zone and calendar, a clock, and the actor."""

    def __init__(self, ctx: typer.Context, login: str | None):
        from api.deps import principal_for
        from api.users import get_user_by_login
        from incidents.clocks import policy_calendar
        from incidents.complaints.config import COMPLAINTS_FILE, load_complaints_config
        from incidents.policy import load_policy
        from yuqing.clock import SystemClock
        from yuqing.errors import ConfigError
        from yuqing.org import load_org

        self.settings, factory = _user_session()
        try:
            self.org = load_org(self.settings.org_path)
            self.cfg = load_complaints_config(self.settings.config_dir / COMPLAINTS_FILE)
            policy = load_policy(self.settings.levels_path, self.settings.checklists_path)
        except ConfigError as exc:
            _fail(str(exc))
        self.policy = policy
        self.tz = policy.timezone
        self.calendar = policy_calendar(policy)
        injected = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
        self.clock = injected or SystemClock()
        self.session = factory()
        self.me = None
        self.actor = "cli"
        if login is not None:
            user = get_user_by_login(self.session, login=login)
            if user is None:
                self.session.close()
                _fail(f"用户不存在或已停用：{login}（见 yuqing user seed）", code=1)
            self.me = principal_for(user, self.org, csrf=None, via="cli")
            self.actor = user.login

    def unit_scope(self, unit: str | None) -> set[str] | None:
        """The units a list or statistics covers: the user's (None: every unit, for a script), narrowed to ``unit``
        and the units under it when given."""
        scope = set(self.me.unit_ids) if self.me is not None else None
        if unit is None:
            return scope
        if unit not in {u.id for u in self.org.units}:
            self.fail(f"机构不存在：{unit}")
        below = {unit} | {u.id for u in self.org.descendants(unit)}
        return below if scope is None else scope & below

    def check_unit(self, unit_id: str) -> None:
        if self.me is not None and not (self.me.sees_unit(unit_id)):
            self.fail(f"无权处理该机构的投诉：{unit_id}")

    def check_enter(self) -> None:
        """Entering complaints: the API's roles (``access.ENTER_ROLES``)."""
        from incidents.complaints.access import ENTER_REFUSAL, may_enter

        if self.me is not None and not may_enter(self.me.roles):
            self.fail(ENTER_REFUSAL)

    def check_act(self, c) -> None:
        """A handling step: the API's rule (``access.may_act``: 首问 owner, assignee, commander, leader, admin)."""
        from incidents.complaints.access import STEP_REFUSAL, may_act

        if self.me is not None and not may_act(c, login=self.me.login, roles=self.me.roles):
            self.fail(STEP_REFUSAL)

    def fail(self, message: str) -> None:
        self.session.rollback()
        self.session.close()
        _fail(message, code=1)

    def find(self, ref: str):
        """The complaint by id or number, within the actor's scope."""
        from incidents.complaints.models import Complaint
        from incidents.complaints.queries import get_by_number

        ref = ref.strip()
        if ref.isascii() and ref.isdigit():
            number = int(ref)
            c = self.session.get(Complaint, number) if number < 2**63 else None  # beyond any id: none
        else:
            c = get_by_number(self.session, ref)
        if c is None:
            self.fail(f"投诉不存在：{ref}")
        if self.me is not None and not (self.me.sees_unit(c.unit_id) or self.me.sees_unit(c.handling_unit_id)):
            self.fail(f"无权查看该投诉：{ref}")
        return c

    def view(self, c, *, reveal: bool = False, events: bool = True) -> dict:
        from incidents.complaints.queries import complaint_view

        return complaint_view(c, cfg=self.cfg, tz=self.tz, calendar=self.calendar, now=self.clock.now(),
                              reveal=reveal, org=self.org, events=events)

    def step(self, ref: str, fn, done: str, **kwargs) -> None:
        """Run one step function; a refusal prints its Chinese message and exits 1, nothing saved."""
        from incidents.complaints.flows import ComplaintError

        c = self.find(ref)  # within the actor's scope (the unit complained about or the handling unit)
        self.check_act(c)
        try:
            fn(self.session, c.id, actor=self.actor, clock=self.clock, **kwargs)
            self.session.commit()
        except ComplaintError as exc:
            self.fail(exc.zh)
        self.session.refresh(c)
        from incidents.complaints.models import STATUS_LABELS

        typer.echo(f"{c.number}\t{STATUS_LABELS.get(c.status, c.status)}\t{done}")
        self.session.close()


def complaints_config_line(settings) -> str:
    """``check-config``'s line on config/complaints.yaml; raises ConfigError (file and field) when it is invalid."""
    from incidents.complaints.config import COMPLAINTS_FILE, load_complaints_config

    path = settings.config_dir / COMPLAINTS_FILE
    cfg = load_complaints_config(path)
    resolve = ", ".join(f"{sev.value} {rule.working_days} working days" if rule.working_days is not None
                        else f"{sev.value} {rule.hours} h" for sev, rule in cfg.resolve.items())
    where = str(path) if path.exists() else f"{path} not found: the defaults"
    return (f"complaints: entry {cfg.entry_hours} h, contact {cfg.contact_hours} h, resolve {resolve}, reply "
            f"{'/'.join(str(d) for d in cfg.reply_limits())} days; full details for "
            f"{', '.join(r.value for r in cfg.full_details_roles)} ({where})")


def _attachments(paths: list[Path] | None):
    from incidents.complaints.flows import AttachmentInput

    out = []
    for p in paths or []:
        try:
            data = p.read_bytes()
        except OSError as exc:
            _fail(f"无法读取附件 {p}：{exc.strerror or exc}")
        out.append(AttachmentInput(filename=p.name, data=data,
                                   content_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream"))
    return out


def _short(iso: str | None) -> str:
    """A view's ISO time as people read it (local, to the minute)."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else "-"


def _echo_human(view: dict) -> None:
    c = view["customer"]
    typer.echo(f"{view['number']}（编号 {view['id']}）{view['severity_label']}投诉 {view['status_label']}")
    typer.echo(f"  渠道：{view['channel_label']}  受理时间：{_short(view['received_at'])}  机构：{view['unit_name']}")
    typer.echo(f"  类别：{view['category_label']}  首问责任人："
               f"{(view['first_contact_owner'] or {}).get('name', '-')}"
               + (f"  承办人：{view['assignee']['name']}" if view["assignee"] else ""))
    if c["name"] or c["phone"] or c["account"]:
        typer.echo(f"  客户：{c['name'] or '-'}  电话：{c['phone'] or '-'}  账户/产品：{c['account'] or '-'}")
    typer.echo(f"  内容：{view['description']}")
    for k in view["clocks"]:
        done = f"（{_short(k['done_at'])} 完成）" if k["done_at"] else ""
        typer.echo(f"  时限 {k['label']}：截止 {_short(k['due'])}  {k['state_label']}{done}")
    for a in view["attachments"]:
        typer.echo(f"  附件 {a['filename']}（{a['size']} 字节，SHA-256 {a['sha256']}）")
    for e in view.get("events", []):
        typer.echo(f"  {_short(e['at'])} {e['text']}（{e['actor']}）")


@complaint_app.command("add")
def complaint_add(
        ctx: typer.Context,
        unit: Annotated[str, typer.Option("--unit", help="unit id in the org chart (the unit complained about)")],
        channel: Annotated[str, typer.Option(help="hotline | walk_in | letter | email | online_form | petition | "
                                                  "superior_bank | regulator_transfer | web_post | comment_book")],
        category: Annotated[str, typer.Option(help="category code, e.g. service_attitude, opaque_fees")],
        text: Annotated[str, typer.Option("--text", help="what the customer complains about")],
        received_at: Annotated[str | None, typer.Option("--received-at", help="when the bank received it, ISO 8601 "
                                                        "with offset (default: now)")] = None,
        severity: Annotated[str, typer.Option(help="一般 | 重要 | 紧急 (or general | important | urgent)")] = "一般",
        customer: Annotated[str, typer.Option("--customer", help="customer name")] = "",
        phone: Annotated[str, typer.Option(help="customer phone")] = "",
        product: Annotated[str, typer.Option("--product", "--account", help="account or product")] = "",
        owner: Annotated[str | None, typer.Option("--owner", help="首问 owner's person id (default: the user "
                                                  "entering it, else the unit's duty monitor)")] = None,
        handling_unit: Annotated[str | None, typer.Option(help="unit that handles it (default: --unit)")] = None,
        lead_department: Annotated[str, typer.Option(help="牵头部门 when several are involved")] = "",
        source_system: Annotated[str, typer.Option(help="ticket system it came from")] = "",
        idempotency_key: Annotated[str | None, typer.Option(help="the sender's key (the same key from another "
                                                            "user is another key): resubmitting with the same "
                                                            "content prints the same record; needs "
                                                            "--received-at")] = None,
        attach: Annotated[list[Path] | None, typer.Option("--attach", help="a file (repeatable)", dir_okay=False)]
        = None,
        as_: AsLogin = None, as_json: AsJson = False) -> None:
    """登记投诉: prints the record with its four deadlines (entry, contact, resolve, reply); a 重要 / 紧急 one is
    reported to leadership at once."""
    from pydantic import ValidationError

    from incidents.complaints.flows import ComplaintError, ComplaintInput, create_complaint
    from incidents.complaints.scheduled import tell_leadership_on_entry

    files = _attachments(attach)
    cli = _ComplaintCli(ctx, as_)
    if received_at is None and idempotency_key:
        # a retry must repeat the content exactly, and "now" differs on every run
        cli.fail("使用 --idempotency-key 时须同时给出 --received-at（受理时间），重试时才能与首次登记的内容一致")
    if received_at is None:
        when = cli.clock.now()
    else:
        try:
            when = datetime.fromisoformat(received_at.strip())
        except ValueError:
            cli.fail(f"受理时间格式无效：{received_at}（应为 ISO 8601，例如 2026-09-30T10:00:00+08:00）")
    cli.check_enter()
    for unit_id in dict.fromkeys([unit, handling_unit or unit]):
        if unit_id in {u.id for u in cli.org.units}:  # an unknown unit is refused by the intake, in its words
            cli.check_unit(unit_id)
    try:
        data = ComplaintInput(channel=channel, received_at=when, unit_id=unit, category=category, severity=severity,
                              description=text, customer_name=customer, customer_phone=phone,
                              account_or_product=product, handling_unit_id=handling_unit,
                              lead_department=lead_department, first_contact_owner_id=owner,
                              source_system=source_system, idempotency_key=idempotency_key)
        complaint, created = create_complaint(cli.session, data, actor=cli.actor, org=cli.org, cfg=cli.cfg,
                                              clock=cli.clock, tz=cli.tz, attachments=files)
        cli.session.commit()
    except ComplaintError as exc:
        cli.fail(exc.zh)
    except ValidationError as exc:
        cli.fail(f"输入无效：{exc.errors()[0].get('msg', '')}")
    told = tell_leadership_on_entry(cli.session, complaint, created=created, org=cli.org, policy=cli.policy,
                                    clock=cli.clock)
    view = cli.view(complaint) | {"created": created}
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False))
    else:
        typer.echo(("已登记投诉" if created else "该投诉已登记（幂等键相同，未重复创建）") + f" {view['number']}")
        if told:
            typer.echo(f"  已生成报告单位领导的通知（{view['severity_label']}投诉），排队发送")
        _echo_human(view)
    cli.session.close()


@complaint_app.command("list")
def complaint_list(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option(help="open | ended | one status (code or label: 处理中)")] = None,
        channel: Annotated[str | None, typer.Option(help="one channel (code or label: 客服热线)")] = None,
        severity: Annotated[str | None, typer.Option(help="一般 | 重要 | 紧急 (or the code)")] = None,
        unit: Annotated[str | None, typer.Option(help="only this unit and the units under it")] = None,
        month: Annotated[str | None, typer.Option(help="YYYY-MM, by local date of receipt")] = None,
        limit: Annotated[int, typer.Option(min=1, max=5000)] = 500,
        as_: AsLogin = None, as_json: AsJson = False) -> None:
    """投诉列表, newest receipt first (customers masked)."""
    from incidents.complaints.flows import ComplaintError, normalise_channel, normalise_severity
    from incidents.complaints.models import STATUS_LABELS
    from incidents.complaints.queries import list_complaints

    cli = _ComplaintCli(ctx, as_)
    try:
        sev = normalise_severity(severity) if severity else None
        chan = normalise_channel(channel) if channel else None
    except ComplaintError as exc:
        cli.fail(exc.zh)
    if status:
        by_label = {label: code for code, label in STATUS_LABELS.items()} | {"未结": "open", "已结": "ended"}
        status = by_label.get(status.strip(), status.strip())
        if status not in {"open", "ended", *STATUS_LABELS}:
            cli.fail(f"状态无效：{status}；应为 open（未结）、ended（已结）或 "
                     + "、".join(f"{code}（{label}）" for code, label in STATUS_LABELS.items()))
    scope = cli.unit_scope(unit)
    try:
        rows = list_complaints(cli.session, unit_ids=scope, status=status, channel=chan, severity=sev,
                               month=month, tz=cli.tz, limit=limit)
    except ValueError:
        cli.fail(f"月份格式无效：{month}（应为 YYYY-MM）")
    views = [cli.view(c, events=False) for c in rows]
    if as_json:
        typer.echo(json.dumps(views, ensure_ascii=False))
    else:
        for v in views:
            late = [k["label"] for k in v["clocks"] if k["state"] in ("overdue", "late")]
            typer.echo(f"{v['id']}\t{v['number']}\t{v['severity_label']}\t{v['status_label']}\t{v['channel_label']}"
                       f"\t{v['unit_name']}\t{v['category_label']}" + (f"\t超时：{'、'.join(late)}" if late else ""))
        typer.echo(f"共 {len(views)} 条", err=True)
    cli.session.close()


@complaint_app.command("show")
def complaint_show(
        ctx: typer.Context, ref: ComplaintRef, as_: AsLogin = None, as_json: AsJson = False,
        reveal: Annotated[bool, typer.Option("--reveal", help="show the customer's full details (roles in "
                                             "full_details_roles, or the complaint's 首问 owner or assignee; "
                                             "with --as; written to the audit log)")] = False) -> None:
    """查看投诉: status, clocks, steps and timeline."""
    from incidents.complaints.masking import may_reveal, reveal_audited

    cli = _ComplaintCli(ctx, as_)
    c = cli.find(ref)
    if reveal:
        if cli.me is None:
            cli.fail("查看客户完整信息需以有权限的用户身份操作（--as LOGIN）")
        if not may_reveal(c, login=cli.me.login, roles=cli.me.roles, cfg=cli.cfg):
            cli.fail("无权查看客户完整信息：限应急处置负责人、分行领导、系统管理员及该投诉的首问责任人、处理人")
        reveal_audited(cli.session, c, actor=cli.actor, clock=cli.clock, via="cli")
        cli.session.commit()
    view = cli.view(c, reveal=reveal)
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False))
    else:
        _echo_human(view)
    cli.session.close()


# --- the handling steps, one command each ------------------------------------------------------------------
Note = Annotated[str, typer.Option(help="what was said or done (goes on the timeline)")]


@complaint_app.command("ack")
def complaint_ack(ctx: typer.Context, ref: ComplaintRef,
                  how: Annotated[str, typer.Option(help="电话 | 短信 | 当面 | 书面 (phone | sms | in_person | "
                                                        "written); the first three also count as contact")],
                  note: Note = "", as_: AsLogin = None) -> None:
    """受理告知: the customer was told the complaint was received."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.acknowledge, "已告知受理", how=how, note=note)


@complaint_app.command("contact")
def complaint_contact(ctx: typer.Context, ref: ComplaintRef,
                      how: Annotated[str, typer.Option(help="e.g. 电话, 当面")] = "", note: Note = "",
                      as_: AsLogin = None) -> None:
    """联系客户 (the first stops the 48 h clock)."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.record_contact, "已登记联系客户", how=how, note=note)


@complaint_app.command("verify")
def complaint_verify(ctx: typer.Context, ref: ComplaintRef, note: Note = "", as_: AsLogin = None) -> None:
    """核实情况."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.verify, "已核实", note=note)


@complaint_app.command("assign")
def complaint_assign(ctx: typer.Context, ref: ComplaintRef,
                     person: Annotated[str, typer.Argument(help="assignee's person id")], note: Note = "",
                     as_: AsLogin = None) -> None:
    """分派承办人."""
    from incidents.complaints import flows

    cli = _ComplaintCli(ctx, as_)
    cli.step(ref, flows.assign, f"已分派给 {person}", assignee_id=person, org=cli.org, note=note)


@complaint_app.command("propose")
def complaint_propose(ctx: typer.Context, ref: ComplaintRef,
                      text: Annotated[str, typer.Option("--text", help="the solution given to the customer")],
                      preliminary: Annotated[bool, typer.Option(help="紧急: the preliminary solution (24 h)")]
                      = False, as_: AsLogin = None) -> None:
    """提出解决方案（答复客户）, or --preliminary 初步解决方案."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.propose_solution, "已提出初步解决方案" if preliminary else "已提出解决方案",
                                 text=text, preliminary=preliminary)


@complaint_app.command("answer")
def complaint_answer(ctx: typer.Context, ref: ComplaintRef,
                     answer: Annotated[str, typer.Argument(help="accepted (接受) | refused (不接受)")],
                     note: Note = "", as_: AsLogin = None) -> None:
    """客户对方案的答复: accepted or refused."""
    from incidents.complaints import flows

    if answer not in ("accepted", "refused", "接受", "不接受"):
        _fail("答复应为 accepted（接受）或 refused（不接受）")
    accepted = answer in ("accepted", "接受")
    _ComplaintCli(ctx, as_).step(ref, flows.record_acceptance, "客户接受方案" if accepted else "客户不接受方案",
                                 accepted=accepted, note=note)


@complaint_app.command("mediate")
def complaint_mediate(ctx: typer.Context, ref: ComplaintRef,
                      kind: Annotated[str, typer.Option(help="mediation (调解) | arbitration (仲裁)")],
                      note: Annotated[str, typer.Option(help="who mediates, what was agreed")], as_: AsLogin = None
                      ) -> None:
    """调解 / 仲裁 after the customer refused."""
    from incidents.complaints import flows

    kind = {"调解": "mediation", "仲裁": "arbitration"}.get(kind, kind)
    _ComplaintCli(ctx, as_).step(ref, flows.record_mediation, "已登记调解/仲裁", kind=kind, note=note)


@complaint_app.command("close")
def complaint_close(ctx: typer.Context, ref: ComplaintRef,
                    note: Annotated[str, typer.Option(help="办结说明")], as_: AsLogin = None) -> None:
    """办结 (after an accepted solution or mediation)."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.close, "已办结", note=note)


@complaint_app.command("visit")
def complaint_visit(ctx: typer.Context, ref: ComplaintRef,
                    satisfaction: Annotated[str, typer.Argument(help="满意 | 基本满意 | 不满意")],
                    note: Note = "", as_: AsLogin = None) -> None:
    """回访 with the customer's satisfaction; 不满意 reopens the complaint."""
    from incidents.complaints import flows

    _ComplaintCli(ctx, as_).step(ref, flows.return_visit, f"已回访（{satisfaction}）", satisfaction=satisfaction,
                                 note=note)


@complaint_app.command("extend")
def complaint_extend(ctx: typer.Context, ref: ComplaintRef,
                     days: Annotated[int, typer.Option(help="the next allowed reply limit (30, then 60)")],
                     reason: Annotated[str, typer.Option(help="why more time is needed")], as_: AsLogin = None
                     ) -> None:
    """延长答复期限 (15 → 30 → 60 days)."""
    from incidents.complaints import flows

    cli = _ComplaintCli(ctx, as_)
    cli.step(ref, flows.extend_reply, f"答复期限已延长至 {days} 天", days=days, reason=reason, cfg=cli.cfg,
             tz=cli.tz)


@complaint_app.command("new-facts")
def complaint_new_facts(ctx: typer.Context, ref: ComplaintRef,
                        note: Annotated[str, typer.Option(help="the new facts or reasons")], as_: AsLogin = None
                        ) -> None:
    """客户提出新事实: the reply clock restarts."""
    from incidents.complaints import flows

    cli = _ComplaintCli(ctx, as_)
    cli.step(ref, flows.new_facts, "答复期限已重新计算", note=note, cfg=cli.cfg, tz=cli.tz)


@complaint_app.command("attach")
def complaint_attach(ctx: typer.Context, ref: ComplaintRef,
                     file: Annotated[Path, typer.Argument(dir_okay=False, help="the file")], as_: AsLogin = None
                     ) -> None:
    """添加附件 (stored with its SHA-256)."""
    from incidents.complaints import flows

    [attachment] = _attachments([file])
    cli = _ComplaintCli(ctx, as_)
    cli.step(ref, flows.add_attachment, f"已添加附件 {file.name}", attachment=attachment, cfg=cli.cfg)


@complaint_app.command("hand-over")
def complaint_hand_over(ctx: typer.Context, ref: ComplaintRef,
                        person: Annotated[str, typer.Argument(help="the new 首问 owner's person id")],
                        reason: Annotated[str, typer.Option(help="why")], as_: AsLogin = None) -> None:
    """首问责任移交."""
    from incidents.complaints import flows

    cli = _ComplaintCli(ctx, as_)
    cli.step(ref, flows.hand_over, f"首问责任已移交给 {person}", owner_id=person, reason=reason, org=cli.org)


# === owner B: `yuqing complaint stats --month YYYY-MM --json` goes below this line ===========================
@complaint_app.command("stats")
def complaint_stats(
        ctx: typer.Context,
        month: Annotated[str, typer.Option(help="YYYY-MM, by local date of receipt")],
        unit: Annotated[str | None, typer.Option(help="only complaints about (or handled by) this unit and the "
                                                      "units under it")] = None,
        as_: AsLogin = None, as_json: AsJson = False) -> None:
    """投诉统计与考核 (the numbers of /complaints/stats and /api/v1/complaints/stats): counts by unit, channel,
    category and severity; on-time rate per clock; average resolution days; satisfaction; repeat complaints;
    the quarter-on-quarter change; the configured goals."""
    from incidents.complaints.models import CHANNEL_LABELS, SEVERITY_LABELS
    from incidents.complaints.stats import StatsError, month_stats
    from yuqing.categories import category_label

    cli = _ComplaintCli(ctx, as_)
    scope = cli.unit_scope(unit)
    try:
        s = month_stats(cli.session, month=month, cfg=cli.cfg, tz=cli.tz, calendar=cli.calendar,
                        now=cli.clock.now(), unit_ids=scope)
    except StatsError as exc:
        cli.fail(exc.zh)
    cli.session.close()
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False))
        return

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    def unit_name(unit_id: str) -> str:
        u = next((u for u in cli.org.units if u.id == unit_id), None)
        return (u.short_name or u.name) if u else unit_id

    g = s["goals"]
    q = s["quarter_change"]
    typer.echo(f"{s['month']} 投诉 {s['total']} 件")
    for title, dim, label in (("按机构", "unit", unit_name), ("按渠道", "channel", lambda c: CHANNEL_LABELS.get(c, c)),
                              ("按类别", "category", category_label),
                              ("按等级", "severity", lambda c: SEVERITY_LABELS.get(c, c))):
        typer.echo(f"  {title}：" + ("、".join(f"{label(k)} {n}" for k, n in s["by"][dim].items()) or "-"))
    names = {"entry": "录入", "contact": "联系客户", "resolve": "办结", "reply": "答复客户"}
    typer.echo("  按时率：" + "  ".join(f"{names[k]} {pct(v)}" for k, v in s["on_time"].items()))
    avg = s["average_resolution_days"]
    avg_text = "-" if avg is None else f"{avg:.2f} 天"
    typer.echo(f"  平均办结时长：{avg_text}（目标 ≤ {g['average_resolution_days']:g} 天）")
    typer.echo(f"  满意率：{pct(s['satisfaction_rate'])}（回访 {s['return_visits']} 件；目标由 "
               f"{pct(g['satisfaction_baseline'])} 提升至 {pct(g['satisfaction_rate'])}）")
    typer.echo(f"  重复投诉：{s['repeat_complaints']} 件（{s['repeat_window_days']} 日内同一客户）")
    change = "-" if q["change"] is None else f"{q['change']:+.1%}"
    typer.echo(f"  季度环比：{q['quarter']} {q['count']} 件，{q['previous_quarter']} {q['previous_count']} 件，"
               f"{change}（目标 {g['quarterly_change']:+.0%}）" + ("" if q["complete"] else "；本季度尚未结束"))
