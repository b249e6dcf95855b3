"""``yuqing demo --respond``: the people of the scripted crisis, acting through the same actions a user would.

The commander (刘强, ``liuqiang``), the legal reviewer (钱宇, ``qianyu``), a branch leader (陈静, ``chenjing``), the
duty monitor of the branch's general office (王敏, ``wangmin``, 综合管理部值班) and the outlet's liaison (黄伟,
``huangwei``, 新华路网点负责人) each look at the product between pipeline rounds and do what the page in front of
them asks, a plausible number of simulated minutes after it became possible:

* the duty monitor triages the alerts no incident owns (acknowledges a real negative, marks a positive or neutral
  item as 误报 with the reason — she reads the post; the demo knows what she would conclude from the sim's ground
  truth; alerts naming no unit below the head office are 总行's desk, 杨帆 ``yangfan``) and does the checklist steps
  her role owns (evidence, spread, similar complaints), writing in each note what the product holds (counts, first
  source, hashes), nothing it does not;
* the outlet's liaison does the steps owned by the outlet (staffing, the facts, the complainant, the remedy, the
  complaint's closing and return visit), each after what it depends on;
* the commander does his own steps, files the reports, drafts and publishes the statement, lowers the level as the
  story fades, and closes only when the checklist is empty — a step nobody can finish is marked not applicable
  with the reason, never left open — then files 终报 and the review.

Every act goes through the entry points the dashboard, the API and the CLI share (``api.actions``,
``api.statements``, ``api.inbox``) with the person's own ``Principal`` — so roles, unit scope, statuses and
timestamps are checked exactly as they would be for a person, and a refusal is logged, never worked around.
Nothing here writes a row directly. Part of the composition root (imports every layer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import HTTPException
from sqlalchemy import func, select

log = logging.getLogger("yuqing.demo.people")

COMMANDER, LEGAL, LEADER, MONITOR, LIAISON = "liuqiang", "qianyu", "chenjing", "wangmin", "huangwei"
HQ_MONITOR = "yangfan"  # 总行办公室舆情管理岗: triages the alerts that name no unit below the head office
PLAYED = frozenset({COMMANDER, LEGAL, LEADER, MONITOR, LIAISON, HQ_MONITOR})
# Facts the commander has verified by the time he fills in the holding statement's 【待核实…】 (by label).
FACTS = {
    "客服电话": "96000（示例银行客服热线）",
    "发布前再次确认网点营业及兑付情况": "经与网点再次核实，截至发布时网点现金充足、排队秩序正常。",
    "网点当日营业及兑付情况": "当日网点现金充足，未发生客户无法取款的情况。",
    "事情经过，如大额取现需提前预约":
        "按照人民银行大额现金管理规定，单笔5万元以上取现需提前一天预约，网点已为客户办理预约",
    # what he writes into the reports to the regulator and the central bank (incidents.regulators templates)
    "事件对客户、网点经营及我行声誉的实际影响":
        "网点营业秩序正常、现金兑付正常，未出现客户聚集或挤提；涉事客户诉求正在处理，网络传播情况持续监测中",
    "下一步处置安排": "持续监测舆情走势，做好网点现金备付和客户解释工作，按时续报",
    "下一步安排": "持续监测舆情和网点客流，做好现金备付，按时续报",
    "网点客流、排队及现金兑付情况，有无聚集": "经与网点核实，网点客流正常，无排队聚集，现金兑付正常",
    "网点及分行现金备付情况": "分行已向网点调拨备付现金，网点及分行现金备付充足",
}
DEFAULT_FACT = "经核实，相关情况已与客户沟通处理。"
# Steps completed by their record (a statement's progress, a report, a leader's acknowledgement), never by hand.
BY_RECORD = {"initial_report", "leadership_notice", "legal_review", "leadership_signoff", "holding_statement",
             "publish_response", "official_clarification"}
# Steps completed by recording the report to the authority (incidents.regulators), never by a tick.
AUTHORITY_REPORTS = {"regulator_report", "pboc_report"}
# Steps that close the case's paperwork: the commander does them last, just before closing.
CLOSING_STEPS = {"archive", "report_and_archive", "complaint_statistics"}
_CHANNELS = {"social": "社交媒体", "news": "新闻", "complaint": "投诉平台", "regulator": "监管网站",
             "trending": "热搜榜单"}
# Truths (sim ground truth) a duty monitor reading the post would dismiss as not negative exposure, and why.
DISMISS_REASONS = {"bank_positive": "本行正面宣传报道", "bank_neutral": "本行服务公告或中性信息",
                   "distractor": "与本行无关（他行、同名地点或无关内容）"}


@dataclass
class _Case:
    """What the demo's people remember about one incident between rounds."""

    seen_at: datetime
    acked_at: datetime | None = None
    drafted: int | None = None  # statement id
    filled: bool = False
    last_step: dict[str, datetime] = field(default_factory=dict)
    task_seen: dict[int, datetime] = field(default_factory=dict)  # when each step was first on the page
    blocked: dict[int, str] = field(default_factory=dict)  # steps the product refused to tick by hand, and why
    lowered: bool = False
    done: bool = False


