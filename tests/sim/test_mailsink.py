"""The demo's mail sink is a real SMTP server: the email sender delivers to it (250), it keeps and saves the mail."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime

from incidents.models import Notification
from incidents.notify import SmtpSender, with_email_relay
from incidents.policy import load_policy
from sim.mailsink import MailSink
from yuqing.org import load_org
from yuqing.settings import PROJECT_ROOT


def test_the_sink_accepts_real_smtp_and_keeps_the_mail(tmp_path):
    org = load_org(PROJECT_ROOT / "config" / "org.yaml")
    policy = load_policy(PROJECT_ROOT / "config" / "levels.yaml", PROJECT_ROOT / "config" / "checklists")
    assert not policy.channels.channels.email.enabled  # off in the shipped config
    sink = MailSink(directory=tmp_path / "mail").start()
    try:
        demo = with_email_relay(policy, sink.host, sink.port)
        assert demo.channels.channels.email.enabled and demo.channels.channels.email.smtp_port == sink.port
        assert demo.channels.person_channels(has_email=True) == ["in_app", "email"]
        sender = SmtpSender.from_config(demo.channels.channels.email)
        n = Notification(id=7, subject="【舆情预警·III级（较大）】新华路网点", body="正文：测试",
                         created_at=datetime.now(UTC))
        assert asyncio.run(sender.send(n, org.person("chenjing"))) == "SMTP 250"
        (mail,) = sink.messages
        assert mail.recipients == ("chenjing@jc.shili-bank.example",) and "新华路网点" in mail.subject
        saved = email.message_from_bytes((tmp_path / "mail" / "00001.eml").read_bytes(), policy=email.policy.default)
        assert saved.get_content().strip() == "正文：测试"
    finally:
        sink.stop()
