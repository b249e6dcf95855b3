"""The sim's DingTalk robot and Feishu bot answer like the platforms and check their signatures exactly as the
platforms define them: the product's own senders are accepted (and only then count a message as sent); a wrong
secret, a stale timestamp, a missing signature or an unknown token is refused with the platform's error code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from incidents.channels import DeliveryRefused, DingTalkRobotSender, FeishuBotSender
from sim.robots import DEFAULT_DINGTALK_SECRET, DEFAULT_DINGTALK_TOKEN, DEFAULT_FEISHU_SECRET, DEFAULT_FEISHU_TOKEN
from yuqing.org import Contacts, Person

PEOPLE = [Person(id="liuqiang", name="刘强", unit="jiangcheng", roles=["commander"],
                 contacts=Contacts(phone="13800000003"))]


def _message():
    return SimpleNamespace(id=7, subject="【舆情事件YQ-1·I级】示例银行新华路网点",
                           body="等级：I级\n处理链接：/incidents/1", purpose="incident_opened")


def _ding_url(sim, token=DEFAULT_DINGTALK_TOKEN):
    return f"{sim.base_url}/dingtalk/robot/send?access_token={token}"


def _feishu_url(sim, token=DEFAULT_FEISHU_TOKEN):
    return f"{sim.base_url}/feishu/open-apis/bot/v2/hook/{token}"


def test_dingtalk_robot_accepts_a_message_signed_with_its_secret(sim):
    received = sim.server.app.state.robot_received["dingtalk"]
    before = len(received)
    sender = DingTalkRobotSender(_ding_url(sim), secret=DEFAULT_DINGTALK_SECRET)
    assert asyncio.run(sender.send_group(_message(), PEOPLE, "http://127.0.0.1:8000/incidents/1")) == "errcode 0"
    [got] = list(received)[before:]
    assert got["msgtype"] == "markdown" and got["signed"] is True
    assert "示例银行新华路网点" in got["content"] and got["mentions"] == ["13800000003"]


def test_dingtalk_signature_is_the_documented_recipe(sim, client):
    """Computed here by hand (HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, URL-encoded)."""
    ts = str(int(time.time() * 1000))
    digest = hmac.new(DEFAULT_DINGTALK_SECRET.encode(), f"{ts}\n{DEFAULT_DINGTALK_SECRET}".encode(),
                      hashlib.sha256).digest()
    sign = quote(base64.b64encode(digest).decode(), safe="")
    body = {"msgtype": "text", "text": {"content": "手工签名的消息"}}
    ok = client.post(f"/dingtalk/robot/send?access_token={DEFAULT_DINGTALK_TOKEN}&timestamp={ts}&sign={sign}",
                     json=body)
    assert ok.json() == {"errcode": 0, "errmsg": "ok"}


@pytest.mark.parametrize("case", ["wrong secret", "stale timestamp", "no signature", "unknown token"])
def test_dingtalk_robot_refuses_a_bad_signature_or_token(sim, client, case):
    received = sim.server.app.state.robot_received["dingtalk"]
    before = len(received)
    body = {"msgtype": "text", "text": {"content": "x"}}
    now_ms = int(time.time() * 1000)
    if case == "wrong secret":
        url = DingTalkRobotSender(_ding_url(sim), secret="SECnot-the-robots-secret").signed_url()
    elif case == "stale timestamp":
        url = DingTalkRobotSender(_ding_url(sim), secret=DEFAULT_DINGTALK_SECRET).signed_url(now_ms - 3700_000)
    elif case == "no signature":
        url = _ding_url(sim)
    else:
        url = DingTalkRobotSender(_ding_url(sim, "nope"), secret=DEFAULT_DINGTALK_SECRET).signed_url()
    answer = client.post(url, json=body).json()
    assert answer["errcode"] == (300001 if case == "unknown token" else 310000)
    assert len(received) == before  # nothing was posted to the group
    if case != "stale timestamp":  # the product's sender is refused too, and does not count the message as sent
        secret = {"wrong secret": "SECnot-the-robots-secret", "no signature": None}.get(case, DEFAULT_DINGTALK_SECRET)
        sender = DingTalkRobotSender(_ding_url(sim, "nope" if case == "unknown token" else DEFAULT_DINGTALK_TOKEN),
                                     secret=secret)
        with pytest.raises(DeliveryRefused, match=r"310000|300001"):
            asyncio.run(sender.send_group(_message(), PEOPLE))


def test_dingtalk_robot_refuses_a_message_without_content(sim, client):
    url = DingTalkRobotSender(_ding_url(sim), secret=DEFAULT_DINGTALK_SECRET).signed_url()
    assert client.post(url, json={"msgtype": "markdown", "markdown": {"title": "t"}}).json()["errcode"] == 40035
    assert client.post(url, content=b"not json").json()["errcode"] == 40035


def test_feishu_bot_accepts_a_message_signed_with_its_secret(sim):
    received = sim.server.app.state.robot_received["feishu"]
    before = len(received)
    sender = FeishuBotSender(_feishu_url(sim), secret=DEFAULT_FEISHU_SECRET)
    assert asyncio.run(sender.send_group(_message(), PEOPLE, "http://127.0.0.1:8000/incidents/1")) == "code 0"
    [got] = list(received)[before:]
    assert got["msgtype"] == "text" and got["signed"] is True and "通知对象：刘强" in got["content"]


def test_feishu_signature_is_the_documented_recipe(sim, client):
    """Computed here by hand: HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message, base64."""
    ts = str(int(time.time()))
    sign = base64.b64encode(hmac.new(f"{ts}\n{DEFAULT_FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    ok = client.post(f"/feishu/open-apis/bot/v2/hook/{DEFAULT_FEISHU_TOKEN}",
                     json={"timestamp": ts, "sign": sign, "msg_type": "text", "content": {"text": "手工签名"}})
    assert ok.json()["code"] == 0 and ok.json()["msg"] == "success"


@pytest.mark.parametrize("case", ["wrong secret", "stale timestamp", "no signature", "unknown token"])
def test_feishu_bot_refuses_a_bad_signature_or_token(sim, client, case):
    received = sim.server.app.state.robot_received["feishu"]
    before = len(received)
    token = "nope" if case == "unknown token" else DEFAULT_FEISHU_TOKEN
    secret = "not-the-bots-secret" if case == "wrong secret" else DEFAULT_FEISHU_SECRET
    ts = int(time.time()) - (3700 if case == "stale timestamp" else 0)
    payload = FeishuBotSender(_feishu_url(sim, token), secret=None if case == "no signature" else secret
                              ).payload(_message(), PEOPLE, timestamp_s=ts)
    answer = client.post(f"/feishu/open-apis/bot/v2/hook/{token}", json=payload).json()
    assert answer["code"] == (19001 if case == "unknown token" else 19021)
    assert len(received) == before
    if case in ("wrong secret", "unknown token", "no signature"):
        sender = FeishuBotSender(_feishu_url(sim, token), secret=None if case == "no signature" else secret)
        with pytest.raises(DeliveryRefused, match=r"19021|19001"):
            asyncio.run(sender.send_group(_message(), PEOPLE))


def test_feishu_bot_refuses_a_malformed_message(sim, client):
    ts = str(int(time.time()))
    sign = base64.b64encode(hmac.new(f"{ts}\n{DEFAULT_FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    bad = client.post(f"/feishu/open-apis/bot/v2/hook/{DEFAULT_FEISHU_TOKEN}",
                      json={"timestamp": ts, "sign": sign, "msg_type": "text", "content": {}})
    assert bad.json()["code"] == 9499