class DemoPeople:
    """Call :meth:`act` often (between rounds and while simulated time runs); each call lets every person do at
    most one thing per incident that is due."""

    def __init__(self, *, session_factory, org, policy, clock, templates_path, tz: str = "Asia/Shanghai",
                 truth_of=None):
        self.session_factory, self.org, self.policy, self.clock = session_factory, org, policy, clock
        self.templates_path, self.tz = templates_path, tz
        self.truth_of = truth_of  # url -> what a person reading it concludes (the sim's ground truth), or None
        self.cases: dict[int, _Case] = {}
        self.alert_seen: dict[int, datetime] = {}
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
            try:
                self._triage(session)
            except HTTPException as exc:
                session.rollback()
                self.refusals.append(f"{exc.status_code} {exc.detail}")
                log.warning("demo person refused", extra={"detail": exc.detail})
        for incident_id in ids:
            case = self.cases.setdefault(incident_id, _Case(seen_at=self.clock.now()))
            if case.done:
                continue
            for person in (self._leader, self._legal, self._monitor, self._liaison, self._commander):
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
        self._play_steps(session, incident_id, case, LEADER)  # a sign-off step added after she signed

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

    # --- 王敏, duty monitor (综合管理部值班): triages alerts, does the monitor's steps --------------------------------
    def _triage(self, session) -> None:
        """Alerts no incident owns, a few minutes after they appear, by the duty desk whose units they are about (the
        branch's 王敏; 总行's 杨帆 for those naming no unit below the head office): a real negative is acknowledged
        (seen and being handled), a positive, neutral or unrelated item dismissed as 误报 with the reason. One a
        look."""
        from api import actions
        from crawlers.models import Article
        from incidents.models import Alert

        desks = [self._me(session, login) for login in (MONITOR, HQ_MONITOR)]
        now = self.clock.now()
        for alert in session.scalars(select(Alert).where(Alert.status == "open", Alert.incident_id.is_(None))
                                     .order_by(Alert.id)):
            me = next((d for d in desks if d.sees_unit(alert.unit_id)), None)  # the branch's desk first
            if me is None:
                continue
            seen = self.alert_seen.setdefault(alert.id, now)
            if now < seen + timedelta(minutes=4):
                continue
            urls = list(session.scalars(select(Article.url).where(Article.story_id == alert.story_id)))
            truths = {self.truth_of(u) for u in urls} if self.truth_of else {None}
            if truths and truths <= set(DISMISS_REASONS):
                why = "、".join(DISMISS_REASONS[t] for t in sorted(truths))
                actions.dismiss_alert(session, me, alert_id=alert.id, clock=self.clock,
                                      reason=f"经人工阅读，为{why}，非负面舆情")
                self._did(me.login, f"标记误报：预警 #{alert.id}", 0)
            else:
                actions.acknowledge_alert(session, me, alert_id=alert.id, clock=self.clock)
                self._did(me.login, f"确认预警 #{alert.id}", 0)
            return

    def _monitor(self, session, incident_id: int, case: _Case) -> None:
        self._play_steps(session, incident_id, case, MONITOR)

    # --- 黄伟, the outlet's liaison (新华路网点负责人): the outlet's steps ------------------------------------------
    def _liaison(self, session, incident_id: int, case: _Case) -> None:
        self._play_steps(session, incident_id, case, LIAISON)

    def _play_steps(self, session, incident_id: int, case: _Case, login: str) -> bool:
        """Do one checklist step this person owns that is due for them: each step some minutes after it was first
        on the page (sooner when its deadline is near), after the steps it depends on, with a note that says what
        was done. Returns whether a step was done."""
        from api import actions
        from incidents.lifecycle import IncidentStatus
        from incidents.models import Incident, TaskStatus

        incident = session.get(Incident, incident_id)
        if incident.status in (IncidentStatus.open, IncidentStatus.reviewed):
            return False
        me = self._me(session, login)
        if not me.sees_unit(incident.unit_id):
            return False
        now = self.clock.now()
        for t in sorted(incident.tasks, key=lambda t: (t.due_at is None, _utc(t.due_at) if t.due_at else now, t.id)):
            if t.status != TaskStatus.todo or t.owner_id != login or t.key in CLOSING_STEPS or \
                    t.key.startswith("phone_call_"):
                continue
            if t.key in BY_RECORD:
                # normally its record completes it; a step added later (a playbook joining after the statement was
                # passed or published) finds the record already there: the owner ticks it, naming the record
                recorded = _recorded(self, session, incident, t.key)
                if recorded is None or t.key in ("initial_report", "leadership_notice"):
                    continue
                seen = case.task_seen.setdefault(t.id, now)
                if now < seen + timedelta(minutes=2):
                    continue
                actions.complete_task(session, me, task_id=t.id, note=recorded, org=self.org, clock=self.clock)
                self._did(login, f"完成任务：{t.title}（{recorded}）", incident.id)
                return True
            if t.key not in STEP_PLAYS and t.key not in AUTHORITY_REPORTS and login == LEADER:
                continue  # the leader in this demo acts on her sign-offs and acknowledgements only
            play = STEP_PLAYS.get(t.key, _DEFAULT_PLAYS.get(login, _DEFAULT_PLAYS[COMMANDER]))
            seen = case.task_seen.setdefault(t.id, now)
            if play.after and not all(_done(incident, key) for key in play.after if _has(incident, key)):
                continue
            if play.ready is not None and not play.ready(self, session, incident):
                continue
            wait = play.minutes
            if t.due_at is not None:
                wait = min(wait, max(1.0, 0.4 * (_utc(t.due_at) - seen).total_seconds() / 60))
            if play.after:
                finished = [_utc(x.done_at) for x in incident.tasks
                            if x.key in play.after and x.done_at is not None]
                seen = max([seen, *finished])
            if now < seen + timedelta(minutes=wait):
                continue
            if t.id in case.blocked:
                continue
            note = play.note(self, session, incident) if callable(play.note) else play.note
            try:
                if t.key in AUTHORITY_REPORTS:  # recorded through the report form, which completes the step
                    self._report_to_authority(session, me, incident, t.key)
                    self._did(login, f"登记{t.title}", incident.id)
                    return True
                actions.complete_task(session, me, task_id=t.id, note=note, org=self.org, clock=self.clock)
            except HTTPException as exc:  # a step done by its own record (a report form …): not ticked by hand
                session.rollback()
                case.blocked[t.id] = str(exc.detail)
                self.refusals.append(f"{exc.status_code} {exc.detail}")
                log.warning("demo person refused", extra={"incident": incident.id, "detail": exc.detail})
                continue
            self._did(login, f"完成任务：{t.title}", incident.id)
            return True
        return False

    def _report_to_authority(self, session, me, incident, kind: str) -> None:
        """报告监管部门 / 报告人民银行 through the incident's report form (``api.regulators``): the template filled
        in for this incident, its 【待核实】 parts replaced with what he has verified, sent in writing to the
        recipient configured for the branch."""
        from api import regulators as reg_forms
        from incidents import statements as sflows

        draft = reg_forms.draft(session, me, incident_id=incident.id, kind=kind, org=self.org, policy=self.policy,
                                clock=self.clock, tz=self.tz)
        phone = self.org.person(me.login).contacts.phone or "027-88880000"
        facts = {**FACTS, "联系电话": f"{phone}（{self.org.person(me.login).name}）"}
        text = sflows.PENDING.sub(lambda m: facts.get(_label(m), DEFAULT_FACT), draft.text)
        method = next((m for m in ("书面报告", "电话") if m in draft.methods), draft.methods[0] if draft.methods
                      else "书面报告")
        reg_forms.record(session, me, incident_id=incident.id, kind=kind, to=draft.to or draft.recipient_name,
                         method=method, reference="", text=text, org=self.org, policy=self.policy, clock=self.clock)

    # notes written from what the product holds
    def _evidence_note(self, session, incident) -> str:
        from crawlers.models import Article

        rows = list(session.scalars(select(Article).where(Article.story_id == incident.story_id)
                                    .order_by(func.coalesce(Article.published_at, Article.fetched_at), Article.id)))
        if not rows:
            return "系统中暂无关联原文，已截图留存"
        first = rows[0]
        where = _CHANNELS.get(first.channel, first.channel) + (f"·{first.author}" if first.author else "")
        return (f"系统已留存相关信息{len(rows)}条原文（链接、发布与抓取时间、内容SHA-256哈希）；首发：{where}"
                f"“{(first.title or '')[:30]}”（{self._local(first.published_at)}）")

    def _spread_note(self, session, incident) -> str:
        from crawlers.models import Article

        by = dict(session.execute(select(Article.channel, func.count()).where(Article.story_id == incident.story_id)
                                  .group_by(Article.channel)).all())
        parts = "、".join(f"{_CHANNELS.get(k, k)}{v}条" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
        return (f"已建立传播监测：截至{self._local(self.clock.now())}相关信息{sum(by.values())}条（{parts}）；"
                "每30分钟统计一次报应急处置负责人")

    def _similar_note(self, session, incident) -> str:
        from crawlers.models import Article
        from sentiment.models import Classification

        since = self.clock.now() - timedelta(days=30)
        rows = session.execute(select(Article.story_id, Classification.category)
                               .join(Classification, Classification.article_id == Article.id)
                               .where(Article.channel == "complaint", Article.story_id.is_not(None),
                                      func.coalesce(Article.published_at, Article.fetched_at) >= since)).all()
        others = [cat for story_id, cat in rows if story_id != incident.story_id]
        same = sum(1 for cat in others if cat == incident.category)
        return (f"已检索近30天投诉平台涉及本行的信息{len(rows)}条（本事件以外{len(others)}条）：" +
                (f"另有{same}条同类投诉，已转相关网点核查" if same else "未发现其他同类投诉"))

    def _local(self, when) -> str:
        from zoneinfo import ZoneInfo

        return _utc(when).astimezone(ZoneInfo(self.tz)).strftime("%m月%d日%H:%M") if when else "—"

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
            if self._play_steps(session, incident.id, case, COMMANDER):
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
                # he closes on an empty checklist: others' steps first; one nobody can finish is taken off the list
                # with the reason (never left open), after waiting long enough for its owner
                waiting = [t for t in incident.tasks if t.status == TaskStatus.todo and t.key not in CLOSING_STEPS]
                if waiting:
                    ready = case.last_step.setdefault("close_ready", now)
                    stuck = [t for t in waiting if (t.owner_id not in PLAYED or t.id in case.blocked)
                             and not t.key.startswith("phone_call_") and t.key not in AUTHORITY_REPORTS]
                    if stuck and now >= ready + timedelta(minutes=120):
                        t = stuck[0]
                        why = (f"未能在结案前按要求登记（{case.blocked[t.id][:80]}），转入复盘整改事项跟进"
                               if t.id in case.blocked else "结案前负责人未反馈办理情况，转入复盘整改事项跟进")
                        actions.task_not_applicable(session, me, task_id=t.id, clock=self.clock, reason=why)
                        self._did(COMMANDER, f"标记不适用：{t.title}", incident.id)
                    return
                closing = next((t for t in incident.tasks if t.key in CLOSING_STEPS and t.status == TaskStatus.todo),
                               None)
                if closing is not None:
                    actions.complete_task(session, me, task_id=closing.id, org=self.org, clock=self.clock,
                                          note=STEP_PLAYS.get(closing.key, _DEFAULT_PLAYS[COMMANDER]).note)
                    self._did(COMMANDER, f"完成任务：{closing.title}", incident.id)
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


@dataclass(frozen=True)
class StepPlay:
    """How a person does one checklist step: ``minutes`` after it is on their page (sooner near its deadline),
    only after the steps ``after`` names are done (those the checklist has), with this note (or a function of the
    people, the session and the incident that writes it from the records)."""

    minutes: float
    note: object
    after: tuple[str, ...] = ()
    ready: object = None  # a further condition on the records: (people, session, incident) -> bool


STEP_PLAYS: dict[str, StepPlay] = {
    # 刘强 (commander)
    "cash_readiness": StepPlay(10, "已协调现金中心向网点调拨备付现金，兑付正常"),
    "pboc_report": StepPlay(15, "（登记报告即完成）"),  # recorded through the report form: AUTHORITY_REPORTS
    "regulator_report": StepPlay(20, "（登记报告即完成）"),
    "police_report": StepPlay(25, "已就造谣信息向江城市公安局网安部门报案，报案回执已存档"),
    "draft_statement": StepPlay(2, "已在口径页按模板起草初步回应口径，待核实内容已核实补全并提交法律合规审核",
                                ready=lambda people, session, incident: _statement_submitted(session, incident)),
    "coordinate": StepPlay(12, "已召开处置会议，明确网点、办公室、法律合规部门职责"),
    "contact_media": StepPlay(12, "已与江城晚报网、楚江网记者沟通情况"),
    "preliminary_solution": StepPlay(20, "已成立由综合管理部、运营管理部和网点组成的工作小组；初步方案：当日为客户办理"
                                         "取款并当面致歉，网点公示大额取现预约规定"),
    "public_reply": StepPlay(10, "已在投诉平台原帖公开回复，内容与已发布口径一致", after=("holding_statement",)),
    "archive": StepPlay(0, "处置记录已归档，复盘已安排"),
    "report_and_archive": StepPlay(0, "投诉已分类统计并汇总上报，处置材料已归档"),
    "complaint_statistics": StepPlay(0, "本事件相关投诉已分类统计并汇总上报"),
    # 王敏 (duty monitor): notes from what the product holds
    "preserve_evidence": StepPlay(8, DemoPeople._evidence_note),
    "monitor_spread": StepPlay(15, DemoPeople._spread_note),
    "similar_complaints": StepPlay(40, DemoPeople._similar_note),
    # 黄伟 (the outlet's liaison)
    "staff_outlets": StepPlay(8, "已增派2名柜员和1名大堂经理，开设大额取现预约专窗，网点营业秩序正常"),
    "verify_facts": StepPlay(15, "经调阅监控和业务记录核实：客户当日申请取现5万元，因未预约按规定需次日办理，柜员解释"
                                 "不到位引发不满；网点现金充足，无客户无法取款"),
    "register_complaint": StepPlay(10, "已在投诉管理系统登记，首问责任人：黄伟（新华路网点负责人）"),
    "contact_complainant": StepPlay(20, "已电话联系投诉人刘女士及其父亲，核实身份与诉求：希望当日取款并得到解释",
                                    after=("register_complaint",)),
    "customer_remedy": StepPlay(30, "已为客户办理取款，网点负责人登门致歉，客户表示接受",
                                after=("contact_complainant",)),
    "resolve_case": StepPlay(90, "投诉已办结：客户已取到款项并接受致歉，已在投诉平台确认完成",
                             after=("contact_complainant", "customer_remedy")),
    "return_visit": StepPlay(60, "已回访投诉人，对处理结果表示满意，回访记录已存档", after=("resolve_case",)),
}
_DEFAULT_PLAYS = {COMMANDER: StepPlay(12, "已办理"), MONITOR: StepPlay(15, "已按清单要求办理，值班记录备查"),
                  LIAISON: StepPlay(15, "已按清单要求办理，并向综合管理部报告")}


def _recorded(people, session, incident, key: str) -> str | None:
    """The record that already satisfies a by-record step, as its note (None when there is none yet)."""
    from incidents import statements as sflows

    done = list(sflows.statements_of(session, incident.id))
    if key == "legal_review":
        st = next((x for x in done if x.legal_at is not None), None)
        return f"法律合规已于{people._local(st.legal_at)}审核通过口径 #{st.id}" if st else None
    if key == "leadership_signoff":
        st = next((x for x in done if x.approved_at is not None), None)
        return f"已于{people._local(st.approved_at)}审签口径 #{st.id}" if st else None
    if key in ("holding_statement", "publish_response", "official_clarification"):
        st = next((x for x in done if x.published_at is not None), None)
        return f"口径 #{st.id} 已于{people._local(st.published_at)}在{st.published_where}发布" if st else None
    return None


def _statement_submitted(session, incident) -> bool:
    from incidents import statements as sflows

    return any(st.status != "draft" for st in sflows.statements_of(session, incident.id))


def _label(match) -> str:
    return match.group(0).strip("【】").removeprefix("待核实").lstrip("：:")


def _has(incident, key: str) -> bool:
    return any(t.key == key for t in incident.tasks)


def _done(incident, key: str) -> bool:
    return all(t.status != "todo" for t in incident.tasks if t.key == key)


def _fact(match) -> str:
    return FACTS.get(_label(match), DEFAULT_FACT)


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
