"""A real HTTP server on 127.0.0.1 that plays WeCom, DingTalk, Feishu, a signed-webhook receiver and an SMS gateway.

It checks what the platforms check — the payload's shape, DingTalk's and Feishu's signatures (computed here from
their documented recipes, independently of ``incidents.channels``), the generic webhook's HMAC and timestamp, the
SMS gateway's credential — and answers the way they answer: ``{"errcode": 0}`` on success, the platform's error
code otherwise. Tests script failures per path (an HTTP status, an error body, a delay longer than the sender's
timeout, a redirect) and read what arrived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRETS = {"dingtalk": "SECdingtalk-test-secret", "feishu": "feishu-test-secret", "webhook": "webhook-test-secret",
           "sms": "sms-gateway-token"}


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    verdict: str  # "ok" or why the platform refused it

    @property
    def channel(self) -> str:
        return self.path.strip("/").split("/")[0]


@dataclass
class Script:
    """What the next requests to a path get instead of the normal answer (consumed in order)."""

    status: int = 200
    body: dict | str | None = None
    delay: float = 0.0
    location: str | None = None


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Script]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def of(self, channel: str) -> list[Received]:
        return [r for r in self.received if r.channel == channel]

    def fail_next(self, channel: str, *scripts: Script) -> None:
        self.scripts.setdefault(channel, []).extend(scripts)


def _dingtalk_verdict(query: dict[str, list[str]], data: Any) -> str:
    try:
        ts, sign = query["timestamp"][0], query["sign"][0]  # parse_qs has URL-decoded the sign
    except (KeyError, IndexError):
        return "310000 sign missing"
    if abs(int(ts) - time.time() * 1000) > 3600_000:
        return "310000 timestamp too old"
    secret = SECRETS["dingtalk"]
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode(),
                                         digestmod=hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, sign):
        return "310000 sign not match"
    if query.get("access_token") != ["ding-token"]:
        return "300001 token is not exist"
    if not (isinstance(data, dict) and data.get("msgtype") == "markdown" and data["markdown"].get("title")
            and data["markdown"].get("text") and isinstance(data.get("at", {}).get("atMobiles"), list)):
        return "40035 bad payload"
    return "ok"


def _feishu_verdict(data: Any) -> str:
    if not isinstance(data, dict):
        return "9499 bad payload"
    ts, sign = data.get("timestamp"), data.get("sign")
    if not ts or not sign:
        return "19021 sign missing"
    if abs(int(ts) - time.time()) > 3600:
        return "19021 timestamp expired"
    string_to_sign = f"{ts}\n{SECRETS['feishu']}"
    expected = base64.b64encode(hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, sign):
        return "19021 sign match fail or timestamp is not within one hour from current time"
    if data.get("msg_type") != "text" or not data.get("content", {}).get("text"):
        return "9499 bad payload"
    return "ok"


def _webhook_verdict(headers: dict[str, str], body: bytes) -> str:
    ts, sig = headers.get("x-yuqing-timestamp", ""), headers.get("x-yuqing-signature", "")
    if not ts.isdigit() or abs(int(ts) - time.time()) > 300:
        return "401 stale timestamp"
    expected = "sha256=" + hmac.new(SECRETS["webhook"].encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig):
        return "401 bad signature"
    data = json.loads(body)
    if data.get("event") != "yuqing.notification" or not data.get("recipient", {}).get("id"):
        return "422 bad payload"
    if headers.get("x-yuqing-delivery") != str(data.get("notification_id")):
        return "422 delivery id mismatch"
    return "ok"


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _handle(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        channel = parts.path.strip("/").split("/")[0]
        if channel == "wecom":
            ok = (query.get("key") == ["wecom-key"] and isinstance(data, dict) and data.get("msgtype") == "markdown"
                  and data.get("markdown", {}).get("content"))
            verdict = "ok" if ok else "93000 invalid webhook url or payload"
        elif channel == "dingtalk":
            verdict = _dingtalk_verdict(query, data)
        elif channel == "feishu":
            verdict = _feishu_verdict(data)
        elif channel == "webhook":
            verdict = _webhook_verdict(headers, body)
        elif channel == "sms":
            ok = headers.get("authorization") == f"Bearer {SECRETS['sms']}" and isinstance(data, dict) and \
                data.get("mobile") and data.get("content")
            verdict = "ok" if ok else "auth or payload refused"
        else:
            verdict = "no such endpoint"
        self.receiver.received.append(Received(parts.path, query, headers, body, data, verdict))
        scripts = self.receiver.scripts.get(channel) or []
        if scripts:
            script = scripts.pop(0)
            time.sleep(script.delay)
            self._answer(script.status, script.body, script.location)
            return
        if channel in ("wecom", "dingtalk"):
            code = 0 if verdict == "ok" else int(verdict.split()[0])
            self._answer(200, {"errcode": code, "errmsg": "ok" if code == 0 else verdict})
        elif channel == "feishu":
            code = 0 if verdict == "ok" else int(verdict.split()[0])
            self._answer(200, {"code": code, "msg": "success" if code == 0 else verdict, "data": {}})
        elif channel == "sms":
            self._answer(200, {"code": "0" if verdict == "ok" else "401", "msg": verdict})
        else:
            self._answer(204 if verdict == "ok" else 400, None if verdict == "ok" else {"error": verdict})

    def _answer(self, status: int, body: dict | str | None, location: str | None = None) -> None:
        raw = b"" if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # delivery sends on every channel at once (http.server's default backlog is 5)


class running_receiver:
    """Context manager: a ``Receiver`` served on an OS-chosen port of 127.0.0.1 in a thread."""

    def __enter__(self) -> Receiver:
        self.receiver = Receiver()
        handler = type("Handler", (_Handler,), {"receiver": self.receiver})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.receiver.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
