"""The 发送记录 page beside chat platforms it can read (the demo hands over the sim's robots): what each group robot
— WeCom, DingTalk, Feishu — received, newest first, escaped; nothing of the kind without them."""

from __future__ import annotations

import asyncio
from collections import deque

from incidents.models import Notification
from incidents.notify import ChannelBreakers, InAppSender, deliver_pending


def test_outbox_shows_what_each_robot_received(app, login_as):
    app.state.robot_received = {
        "wecom": deque([{"at": "2026-11-23T02:00:00+00:00", "msgtype": "markdown", "title": "",
                         "content": "**【舆情事件YQ-1·I级】** <@liuqiang>", "mentions": ["liuqiang"],
                         "signed": False}]),
        "dingtalk": deque([{"at": "2026-11-23T02:01:00+00:00", "msgtype": "markdown", "title": "钉钉标题",
                            "content": "#### 钉钉正文 <script>alert(1)</script>", "mentions": ["13800000003"],
                            "signed": True}]),
        "feishu": deque(),
    }
    page = login_as("admin").get("/outbox").text
    assert 'id="robots"' in page and "群机器人收到的消息" in page
    assert "企业微信" in page and "钉钉" in page and "飞书" in page
    assert "共收到 1 条" in page and "共收到 0 条" in page and "尚未收到消息" in page
    assert "钉钉正文" in page and "签名有效" in page and "13800000003" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page  # crawled text stays text


def test_outbox_without_robots_shows_no_robot_section(login_as):
    page = login_as("admin").get("/outbox").text
    assert 'id="robots"' not in page


def test_outbox_shows_a_channel_skipped_by_its_circuit_breaker(login_as, session, org, clock):
    """Mail waiting behind an open breaker says so on the page (the row stays pending, attempts untouched)."""
    session.add(Notification(dedup_key="breaker:liuqiang:email", recipient_id="liuqiang", channel="email",
                             purpose="alert", subject="【舆情预警】测试", body="正文", status="pending", attempts=0,
                             created_at=clock.now(), next_attempt_at=clock.now()))
    session.commit()
    breakers = ChannelBreakers(failures=1, cooldown_seconds=600)
    breakers.failure("email")  # the relay just failed: the breaker is open
    report = asyncio.run(deliver_pending(session, clock=clock, org=org, breakers=breakers,
                                         senders={"in_app": InAppSender(), "email": InAppSender()}))
    assert report.skipped == {"email": 1} and report.sent == 0
    page = login_as("admin").get("/outbox?channel=email").text
    assert "电子邮件通道连续失败，已暂停发送（熔断）" in page and "待发送" in page
