"""``yuqing demo --respond``: the people of the scripted crisis, acting through the same actions a user would.

The commander (刘强, ``liuqiang``), the legal reviewer (钱宇, ``qianyu``) and a branch leader (陈静, ``chenjing``)
each look at the product between pipeline rounds and do what the page in front of them asks, a plausible number of
simulated minutes after it became possible. Every act goes through the entry points the dashboard, the API and the
CLI share (``api.actions``, ``api.statements``, ``api.inbox``) with the person's own ``Principal`` — so roles, unit
scope, statuses and timestamps are checked exactly as they would be for a person, and a refusal is logged, never
worked around. Nothing here writes a row directly. Part of the composition root (imports every layer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import HTTPException
from sqlalchemy import func, select

log = logging.getLogger("yuqing.demo.people")

COMMANDER, LEGAL, LEADER = "liuqiang", "qianyu", "chenjing"
# Facts the commander has verified by the time he fills in the holding statement's 【待核实…】 (by label).
FACTS = {
    "客服电话": "96000（示例银行客服热线）",
    "发布前再次确认网点营业及兑付情况": "经与网点再次核实，截至发布时网点现金充足、排队秩序正常。",
    "网点当日营业及兑付情况": "当日网点现金充足，未发生客户无法取款的情况。",
    "事情经过，如大额取现需提前预约":
        "按照人民银行大额现金管理规定，单笔5万元以上取现需提前一天预约，网点已为客户办理预约",
}
DEFAULT_FACT = "经核实，相关情况已与客户沟通处理。"
# Steps completed by their record (a statement's progress, a report, a leader's acknowledgement), never by hand.
BY_RECORD = {"initial_report", "leadership_notice", "legal_review", "leadership_signoff", "holding_statement",
             "publish_response", "official_clarification"}


@dataclass
class _Case:
    """What the demo's people remember about one incident between rounds."""

    seen_at: datetime
    acked_at: datetime | None = None
    drafted: int | None = None  # statement id
    filled: bool = False
    last_step: dict[str, datetime] = field(default_factory=dict)
    lowered: bool = False
    done: bool = False


