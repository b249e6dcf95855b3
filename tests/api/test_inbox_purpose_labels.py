"""Every outbox purpose the product writes has a Chinese name in 消息 and 发送记录 (no raw code words)."""

from __future__ import annotations

from api.admin_channels import TEST_PURPOSE
from api.inbox import PURPOSE_LABELS
from incidents.briefings.delivery import PURPOSE_LABELS as REPORT_PURPOSE_LABELS
from incidents.complaints import scheduled as complaint_jobs
from incidents.scheduled import PURPOSE_LABELS as SCHEDULED_PURPOSE_LABELS
from incidents.source_alerts import SOURCE_HEALTH


def test_every_purpose_written_has_a_chinese_name():
    written = {"alert", "escalation", "incident_opened", "level_changed", "resurgence", TEST_PURPOSE, SOURCE_HEALTH,
               complaint_jobs.REMINDER, complaint_jobs.OVERDUE, complaint_jobs.FOLLOW_UP, complaint_jobs.LEADERSHIP,
               *SCHEDULED_PURPOSE_LABELS, *REPORT_PURPOSE_LABELS}
    missing = sorted(p for p in written if p not in PURPOSE_LABELS)
    assert missing == []
    assert PURPOSE_LABELS[TEST_PURPOSE] == "渠道测试"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in PURPOSE_LABELS[p]) for p in written)
