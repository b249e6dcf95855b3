"""Chat-group robots of the simulated internet: a DingTalk custom robot (钉钉自定义机器人) and a Feishu custom bot
(飞书自定义机器人), answering the way the platforms answer, so the demo's chat channels really post somewhere.

Both check what the platform checks, from the platform's own recipe (not from ``incidents.channels``):

* DingTalk, ``POST /dingtalk/robot/send?access_token=…&timestamp=…&sign=…``, with 加签 on: ``timestamp`` is Unix
  time in milliseconds, ``sign`` is the URL-encoded ``base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))``;
  a timestamp more than an hour from the platform's clock or a wrong sign answers ``{"errcode": 310000}``, an unknown
  token ``300001``, a message without its content ``40035``; success is ``{"errcode": 0, "errmsg": "ok"}``.
* Feishu, ``POST /feishu/open-apis/bot/v2/hook/{token}``, with 签名校验 on: the JSON body carries ``timestamp``
  (Unix seconds, a string) and ``sign`` = ``base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``; a wrong
  sign or a timestamp more than an hour off answers ``{"code": 19021}``, an unknown token ``19001``, a malformed
  message ``9499``; success is ``{"code": 0, "msg": "success", "data": {}}`` (with the older ``StatusCode`` keys).

The signature window is checked against the wall clock (``time.time()``), as the platforms do: the sender signs with
its own real clock, whatever simulated time the scenario is at. What arrived (and when, in simulated time) is kept,
newest last, per robot in ``received`` for tests and for the demo's 发送记录 page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_DINGTALK_TOKEN = "sim-dingtalk-access-token"
DEFAULT_DINGTALK_SECRET = "SECsim0dingtalk0robot0secret0for0the0demo"  # DingTalk secrets start with SEC
DEFAULT_FEISHU_TOKEN = "sim-feishu-hook-token"
DEFAULT_FEISHU_SECRET = "sim-feishu-bot-secret"
SIGNATURE_WINDOW_SECONDS = 3600  # both platforms refuse a timestamp more than an hour from their clock
MAX_BODY_BYTES = 20_000  # both platforms cap a message at about 20 KB
RECEIVED_KEEP = 1000

Received = deque[dict[str, Any]]


def dingtalk_expected_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk's documented recipe (before URL-encoding): base64(HMAC-SHA256(secret, timestamp + "\\n" + secret))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_expected_sign(secret: str, timestamp_s: str) -> str:
    """Feishu's documented recipe: base64(HMAC-SHA256 keyed by timestamp + "\\n" + secret, of an empty message)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def robot_routes(now: Callable[[], datetime], received: dict[str, Received], *,
                 dingtalk_token: str = DEFAULT_DINGTALK_TOKEN, dingtalk_secret: str | None = DEFAULT_DINGTALK_SECRET,
                 feishu_token: str = DEFAULT_FEISHU_TOKEN, feishu_secret: str | None = DEFAULT_FEISHU_SECRET,
                 wall_clock: Callable[[], float] = time.time) -> list[Route]:
    """The two robots' routes; what each accepts is appended to ``received["dingtalk"]`` / ``received["feishu"]``.
    A secret of None turns the platform's signature check off (as an admin can in the robot's settings)."""
    ding = received.setdefault("dingtalk", deque(maxlen=RECEIVED_KEEP))
    feishu = received.setdefault("feishu", deque(maxlen=RECEIVED_KEEP))

    def ding_error(code: int, message: str) -> Response:
        return JSONResponse({"errcode": code, "errmsg": message})

    async def dingtalk_send(request: Request) -> Response:
        q = request.query_params
        if q.get("access_token") != dingtalk_token:
            return ding_error(300001, "token is not exist")
        if dingtalk_secret is not None:
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            if not ts.isdigit() or not sign:
                return ding_error(310000, "sign not match, more: timestamp and sign are required (加签)")
            if abs(int(ts) / 1000 - wall_clock()) > SIGNATURE_WINDOW_SECONDS:
                return ding_error(310000, "invalid timestamp")
            # the query string arrives URL-decoded: compare with the signature before its URL-encoding
            if not hmac.compare_digest(dingtalk_expected_sign(dingtalk_secret, ts), sign):
                return ding_error(310000, "sign not match")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return ding_error(460101, "message too long")
        data = _json(body)
        if not isinstance(data, dict):
            return ding_error(40035, "缺少参数 json")
        msgtype = data.get("msgtype")
        part = data.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype == "text" and isinstance(part, dict) and _text(part.get("content")):
            title, content = "", part["content"]
        elif msgtype == "markdown" and isinstance(part, dict) and _text(part.get("title")) and _text(part.get("text")):
            title, content = part["title"], part["text"]
        else:
            return ding_error(40035, "缺少参数 content（msgtype 须为 text 或 markdown，且内容非空）")
        at = data.get("at") if isinstance(data.get("at"), dict) else {}
        mobiles = [str(m) for m in at.get("atMobiles") or [] if isinstance(m, str | int)]
        ding.append({"at": now().isoformat(), "msgtype": msgtype, "title": title, "content": content,
                     "mentions": mobiles, "signed": dingtalk_secret is not None})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    def feishu_error(code: int, message: str) -> Response:
        return JSONResponse({"code": code, "msg": message, "data": {}})

    async def feishu_hook(request: Request) -> Response:
        if request.path_params["token"] != feishu_token:
            return feishu_error(19001, "param invalid: incoming webhook access token invalid")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return feishu_error(9499, "request body too large")
        data = _json(body)
        if not isinstance(data, dict):
            return feishu_error(9499, "Bad Request")
        if feishu_secret is not None:
            ts, sign = str(data.get("timestamp") or ""), data.get("sign")
            if (not ts.isdigit() or not isinstance(sign, str)
                    or abs(int(ts) - wall_clock()) > SIGNATURE_WINDOW_SECONDS
                    or not hmac.compare_digest(feishu_expected_sign(feishu_secret, ts), sign)):
                return feishu_error(19021, "sign match fail or timestamp is not within one hour from current time")
        content = data.get("content") if isinstance(data.get("content"), dict) else {}
        if data.get("msg_type") == "text" and _text(content.get("text")):
            text = content["text"]
        elif data.get("msg_type") == "post" and isinstance(content.get("post"), dict):
            text = json.dumps(content["post"], ensure_ascii=False)
        else:
            return feishu_error(9499, "Bad Request")
        feishu.append({"at": now().isoformat(), "msgtype": data["msg_type"], "title": "", "content": text,
                       "mentions": [], "signed": feishu_secret is not None})
        return JSONResponse({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})

    return [Route("/dingtalk/robot/send", dingtalk_send, methods=["POST"]),
            Route("/feishu/open-apis/bot/v2/hook/{token}", feishu_hook, methods=["POST"])]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