class DemoPeople:
    """Call :meth:`act` often (between rounds and while simulated time runs); each call lets every person do at
    most one thing per incident that is due."""

    def __init__(self, *, session_factory, org, policy, clock, templates_path, tz: str = "Asia/Shanghai"):
        self.session_factory, self.org, self.policy, self.clock = session_factory, org, policy, clock
        self.templates_path, self.tz = templates_path, tz
        self.cases: dict[int, _Case] = {}
        self.actions: list[tuple[datetime, str, str, int]] = []  # (at, login, what, incident id)
        self.refusals: list[str] = []

    # --- the loop's interface -----------------------------------------------------------------------------------
    def busy(self) -> bool:
        """Whether some incident still needs the people (not yet reviewed)."""
        return any(not c.done for c in self.cases.values())

    def act(self) -> None:
        from incidents.models import Incident

        with self.session_factory() as session:
            ids = list(session.scalars(select(Incident.id).order_by(Incident.id)))
        for incident_id in ids:
            case = self.cases.setdefault(incident_id, _Case(seen_at=self.clock.now()))
            if case.done:
                continue
            for person in (self._leader, self._legal, self._commander):
                with self.session_factory() as session:
                    try:
                        person(session, incident_id, case)
                    except HTTPException as exc:  # refused exactly as a person would be: logged, not forced
                        session.rollback()
                        self.refusals.append(f"{exc.status_code} {exc.detail}")
                        log.warning("demo person refused", extra={"incident": incident_id, "detail": exc.detail})

    # --- helpers ------------------------------------------------------------------------------------------------
    def _me(self, session, login: str):
        from api.deps import principal_for
        from api.users import get_user_by_login

        user = get_user_by_login(session, login=login)
        if user is None:
            raise HTTPException(404, f"演示账号 {login} 不存在")
        return principal_for(user, self.org, csrf=None, via="demo")

    def _did(self, login: str, what: str, incident_id: int) -> None:
        self.actions.append((self.clock.now(), login, what, incident_id))
        log.info("demo person acted", extra={"login": login, "action": what, "incident": incident_id})

    def _after(self, case: _Case, key: str, minutes: float, since: datetime | None = None) -> bool:
        """Whether ``minutes`` have passed since ``since`` (or since this person's last step ``key``)."""
        base = since or case.last_step.get(key)
        return base is not None and self.clock.now() >= base + timedelta(minutes=minutes)

    def _mark(self, case: _Case, key: str) -> None:
        case.last_step[key] = self.clock.now()

    def _read(self, session, incident):
        from api import views

        return views.incident_read(session, self.org, incident, policy=self.policy, clock=self.clock)

    def _templates(self):
        from incidents import statements

        return statements.load_templates(self.templates_path)

    def _story_quiet_minutes(self, session, incident) -> float:
        """Minutes since the newest article of the incident's story was published (what 监测 shows)."""
        from crawlers.models import Article

        if incident.story_id is None:
            return 0.0
        newest = session.scalar(select(func.max(Article.published_at)).where(Article.story_id == incident.story_id))
        if newest is None:
            return 0.0
        from yuqing.clock import ensure_utc

        return (self.clock.now() - ensure_utc(newest)).total_seconds() / 60

    # --- 陈静, branch leader: acknowledges from her inbox, signs off the statement -------------------------------
    def _leader(self, session, incident_id: int, case: _Case) -> None:
        from api import actions, inbox
        from api import statements as st
        from incidents import statements as sflows
        from incidents.models import Incident, LeadershipAcknowledgement, StatementStatus

        incident = session.get(Incident, incident_id)
        me = self._me(session, LEADER)
        if not me.sees_unit(incident.unit_id):
            return
        acked = session.scalar(select(LeadershipAcknowledgement.id).where(
            LeadershipAcknowledgement.incident_id == incident.id, LeadershipAcknowledgement.leader_id == LEADER))
        if acked is None:
            # She opens her 消息 inbox some minutes after the message about this incident arrived and presses 确认.
            rows = [n for n in inbox.inbox(session, LEADER) if n.incident_id == incident.id and n.sent_at]
            first = min(rows, key=lambda n: n.id) if rows else None
            if first is not None and self._after(case, "", 8, since=first.sent_at):
                inbox.mark_read(session, first, self.clock.now())
                person = self.org.person(LEADER)
                inbox.acknowledge_message(session, me, first, person, via="inbox", now_clock=self.clock)
                self._did(LEADER, "在站内消息中确认知悉（领导确认知悉）", incident.id)
            return
        for s in sflows.statements_of(session, incident.id):
            if s.status == StatementStatus.legal_approved and self._after(case, "", 10, since=s.legal_at):
                st.approve(session, me, statement_id=s.id, note="同意发布。", org=self.org, clock=self.clock)
                self._did(LEADER, f"审签口径 #{s.id}", incident.id)
                return
        _ = actions  # the leader's other acts (level, close) are the commander's in this demo

    # --- 钱宇, legal: reviews statements waiting for legal -------------------------------------------------------
    def _legal(self, session, incident_id: int, case: _Case) -> None:
        from api import statements as st
        from incidents import statements as sflows
        from incidents.models import StatementStatus

        for s in sflows.statements_of(session, incident_id):
            if s.status == StatementStatus.in_review and self._after(case, "", 15, since=s.updated_at):
                me = self._me(session, LEGAL)
                st.legal_approve(session, me, statement_id=s.id, clock=self.clock,
                                 note="表述符合事实，未作超出核实范围的承诺，同意。")
                self._did(LEGAL, f"法律合规审核通过口径 #{s.id}", incident_id)
                return

    # --- 刘强, commander: runs the case from acknowledgement to review -------------------------------------------
    def _commander(self, session, incident_id: int, case: _Case) -> None:
        from api import actions
        from api import statements as st
        from incidents import statements as sflows
        from incidents.lifecycle import IncidentStatus
        from incidents.models import Incident, IncidentReport, StatementStatus, TaskStatus

        incident = session.get(Incident, incident_id)
        me = self._me(session, COMMANDER)
        now = self.clock.now()
        status = IncidentStatus(incident.status)
        level = self.policy.level(incident.level)
        if status == IncidentStatus.open:
            if self._after(case, "", min(3.0, level.ack_minutes / 2), since=incident.opened_at):
                actions.acknowledge_incident(session, me, incident_id=incident.id, clock=self.clock)
                case.acked_at = now
                self._did(COMMANDER, "确认事件", incident.id)
            return
        if status == IncidentStatus.reviewed:
            case.done = True
            return
        acked = case.acked_at or incident.acknowledged_at
        if status == IncidentStatus.acknowledged:
            if self._after(case, "", 4, since=acked):
                actions.start_response(session, me, incident_id=incident.id, clock=self.clock)
                self._did(COMMANDER, "开始处置", incident.id)
            return
        read = self._read(session, incident)
        reports = list(session.scalars(select(IncidentReport).where(IncidentReport.incident_id == incident.id)))
        kinds = {r.kind for r in reports}

        # phone-call tasks: he calls the leader and confirms (the phone channel counts as sent only then)
        for t in incident.tasks:
            if t.key.startswith("phone_call_") and t.status == TaskStatus.todo and \
                    self._after(case, "", 6, since=_task_created(session, t) or acked):
                actions.complete_task(session, me, task_id=t.id, note="已电话联系，对方确认知悉", org=self.org,
                                      clock=self.clock)
                self._did(COMMANDER, f"完成电话任务：{t.title[:20]}", incident.id)
                return
        if status in (IncidentStatus.responding, IncidentStatus.monitoring):
            # 初报 within the clock; then 续报 whenever the cadence clock turns due soon
            if "initial" not in kinds:
                clock = next((c for c in read.clocks if c.key == "initial_report"), None)
                if self._after(case, "", 20, since=acked) or (clock is not None and clock.status == "due_soon"):
                    actions.file_report(session, me, incident_id=incident.id, kind="initial", clock=self.clock,
                                        text=self._report_text(session, incident, "初报"))
                    self._did(COMMANDER, "报送初报", incident.id)
                    return
            else:
                clock = next((c for c in read.clocks if c.key == "update_report"), None)
                lowered = case.last_step.get("lowered")
                told_of_lowering = lowered is None or any(
                    r.kind == "follow_up" and _utc(r.filed_at) >= lowered for r in reports)
                # at the level's cadence (when the 续报 clock turns due), and once to report the lowered level
                if (clock is not None and clock.status in ("due_soon", "overdue")) or (
                        not told_of_lowering and self._after(case, "lowered", 10)):
                    n = sum(1 for r in reports if r.kind == "follow_up") + 1
                    actions.file_report(session, me, incident_id=incident.id, kind="follow_up", clock=self.clock,
                                        text=self._report_text(session, incident, f"第{n}次续报"))
                    self._did(COMMANDER, f"报送第{n}次续报", incident.id)
                    return
            # the holding statement: draft from the template, fill in 【待核实】, submit, then publish once signed
            statements = sflows.statements_of(session, incident.id)
            if not statements and self._after(case, "", 8, since=acked):
                s = st.draft(session, me, incident_id=incident.id, kind="holding", text="", org=self.org,
                             templates=self._templates, tz=self.tz, clock=self.clock)
                case.drafted = s.id
                self._mark(case, "drafted")
                self._did(COMMANDER, f"按模板起草初步回应口径 #{s.id}", incident.id)
                return
            for s in statements:
                if s.status == StatementStatus.draft and sflows.pending_marks(_current_text(s)):
                    if self._after(case, "drafted", 10):
                        text = sflows.PENDING.sub(_fact, _current_text(s))
                        st.edit(session, me, statement_id=s.id, text=text, clock=self.clock,
                                note="补充已核实的事实和客服电话")
                        self._mark(case, "filled")
                        self._did(COMMANDER, f"补全口径 #{s.id} 的待核实内容", incident.id)
                        return
                elif s.status == StatementStatus.draft and self._after(
                        case, "", 3, since=case.last_step.get("filled") or case.last_step.get("drafted")):
                    st.submit(session, me, statement_id=s.id, clock=self.clock)
                    self._did(COMMANDER, f"提交口径 #{s.id} 审核", incident.id)
                    return
                elif s.status == StatementStatus.approved and self._after(case, "", 5, since=s.approved_at):
                    st.publish(session, me, statement_id=s.id, where="示例银行江城分行官方微博", url="",
                               published_at=None, clock=self.clock)
                    self._did(COMMANDER, f"登记发布口径 #{s.id}", incident.id)
                    return
            # his own checklist steps, one at a time (others' steps are left to their owners)
            if self._after(case, "task", 12, since=case.last_step.get("task") or acked):
                for t in sorted(incident.tasks, key=lambda t: (t.due_at is None, t.due_at or now, t.id)):
                    if t.status != TaskStatus.todo or t.key in BY_RECORD or t.key == "archive" or \
                            t.key.startswith("phone_call_") or t.owner_id != COMMANDER:
                        continue
                    actions.complete_task(session, me, task_id=t.id, note=_TASK_NOTES.get(t.key, "已办理"),
                                          org=self.org, clock=self.clock)
                    self._mark(case, "task")
                    self._did(COMMANDER, f"完成任务：{t.title}", incident.id)
                    return
            published = any(s.status == StatementStatus.published for s in statements)
            quiet = self._story_quiet_minutes(session, incident)
            # the story fades: lower the level once, with the reason he sees on the monitoring page
            if (not case.lowered and incident.level in ("I", "II") and published and quiet >= 40
                    and "initial" in kinds):
                lower = "II" if incident.level == "I" else "III"
                actions.change_level(session, me, incident_id=incident.id, level=lower, org=self.org,
                                     policy=self.policy, clock=self.clock,
                                     reason=f"官方说明已发布、谣言已被辟谣，相关信息已{int(quiet)}分钟无新增传播，"
                                            f"传播态势明显回落，降为{lower}级继续处置")
                case.lowered = True
                self._mark(case, "lowered")
                self._did(COMMANDER, f"降为{lower}级", incident.id)
                return
            if status == IncidentStatus.responding and case.lowered and self._after(case, "lowered", 30) and any(
                    r.kind == "follow_up" and _utc(r.filed_at) >= case.last_step["lowered"] for r in reports):
                actions.start_monitoring(session, me, incident_id=incident.id, clock=self.clock,
                                         note="处置措施已落实，转入持续监测，关注是否反弹")
                self._mark(case, "monitoring")
                self._did(COMMANDER, "转入持续监测", incident.id)
                return
            if status == IncidentStatus.monitoring and self._after(case, "monitoring", 60) and quiet >= 90:
                archive = next((t for t in incident.tasks if t.key == "archive" and t.status == TaskStatus.todo),
                               None)
                if archive is not None:
                    actions.complete_task(session, me, task_id=archive.id, note="处置记录已归档，复盘已安排",
                                          org=self.org, clock=self.clock)
                    self._did(COMMANDER, "完成任务：结案归档", incident.id)
                    return
                actions.close_incident(session, me, incident_id=incident.id, clock=self.clock,
                                       summary="客户已取到款项并接受致歉；官方说明发布后谣言平息，网点营业正常，"
                                               "舆情已连续监测无新增传播，予以结案。")
                self._mark(case, "closed")
                self._did(COMMANDER, "结案", incident.id)
                return
        if status == IncidentStatus.closed:
            closed_reports = [r for r in reports if r.kind == "final" and r.filed_at >= incident.closed_at]
            if not closed_reports and self._after(case, "", 30, since=incident.closed_at):
                actions.file_report(session, me, incident_id=incident.id, kind="final", clock=self.clock,
                                    text=self._report_text(session, incident, "终报"))
                self._did(COMMANDER, "报送终报", incident.id)
                return
            if closed_reports and self._after(case, "", 30, since=closed_reports[0].filed_at):
                from incidents.flows import ActionItemIn

                actions.review_incident(
                    session, me, incident_id=incident.id, org=self.org, clock=self.clock,
                    text="事件由客户投诉引发，经社交媒体和本地、省级媒体传播并伴生挤兑谣言，处置后平息。",
                    went_well="系统在首条投诉后即发出预警并立案；口径按模板起草，经法律合规审核和领导审签后发布；"
                              "初报、续报按时报送。",
                    went_badly="网点对大额取现预约规定的解释不到位，引发客户不满；谣言出现后澄清口径仍需更快发布。",
                    action_items=[ActionItemIn("组织网点开展大额取现预约政策解释话术培训", "huangwei",
                                               now + timedelta(days=14)),
                                  ActionItemIn("预置挤兑谣言澄清口径模板并提前完成法律合规审核", COMMANDER,
                                               now + timedelta(days=30))])
                self._did(COMMANDER, "提交复盘", incident.id)
                case.done = True

    def _report_text(self, session, incident, name: str) -> str:
        """The report as the commander writes it: what the product shows him at this moment, nothing more."""
        from zoneinfo import ZoneInfo

        from crawlers.models import Article
        from incidents import statements as sflows
        from incidents.models import StatementStatus, TaskStatus

        count = session.scalar(select(func.count()).select_from(Article)
                               .where(Article.story_id == incident.story_id)) if incident.story_id else 0
        unit = self.org.unit(incident.unit_id).name
        local = self.clock.now().astimezone(ZoneInfo(self.tz)).strftime("%m月%d日%H:%M")
        done = [t.title for t in incident.tasks if t.status == TaskStatus.done and not t.key.startswith("phone_")]
        published = [s for s in sflows.statements_of(session, incident.id) if s.status == StatementStatus.published]
        statement = ("回应口径经法律合规审核、分行领导审签后已于" + published[0].published_where + "发布"
                     if published else "回应口径正在起草和审核中")
        return (f"【{name}】{unit}舆情事件（{incident.number}，当前{incident.level}级）\n"
                f"截至{local}，监测到相关信息{count}条。\n"
                "事件经过：客户因大额取现未预约被拒，在投诉平台及微博发文，视频转发后引起媒体关注，"
                "并出现“示例银行要倒闭”的不实传言。\n"
                f"处置情况：{statement}；已完成处置事项{len(done)}项"
                + (f"（{'；'.join(done[:6])}）" if done else "") + "。\n"
                + ("下一步：组织复盘，落实整改。" if name == "终报" else "下一步：持续监测传播态势，按时续报。"))


