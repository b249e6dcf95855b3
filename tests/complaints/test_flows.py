"""Complaint intake and handling steps on a real database: every step and every refusal, idempotency (also on
PostgreSQL), the 首问 owner, the keyed customer_key, attachments, numbers, and the audit entry of each change."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from incidents.complaints import flows
from incidents.complaints.clocks import as_local_iso, clocks
from incidents.complaints.config import load_complaints_config
from incidents.complaints.flows import AttachmentInput, ComplaintError, ComplaintInput, create_complaint
from incidents.complaints.models import Complaint, ComplaintAttachment, ComplaintEvent
from incidents.workdays import calendar_for
from yuqing import audit_chain
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.models import AuditEntry, DeploymentFact
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")
CFG = load_complaints_config(PROJECT_ROOT / "config" / "complaints.yaml")
CAL = calendar_for(PROJECT_ROOT / "config" / "holidays.yaml")
RECEIVED = datetime(2026, 9, 30, 10, 0, tzinfo=SH)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(RECEIVED + timedelta(minutes=30))


@pytest.fixture
def session(sqlite_engine):
    with make_sessionmaker(sqlite_engine)() as s:
        yield s


def data(**kw) -> ComplaintInput:
    base = {"channel": "hotline", "received_at": RECEIVED, "unit_id": "xinhualu", "category": "opaque_fees",
            "severity": "一般", "description": "账户管理费没有事先告知", "customer_name": "李四",
            "customer_phone": "139 0000 1234", "account_or_product": "6222 0211 0000 5678"}
    return ComplaintInput(**(base | kw))


def create(session, org, clock, *, actor="cli", attachments=(), **kw):
    c, created = create_complaint(session, data(**kw), actor=actor, org=org, cfg=CFG, clock=clock, tz=SH,
                                  attachments=attachments)
    session.commit()
    return c, created


def counts(session) -> tuple[int, int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in
                 (Complaint, ComplaintEvent, ComplaintAttachment, AuditEntry))


def actions(session, complaint_id: int) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "complaint",
                                                                AuditEntry.object_id == str(complaint_id))
                                .order_by(AuditEntry.id)))


# --- intake ----------------------------------------------------------------------------------------------------
def test_create_and_idempotency_on_both_databases(db_engine, org, clock):
    """Runs on SQLite and (marked postgres) PostgreSQL: the record, its event and audit entry, and a resubmission."""
    factory = make_sessionmaker(db_engine)
    with factory() as session:
        c, created = create(session, org, clock, idempotency_key="crm-2026-0001", source_system="crm")
        assert created and c.number == "TS-20260930-001" and c.status == "received"
        assert c.entered_by == "cli" and c.source_system == "crm" and c.reply_limit_days == 15
        assert [e.kind for e in c.events] == ["received"]
        assert "客服热线受理" in c.events[0].text and c.events[0].data["channel"] == "hotline"
        assert actions(session, c.id) == ["complaint.create"]
    with factory() as session:
        again, created = create(session, org, clock, idempotency_key="crm-2026-0001", source_system="crm")
        assert (again.id, created) == (c.id, False)
        with pytest.raises(ComplaintError) as exc:
            create(session, org, clock, idempotency_key="crm-2026-0001", source_system="crm",
                   description="另一件事")
        assert exc.value.field == "idempotency_key" and "幂等键" in exc.value.zh
        session.rollback()
        other, created = create(session, org, clock, idempotency_key="crm-2026-0002")
        assert created and other.number == "TS-20260930-002"
        assert session.scalar(select(func.count()).select_from(Complaint)) == 2
        assert audit_chain.verify(session.connection()).problem is None


@pytest.mark.parametrize(("kw", "field", "zh"), [
    ({"unit_id": "moon-branch"}, "unit_id", "机构不存在"),
    ({"handling_unit_id": "moon-branch"}, "handling_unit_id", "处理机构不存在"),
    ({"category": "weather"}, "category", "投诉类别无效"),
    ({"channel": "pigeon"}, "channel", "受理渠道无效"),
    ({"severity": "critical"}, "severity", "投诉等级无效"),
    ({"received_at": datetime(2026, 9, 30, 10, 0)}, "received_at", "必须带时区"),
    ({"received_at": RECEIVED + timedelta(minutes=36)}, "received_at", "不能晚于当前时间"),
    ({"description": " \n\t "}, "description", "投诉内容不能为空"),
    ({"first_contact_owner_id": "nobody"}, "first_contact_owner_id", "首问责任人不存在"),
])
def test_each_refusal_names_its_field_in_both_languages_and_saves_nothing(session, org, clock, kw, field, zh):
    with pytest.raises(ComplaintError) as exc:
        create(session, org, clock, **kw)
    assert exc.value.field == field and zh in exc.value.zh and exc.value.en
    session.rollback()
    assert counts(session) == (0, 0, 0, 0)


def test_small_clock_skew_and_late_entry_are_accepted(session, org, clock):
    ahead, _ = create(session, org, clock, received_at=clock.now() + timedelta(minutes=4))
    assert ahead.received_at is not None
    months_ago, _ = create(session, org, clock, received_at=RECEIVED - timedelta(days=60))
    # entered 60 days late: recorded, and the entry clock says so
    entry = clocks(months_ago, CFG, tz=SH, calendar=CAL)[0]
    assert entry.key == "entry" and entry.state(clock.now()) == "late"
    assert months_ago.number == "TS-20260801-001"
    assert "受理于 2026-08-01 10:00" in months_ago.events[0].text


def test_a_ten_megabyte_attachment_is_refused_with_nothing_saved(session, org, clock):
    scan = AttachmentInput("信件.jpg", "image/jpeg", b"\xff\xd8" + b"1" * 100)
    big = AttachmentInput("通话录音.mp3", "audio/mpeg", b"\0" * (10 * 1024 * 1024))
    with pytest.raises(ComplaintError) as exc:
        create(session, org, clock, attachments=[scan, big])
    assert exc.value.field == "attachments" and "附件过大" in exc.value.zh and "10.0 MB" in exc.value.zh
    session.rollback()
    assert counts(session) == (0, 0, 0, 0)
    c, _ = create(session, org, clock, attachments=[scan])
    [att] = c.attachments
    assert att.sha256 == hashlib.sha256(scan.data).hexdigest() and att.data == scan.data and att.size == 102
    # added later too, and a later 10 MB one is refused the same way
    flows.add_attachment(session, c.id, actor="huangwei", clock=clock,
                         attachment=AttachmentInput("录音.m4a", "audio/mp4", b"voice"), cfg=CFG)
    session.commit()
    with pytest.raises(ComplaintError):
        flows.add_attachment(session, c.id, actor="huangwei", clock=clock, attachment=big, cfg=CFG)
    session.rollback()
    assert len(session.get(Complaint, c.id).attachments) == 2
    assert actions(session, c.id) == ["complaint.create", "complaint.attachment"]


def test_numbers_count_per_local_day_of_receipt(session, org, clock):
    a, _ = create(session, org, clock)
    # 2026-09-29 23:30 +08:00 is 15:30 UTC on the 29th; 2026-09-29T17:00Z is already the 30th in Shanghai
    b, _ = create(session, org, clock, received_at=datetime(2026, 9, 29, 23, 30, tzinfo=SH))
    c, _ = create(session, org, clock, received_at=datetime(2026, 9, 29, 17, 0, tzinfo=ZoneInfo("UTC")))
    assert (a.number, b.number, c.number) == ("TS-20260930-001", "TS-20260929-001", "TS-20260930-002")


def test_a_number_taken_concurrently_is_retried(session, org, clock, monkeypatch):
    create(session, org, clock)
    fresh, calls = flows._next_number, []

    def stale_once(s, day):
        # a writer that read the numbers before the first insert committed proposes 001 again, then reads afresh
        calls.append(day)
        return f"TS-{day}-001" if len(calls) == 1 else fresh(s, day)

    monkeypatch.setattr(flows, "_next_number", stale_once)
    c, created = create(session, org, clock)
    assert created and c.number == "TS-20260930-002"


def test_first_contact_owner_and_customer_key(session, org, clock):
    by_person, _ = create(session, org, clock, actor="huangwei")
    by_script, _ = create(session, org, clock, actor="cli")
    by_head_office, _ = create(session, org, clock, actor="crm", unit_id="head-office")
    given, _ = create(session, org, clock, first_contact_owner_id="zhoufang")
    assert by_person.first_contact_owner_id == "huangwei"  # the outlet's own person entered it
    assert by_script.first_contact_owner_id == "wangmin"  # the branch's duty monitor, up the chain
    assert by_head_office.first_contact_owner_id == "yangfan"
    assert given.first_contact_owner_id == "zhoufang"
    # the same phone however written, keyed with the deployment's secret, never a plain hash of the number
    same, _ = create(session, org, clock, customer_phone="13900001234", customer_name="李先生")
    assert same.customer_key == by_person.customer_key
    assert by_person.customer_key not in {hashlib.sha256(b"13900001234").hexdigest(),
                                          hashlib.sha256(b"phone:13900001234").hexdigest()}
    by_name, _ = create(session, org, clock, customer_phone="", customer_name="  王五 ")
    by_name_again, _ = create(session, org, clock, customer_phone="", customer_name="王五")
    assert by_name.customer_key == by_name_again.customer_key != same.customer_key
    anonymous, _ = create(session, org, clock, customer_phone="", customer_name="")
    assert anonymous.customer_key is None
    assert len(session.get(DeploymentFact, flows.SECRET_FACT).value) == 64


# --- the steps -------------------------------------------------------------------------------------------------
def step(clock, fn, session, c, **kw):
    clock.advance(timedelta(minutes=20))
    return fn(session, c.id, actor="huangwei", clock=clock, **kw)


def test_the_whole_path_with_every_step_audited(session, org, clock):
    c, _ = create(session, org, clock, severity="重要")
    with pytest.raises(ComplaintError, match="cannot be closed"):
        step(clock, flows.close, session, c, note="结")
    with pytest.raises(ComplaintError, match="not closed"):
        step(clock, flows.return_visit, session, c, satisfaction="满意")
    with pytest.raises(ComplaintError, match="no solution awaits"):
        step(clock, flows.record_acceptance, session, c, accepted=True)
    step(clock, flows.acknowledge, session, c, how="书面")
    assert c.acknowledged_at is not None and c.contacted_at is None  # a letter is not a contact
    with pytest.raises(ComplaintError, match="already acknowledged"):
        step(clock, flows.acknowledge, session, c, how="电话")
    step(clock, flows.record_contact, session, c, how="电话", note="客户同意等候核实")
    first_contact = c.contacted_at
    step(clock, flows.record_contact, session, c, how="当面")
    assert c.contacted_at == first_contact and c.status == "handling"
    step(clock, flows.verify, session, c, note="调取监控")
    with pytest.raises(ComplaintError):
        step(clock, flows.verify, session, c)
    with pytest.raises(ComplaintError) as exc:
        step(clock, flows.assign, session, c, assignee_id="ghost", org=org)
    assert exc.value.field == "assignee_id"
    step(clock, flows.assign, session, c, assignee_id="zhoufang", org=org)
    step(clock, flows.hand_over, session, c, owner_id="huangwei", reason="网点负责人接手", org=org)
    with pytest.raises(ComplaintError):
        step(clock, flows.hand_over, session, c, owner_id="huangwei", reason="  ", org=org)
    with pytest.raises(ComplaintError):
        step(clock, flows.propose_solution, session, c, text="")
    step(clock, flows.propose_solution, session, c, text="退还管理费 30 元")
    assert c.status == "proposed" and c.proposed_at is not None
    step(clock, flows.record_acceptance, session, c, accepted=False, note="要求赔偿")
    with pytest.raises(ComplaintError, match="cannot be closed"):
        step(clock, flows.close, session, c, note="结")
    with pytest.raises(ComplaintError):
        step(clock, flows.record_mediation, session, c, kind="lawsuit", note="x")
    step(clock, flows.record_mediation, session, c, kind="mediation", note="银行业纠纷调解中心调解")
    assert c.status == "mediation" and c.mediation.startswith("调解")
    with pytest.raises(ComplaintError):
        step(clock, flows.close, session, c, note="")
    step(clock, flows.close, session, c, note="调解达成一致，退费并致歉")
    assert c.status == "closed" and c.resolved_at is not None and c.closed_by == "huangwei"
    with pytest.raises(ComplaintError):
        step(clock, flows.propose_solution, session, c, text="再提")
    step(clock, flows.return_visit, session, c, satisfaction="基本满意")
    assert c.status == "visited" and c.satisfaction == "basically_satisfied"
    for fn, kw in [(flows.record_contact, {}), (flows.acknowledge, {"how": "电话"}), (flows.verify, {}),
                   (flows.assign, {"assignee_id": "zhoufang"}), (flows.close, {"note": "再结"}),
                   (flows.record_mediation, {"kind": "mediation", "note": "x"}),
                   (flows.hand_over, {"owner_id": "zhoufang", "reason": "调岗"}),
                   (flows.new_facts, {"note": "新情况"}), (flows.record_acceptance, {"accepted": True})]:
        with pytest.raises(ComplaintError) as refused:
            step(clock, fn, session, c, **kw)
        assert refused.value.code == "invalid_state", fn.__name__
    session.commit()
    assert [e.kind for e in c.events] == [
        "received", "acknowledged", "contacted", "contacted", "verified", "assigned", "handed_over", "proposed",
        "refused", "mediation", "closed", "return_visit"]
    assert actions(session, c.id) == ["complaint.create"] + [f"complaint.{k}" for k in (
        "acknowledged", "contacted", "contacted", "verified", "assigned", "handed_over", "proposed", "refused",
        "mediation", "closed", "return_visit")]
    assert c.first_contact_owner_id == "huangwei" and c.assignee_id == "zhoufang"


def test_acknowledging_by_phone_counts_as_first_contact(session, org, clock):
    c, _ = create(session, org, clock)
    step(clock, flows.acknowledge, session, c, how="phone")
    assert c.contacted_at == c.acknowledged_at
    assert c.events[-1].data == {"how": "phone", "counts_as_contact": True, "note": ""}
    with pytest.raises(ComplaintError) as exc:
        step(clock, flows.acknowledge, session, create(session, org, clock)[0], how="飞鸽")
    assert exc.value.field == "how"


def test_dissatisfied_return_visit_reopens(session, org, clock):
    c, _ = create(session, org, clock)
    step(clock, flows.propose_solution, session, c, text="致歉")
    step(clock, flows.record_acceptance, session, c, accepted=True)
    step(clock, flows.close, session, c, note="办结")
    step(clock, flows.return_visit, session, c, satisfaction="不满意", note="仍认为收费不合理")
    assert (c.status, c.reopened_count, c.satisfaction, c.resolved_at) == ("handling", 1, "dissatisfied", None)
    assert [e.kind for e in c.events][-2:] == ["return_visit", "reopened"]
    assert "重新打开" in c.events[-1].text
    # handled again, closed again, visited again
    step(clock, flows.propose_solution, session, c, text="全额退费")
    step(clock, flows.close, session, c, note="退费完成")
    step(clock, flows.return_visit, session, c, satisfaction="satisfied")
    assert (c.status, c.reopened_count) == ("visited", 1)
    with pytest.raises(ComplaintError):
        step(clock, flows.return_visit, session, c, satisfaction="很好")


def test_urgent_preliminary_solution_then_follow_up(session, org, clock):
    c, _ = create(session, org, clock, severity="紧急")
    step(clock, flows.propose_solution, session, c, text="先行冻结争议扣款", preliminary=True)
    assert c.preliminary_at is not None and c.proposed_at is None and c.status == "handling"
    resolve = clocks(c, CFG, tz=SH, calendar=CAL)[2]
    assert (resolve.label, resolve.state(clock.now())) == ("初步解决方案", "met")
    step(clock, flows.propose_solution, session, c, text="退还扣款并致歉")
    assert c.status == "proposed" and c.proposed_at is not None


def test_reply_extension_only_to_the_next_limit_with_a_reason(session, org, clock):
    c, _ = create(session, org, clock)
    for days, reason in [(60, "情况复杂"), (30, ""), (45, "x")]:
        with pytest.raises(ComplaintError):
            step(clock, flows.extend_reply, session, c, days=days, reason=reason, cfg=CFG)
    step(clock, flows.extend_reply, session, c, days=30, reason="需调取上级行系统日志", cfg=CFG)
    step(clock, flows.extend_reply, session, c, days=60, reason="涉及第三方机构", cfg=CFG)
    with pytest.raises(ComplaintError) as exc:
        step(clock, flows.extend_reply, session, c, days=90, reason="还要更久", cfg=CFG)
    assert "最长" in exc.value.zh
    reply = clocks(c, CFG, tz=SH, calendar=CAL)[3]
    assert as_local_iso(reply.due, SH) == "2026-11-29T10:00:00+08:00"
    step(clock, flows.propose_solution, session, c, text="答复")
    with pytest.raises(ComplaintError, match="already answered"):
        step(clock, flows.extend_reply, session, c, days=90, reason="x", cfg=CFG)


def test_new_facts_restart_the_reply_clock(session, org, clock):
    c, _ = create(session, org, clock)
    step(clock, flows.extend_reply, session, c, days=30, reason="复杂", cfg=CFG)
    step(clock, flows.propose_solution, session, c, text="按合同收费，不予退还")
    clock.set(datetime(2026, 10, 9, 14, 30, tzinfo=SH))
    flows.new_facts(session, c.id, actor="huangwei", clock=clock, note="客户提供了当时的宣传单", cfg=CFG)
    assert (c.status, c.proposed_at, c.reply_limit_days) == ("handling", None, 15)
    reply = clocks(c, CFG, tz=SH, calendar=CAL)[3]
    assert as_local_iso(reply.due, SH) == "2026-10-24T14:30:00+08:00" and reply.state(clock.now()) == "running"
    assert c.events[-1].kind == "new_facts" and c.events[-1].data["previous"]["reply_limit_days"] == 30
    with pytest.raises(ComplaintError):
        flows.new_facts(session, c.id, actor="huangwei", clock=clock, note="", cfg=CFG)


def test_steps_on_an_unknown_complaint(session, clock):
    with pytest.raises(flows.ComplaintNotFound) as exc:
        flows.verify(session, 999, actor="x", clock=clock)
    assert exc.value.code == "not_found" and "999" in exc.value.zh


@pytest.mark.postgres
def test_concurrent_resubmissions_under_one_key_make_one_complaint(postgres_engine, org, clock):
    """A ticket system retrying while the first request is still in its transaction: the second waits on the unique
    index, then finds the first one's record and returns it instead of failing or storing a twin."""
    factory = make_sessionmaker(postgres_engine)
    with factory() as s:
        create(s, org, clock)  # the deployment secret and number 001 exist already
    first = factory()
    c, created = create_complaint(first, data(idempotency_key="crm-race"), actor="crm", org=org, cfg=CFG,
                                  clock=clock, tz=SH)
    assert created and c.number == "TS-20260930-002"
    outcome: dict = {}

    def resubmit() -> None:
        with factory() as second:
            try:
                again, made = create_complaint(second, data(idempotency_key="crm-race"), actor="crm", org=org,
                                               cfg=CFG, clock=clock, tz=SH)
                second.commit()
                outcome["result"] = (again.id, made)
            except Exception as exc:  # reported through the assertion below
                outcome["error"] = exc

    worker = threading.Thread(target=resubmit)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # blocked on the first transaction's uncommitted row
    first.commit()
    worker.join(15)
    first.close()
    assert outcome == {"result": (c.id, False)}
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 2


def test_a_complaint_from_a_crawled_post_names_a_stored_post_once(session, org, clock):
    from crawlers.models import Article

    url = "https://tousu.example/p/1"
    post = Article(source_id="board", channel="complaint_board", url=url, url_hash=hashlib.sha256(url.encode())
                   .hexdigest(), title="新华路网点乱收费", text="新华路网点乱收费", fetched_at=clock.now(),
                   content_hash=hashlib.sha256(b"post").hexdigest(), stage="scored")
    session.add(post)
    session.commit()
    with pytest.raises(ComplaintError) as exc:
        create(session, org, clock, channel="web_post", article_id=post.id + 1)
    assert exc.value.field == "article_id" and "帖子不存在" in exc.value.zh
    session.rollback()
    c, _ = create(session, org, clock, channel="web_post", article_id=post.id, actor="system")
    assert c.article_id == post.id and c.first_contact_owner_id == "wangmin"
    with pytest.raises(ComplaintError) as exc:
        create(session, org, clock, channel="web_post", article_id=post.id, description="同一帖子再登记")
    assert exc.value.code == "conflict" and c.number in exc.value.zh
