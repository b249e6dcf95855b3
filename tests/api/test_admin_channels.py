"""通知渠道: the status page and 发送测试消息 through each channel's real sender — a signed webhook and a DingTalk
robot answered by a local receiver that checks signatures as the platforms do, mail through a local SMTP server —
recorded honestly in the outbox (sent with the channel's confirmation, failed with the error, never read) and
audited; admins only."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import select

from incidents.models import Notification
from yuqing import config_store
from yuqing.models import AuditEntry
from yuqing.settings import PROJECT_ROOT


def _load_receiver():
    path = Path(__file__).resolve().parents[1] / "incidents" / "receiver.py"
    spec = importlib.util.spec_from_file_location("yuqing_test_channel_receiver", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


receiver_module = _load_receiver()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def receiver() -> Iterator:
    with receiver_module.running_receiver() as r:
        yield r


@pytest.fixture
def channels_on(session, clock, receiver, smtp, monkeypatch) -> None:
    """channels.yaml in force (a database document) with mail, a DingTalk robot and the signed webhook on."""
    data = yaml.safe_load((PROJECT_ROOT / "config" / "channels.yaml").read_text(encoding="utf-8"))
    c = data["channels"]
    c["email"].update(enabled=True, smtp_port=smtp[0])
    c["dingtalk"]["enabled"] = True
    c["webhook"].update(enabled=True, url=f"{receiver.base}/webhook")
    config_store.save_document(session, "channels.yaml", yaml.safe_dump(data, allow_unicode=True), actor="admin",
                               clock=clock)
    session.commit()
    secrets = receiver_module.SECRETS
    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", secrets["webhook"])
    monkeypatch.setenv("YUQING_DINGTALK_WEBHOOK_URL", f"{receiver.base}/dingtalk/robot/send?access_token=ding-token")
    monkeypatch.setenv("YUQING_DINGTALK_SECRET", secrets["dingtalk"])
    monkeypatch.delenv("YUQING_SMTP_PASSWORD", raising=False)


def test_test_messages_go_through_the_real_senders(client, token_for, session, receiver, smtp, channels_on,
                                                   users):
    admin = token_for("admin")
    r = client.post("/api/v1/channels/webhook/test", json={"note": "季度演练"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    (hook,) = receiver.of("webhook")
    assert hook.verdict == "ok" and hook.json["recipient"]["id"] == "admin" and "季度演练" in hook.json["text"]

    r = client.post("/api/v1/channels/dingtalk/test", json={"person_id": "chenjing"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    (robot,) = receiver.of("dingtalk")
    assert robot.verdict == "ok"

    r = client.post("/api/v1/channels/email/test", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "sent", r.text
    (mail,) = smtp[1].messages
    assert b"it@jc.shili-bank.example" in mail

    session.rollback()
    rows = session.scalars(select(Notification).where(Notification.purpose == "channel_test")
                           .order_by(Notification.id)).all()
    assert [(n.channel, n.recipient_id, n.status) for n in rows] == [
        ("webhook", "admin", "sent"), ("dingtalk", "chenjing", "sent"), ("email", "admin", "sent")]
    assert all(n.read_at is None and n.sent_at is not None and n.next_attempt_at is None for n in rows)
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "channel.test")
                             .order_by(AuditEntry.id)).all()
    assert [(a.object_id, a.data["status"]) for a in audits] == [("webhook", "sent"), ("dingtalk", "sent"),
                                                                  ("email", "sent")]


def test_a_failing_channel_is_recorded_as_failed_with_its_error(client, token_for, session, receiver, channels_on,
                                                                users, login_as):
    receiver.fail_next("webhook", receiver_module.Script(status=500, body={"error": "down"}))
    r = client.post("/api/v1/channels/webhook/test", headers=token_for("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and "500" in r.json()["error"]
    session.rollback()
    row = session.scalars(select(Notification).where(Notification.purpose == "channel_test")).one()
    assert row.status == "failed" and "500" in row.last_error and row.next_attempt_at is None
    page = login_as("admin").get("/admin/channels")
    assert page.status_code == 200
    assert "YUQING_WEBHOOK_SECRET：<span class=\"ok\">已设置</span>" in page.text
    assert "发送失败" in page.text


def test_the_page_sends_an_in_app_test_and_refuses_others(login_as, csrf_of, session, client, token_for, users):
    admin = login_as("admin")
    page = admin.get("/admin/channels")
    assert page.status_code == 200 and "YUQING_SMTP_PASSWORD" in page.text
    r = admin.post("/admin/channels/in_app/test", data={"csrf_token": csrf_of(page.text), "person_id": "wangmin"})
    assert r.status_code == 303
    shown = admin.get(r.headers["location"])
    assert "已发送" in shown.text
    session.rollback()
    row = session.scalars(select(Notification).where(Notification.purpose == "channel_test")).one()
    assert (row.channel, row.recipient_id, row.status) == ("in_app", "wangmin", "sent")
    assert client.post("/api/v1/channels/email/test", headers=token_for("admin")).status_code == 409  # email off
    assert client.post("/api/v1/channels/phone/test", headers=token_for("admin")).status_code == 409
    assert client.post("/api/v1/channels/in_app/test", headers=token_for("wangmin")).status_code == 403
    r = admin.post("/admin/channels/in_app/test", data={"csrf_token": "forged", "person_id": "wangmin"})
    assert r.status_code == 403
