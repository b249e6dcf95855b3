"""Delivering the outbox: in-app, retries with backoff, visible failure, and real SMTP (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from incidents import service
from incidents.models import Incident, Notification
from incidents.notify import InAppSender, SmtpSender, default_senders, deliver_pending
from incidents.policy import ChannelsFile, RetryPolicy
from sim.mailsink import MailSink


def deliver(session, **kw):
    return asyncio.run(deliver_pending(session, **kw))


def email_policy(policy):
    channels = ChannelsFile.model_validate({"channels": {"email": {"enabled": True, "smtp_host": "127.0.0.1",
                                                                    "smtp_port": 2525}}})
    return policy.model_copy(update={"channels": channels})


class FailingSender:
    def __init__(self):
        self.calls = 0

    async def send(self, notification, person):
        self.calls += 1
        raise ConnectionRefusedError("relay down")


@pytest.fixture
def smtp_server() -> Iterator[MailSink]:
    """A real SMTP server on 127.0.0.1 (the demo's mail sink) that keeps what it receives."""
    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()


def test_in_app_delivery_marks_sent_and_logs_on_the_timeline(session, org, policy, clock, make_story, make_risk):
    out = service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="II", score=80),
                                    org=org, policy=policy, clock=clock)
    report = deliver(session, clock=clock, senders=default_senders(policy), org=org)
    rows = list(session.scalars(select(Notification)))
    assert report.sent == len(rows) > 0 and report.failed == 0
    assert {n.status for n in rows} == {"sent"} and all(n.sent_at == clock.now() for n in rows)
    incident = session.get(Incident, out.incident_id)
    notified = [e for e in incident.events if e.kind == "notified"]
    # Level II: the outlet's liaison, its sub-branch's office, the commander and the 分管 leader (not the 行长).
    assert {e.data["recipient"] for e in notified} >= {"huangwei", "zhoufang", "liuqiang", "chenjing"}
    assert "sunhua" not in {e.data["recipient"] for e in notified}
    assert all("待阅读" in e.text for e in notified)  # stored in the inbox: nobody has read it yet
    assert not [e for e in incident.events if e.kind == "report"]  # a stored message is not "leadership told"
    assert deliver(session, clock=clock, senders=default_senders(policy), org=org).sent == 0


def test_failing_sender_retries_with_backoff_then_fails_visibly(session, org, policy, clock, make_story, make_risk):
    pol = email_policy(policy)
    out = service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="III"),
                                    org=org, policy=pol, clock=clock)
    emails = list(session.scalars(select(Notification).where(Notification.channel == "email")))
    assert {n.recipient_id for n in emails} == {"wangmin", "zhaolei", "liuqiang", "huangwei", "zhoufang"}
    failing = FailingSender()
    senders = {"in_app": InAppSender(), "email": failing}
    retry = RetryPolicy(max_attempts=3, backoff_seconds=[60, 300], breaker_failures=100)  # backoff, not the breaker

    r1 = deliver(session, clock=clock, senders=senders, org=org, retry=retry)
    assert (r1.sent, r1.retrying, r1.failed) == (7, 7, 0)  # alerts to the duty desk, and the level III chain
    target = emails[0]
    assert target.status == "pending" and target.attempts == 1
    assert target.next_attempt_at == clock.now() + timedelta(seconds=60)
    assert "relay down" in target.last_error

    assert deliver(session, clock=clock, senders=senders, org=org, retry=retry).retrying == 0  # not due
    clock.advance(59)
    assert deliver(session, clock=clock, senders=senders, org=org, retry=retry).retrying == 0
    clock.advance(1)
    assert deliver(session, clock=clock, senders=senders, org=org, retry=retry).retrying == 7
    assert target.attempts == 2 and target.next_attempt_at == clock.now() + timedelta(seconds=300)
    clock.advance(300)
    r3 = deliver(session, clock=clock, senders=senders, org=org, retry=retry)
    assert (r3.retrying, r3.failed) == (0, 7)
    assert target.status == "failed" and target.attempts == 3 and target.next_attempt_at is None
    assert failing.calls == 21
    clock.advance(timedelta(hours=1))
    assert deliver(session, clock=clock, senders=senders, org=org, retry=retry).failed == 0
    incident = session.get(Incident, out.incident_id)
    failed_events = [e for e in incident.events if e.kind == "notify_failed"]
    assert len(failed_events) == 7 and "电子邮件通知发送失败" in failed_events[0].text