_TASK_NOTES = {
    "cash_readiness": "已协调现金中心向网点调拨备付现金，兑付正常",
    "pbc_report": "已电话并书面报告人民银行江城市中心支行",
    "regulator_police": "已报告江城金融监管分局，并就造谣信息向公安机关报案",
    "regulator_report": "已书面报告江城金融监管分局",
    "coordinate": "已召开处置会议，明确网点、办公室、法律合规部门职责",
    "contact_media": "已与江城晚报网、楚江网记者沟通情况",
}


def _fact(match) -> str:
    label = match.group(0).strip("【】").removeprefix("待核实").lstrip("：:")
    return FACTS.get(label, DEFAULT_FACT)


def _current_text(statement) -> str:
    for v in statement.versions:
        if v.number == statement.current_version:
            return v.text
    return ""


def _utc(value: datetime) -> datetime:
    from yuqing.clock import ensure_utc

    return ensure_utc(value)


def _task_created(session, task) -> datetime | None:
    """When a phone-call task appeared on the timeline (its ``phone_task`` event)."""
    from incidents.models import TimelineEvent
    from yuqing.clock import ensure_utc

    at = session.scalar(select(func.min(TimelineEvent.at)).where(
        TimelineEvent.incident_id == task.incident_id, TimelineEvent.kind == "phone_task"))
    return ensure_utc(at) if at is not None else None
