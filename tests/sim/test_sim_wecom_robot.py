"""The sim's WeCom group robot (企业微信群机器人) answers like the platform, so the demo's chat channel is real:
the product's own sender posts to it and counts the message as sent only on ``errcode 0``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from incidents.channels import DeliveryRefused, WeComRobotSender
from sim.server import DEFAULT_ROBOT_KEY
from yuqing.org import Contacts, Person


def _message():
    return SimpleNamespace(id=1, subject="【舆情事件】示例银行新华路网点", body="等级：I级\n处理链接：/incidents/1",
                           purpose="incident_opened")


def test_robot_accepts_a_markdown_message_with_its_key(sim, client):
    url = f"{sim.base_url}/wecom/cgi-bin/webhook/send?key={DEFAULT_ROBOT_KEY}"
    people = [Person(id="liuqiang", name="刘强", unit="jiangcheng", roles=["commander"],
                     contacts=Contacts(wecom="liuqiang"))]
    before = len(sim.server.app.state.robot_messages)
    confirmation = asyncio.run(WeComRobotSender(url).send_group(_message(), people, "http://127.0.0.1:8000/x"))
    assert confirmation == "errcode 0"
    received = list(sim.server.app.state.robot_messages)[before:]
    assert len(received) == 1 and received[0]["msgtype"] == "markdown"
    assert "示例银行新华路网点" in received[0]["content"] and "<@liuqiang>" in received[0]["content"]


def test_robot_refuses_a_wrong_key_and_a_bad_message(sim, client):
    wrong = client.post("/wecom/cgi-bin/webhook/send", params={"key": "nope"},
                        json={"msgtype": "markdown", "markdown": {"content": "x"}})
    assert wrong.status_code == 200 and wrong.json() == {"errcode": 93000, "errmsg": "invalid webhook url"}
    empty = client.post("/wecom/cgi-bin/webhook/send", params={"key": DEFAULT_ROBOT_KEY}, json={"msgtype": "x"})
    assert empty.json()["errcode"] != 0
    too_long = client.post("/wecom/cgi-bin/webhook/send", params={"key": DEFAULT_ROBOT_KEY},
                           json={"msgtype": "markdown", "markdown": {"content": "字" * 2000}})
    assert too_long.json()["errcode"] == 40058
    with pytest.raises(DeliveryRefused, match="93000"):
        asyncio.run(WeComRobotSender(f"{sim.base_url}/wecom/cgi-bin/webhook/send?key=nope")
                    .send_group(_message(), []))