def test_channel_without_sender_fails_at_once(session, org, policy, clock, make_story, make_risk):
    pol = email_policy(policy)
    service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="IV"), org=org, policy=pol,
                              clock=clock)
    report = deliver(session, clock=clock, senders={"in_app": InAppSender()}, org=org)
    assert report.failed == 2 and report.sent == 2
    failed = list(session.scalars(select(Notification).where(Notification.status == "failed")))
    assert {n.channel for n in failed} == {"email"} and "no sender" in failed[0].last_error


def test_smtp_sender_delivers_chinese_subject_and_body_to_a_real_server(
        session, org, policy, clock, make_story, make_risk, smtp_server):
    sink = smtp_server
    pol = email_policy(policy)
    service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="II", score=81.5),
                              org=org, policy=pol, clock=clock)
    smtp = SmtpSender(host="127.0.0.1", port=sink.port, from_address="yuqing@jc.shili-bank.example")
    report = deliver(session, clock=clock, senders={"in_app": InAppSender(), "email": smtp}, org=org)
    assert report.failed == 0 and report.retrying == 0
    emails = list(session.scalars(select(Notification).where(Notification.channel == "email")))
    assert len(sink.messages) == len(emails) > 0
    target = next(n for n in emails if n.recipient_id == "chenjing")
    raw = next(m.raw for m in sink.messages if m.recipients == ("chenjing@jc.shili-bank.example",))
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"Subject: =?utf-8?" in headers  # RFC 2047: headers are 7-bit on the wire
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == target.subject and "II级（重大）" in msg["Subject"]
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n").rstrip("\n") == target.body  # CRLF on the wire
    assert "风险分值：81.5 / 100" in msg.get_content()
    assert msg["To"].addresses[0].display_name == "陈静"
    assert msg["From"].addresses[0].display_name == "舆情应急系统"


def test_smtp_sender_failure_is_an_exception_for_retry(org):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    sender = SmtpSender(host="127.0.0.1", port=port, from_address="a@b.example", timeout=2)
    n = Notification(id=1, subject="主题", body="正文", created_at=datetime.now(UTC))
    with pytest.raises(OSError):
        asyncio.run(sender.send(n, org.person("chenjing")))


def test_a_send_to_a_silent_smtp_server_does_not_hold_up_the_process_stopping(org):
    """A server that accepts the connection and never greets (a stalled relay, or the demo's own mail sink once its
    loop has stopped) must not keep the event loop from closing: with the default executor, ``asyncio.run`` joined
    the sending thread until its 30 s socket timeout, and Ctrl-C on ``yuqing demo`` waited for it."""
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever sends the 220 greeting
        sender = SmtpSender(host="127.0.0.1", port=silent.getsockname()[1], from_address="a@b.example", timeout=30)
        n = Notification(id=1, subject="主题", body="正文", created_at=datetime.now(UTC))

        async def stop_while_sending() -> bool:
            task = asyncio.create_task(sender.send(n, org.person("chenjing")))
            await asyncio.sleep(0.3)
            stuck = not task.done()  # still waiting for the greeting
            task.cancel()  # the process stops: the loop no longer waits for the send
            return stuck

        started = time.monotonic()
        assert asyncio.run(stop_while_sending()), "the send should still be waiting for the greeting"
        closed_after = time.monotonic() - started
    assert closed_after < 10, f"the loop took {closed_after:.1f} s to close: it waited for the blocked send"
