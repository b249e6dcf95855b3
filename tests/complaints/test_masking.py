"""Customer details masked by default: the masking rules, who may reveal them (per role, from the config), and the
audit entry every unmasked view writes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from incidents.complaints.config import ComplaintsConfig, load_complaints_config
from incidents.complaints.flows import ComplaintInput, create_complaint
from incidents.complaints.masking import can_reveal, mask_account, mask_name, mask_phone, reveal_audited
from incidents.complaints.queries import complaint_view
from incidents.workdays import calendar_for
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.models import AuditEntry
from yuqing.org import Role
from yuqing.settings import PROJECT_ROOT

SH = ZoneInfo("Asia/Shanghai")
CFG = load_complaints_config(PROJECT_ROOT / "config" / "complaints.yaml")


@pytest.mark.parametrize(("name", "masked"), [("张三丰", "张**"), ("李四", "李*"), ("王", "王*"), ("  ", ""),
                                              ("欧阳娜娜", "欧***")])
def test_a_name_keeps_its_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [("13800000000", "138****0000"), ("+86 138-1234-5678", "138****5678"),
                                               ("027-88886666", "027****6666"), ("12345", "*****"), ("", "")])
def test_a_phone_keeps_its_first_three_and_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(("account", "masked"), [
    ("6222021100005678", "****5678"),
    ("卡号 6222 0211 0000 5678，如意宝理财2号", "卡号 ****5678，如意宝理财2号"),
    ("如意宝理财 2026 号", "如意宝理财 2026 号"),
    ("", ""),
])
def test_an_account_keeps_its_last_four_digits_and_a_product_stays_readable(account, masked):
    assert mask_account(account) == masked


@pytest.mark.parametrize(("roles", "allowed"), [
    ([Role.commander], True), ([Role.leader], True), (["admin"], True), ([Role.monitor], False),
    ([Role.liaison], False), ([Role.legal], False), ([], False), (["monitor", "leader"], True),
])
def test_who_may_reveal_follows_the_configured_roles(roles, allowed):
    assert can_reveal(roles, CFG) is allowed
    assert can_reveal(["legal"], ComplaintsConfig(full_details_roles=[Role.legal])) is True


def test_the_view_is_masked_unless_revealed_and_each_reveal_is_audited(sqlite_engine, org):
    clock = FrozenClock(datetime(2026, 9, 30, 10, 30, tzinfo=SH))
    cal = calendar_for(PROJECT_ROOT / "config" / "holidays.yaml")
    with make_sessionmaker(sqlite_engine)() as session:
        c, _ = create_complaint(session, ComplaintInput(
            channel="letter", received_at=datetime(2026, 9, 30, 10, 0, tzinfo=SH), unit_id="renminguangchang",
            category="product_mis_selling", severity="重要", description="理财经理夸大收益",
            customer_name="赵六", customer_phone="13912345678", account_or_product="6217 0000 1111 2222 如意宝"),
            actor="zhoufang", org=org, cfg=CFG, clock=clock, tz=SH)
        session.commit()
        masked = complaint_view(c, cfg=CFG, tz=SH, calendar=cal, now=clock.now(), reveal=False, org=org)
        assert masked["customer"] == {"name": "赵*", "phone": "139****5678", "account": "****2222 如意宝"}
        assert masked["customer_revealed"] is False
        assert "13912345678" not in str(masked) and "赵六" not in str(masked)
        assert masked["unit_name"] == "人民广场网点" and masked["first_contact_owner"]["id"] == "zhoufang"
        assert masked["deadlines"]["resolve"] == "2026-10-13T10:00:00+08:00"
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.reveal")).all() == []

        reveal_audited(session, c, actor="liuqiang", clock=clock, via="test")
        session.commit()
        full = complaint_view(c, cfg=CFG, tz=SH, calendar=cal, now=clock.now(), reveal=True, org=org)
        assert full["customer"] == {"name": "赵六", "phone": "13912345678", "account": "6217 0000 1111 2222 如意宝"}
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.reveal")).all()
        assert (entry.actor, entry.object_type, entry.object_id) == ("liuqiang", "complaint", str(c.id))
        assert entry.at is not None and c.number in entry.detail
