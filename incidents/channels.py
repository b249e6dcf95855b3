"""Outbound channels over HTTP (httpx): WeCom, DingTalk and Feishu group robots, a signed webhook, an SMS gateway.

"Sent" means the channel took the message and said so: an HTTP 2xx *and* the platform's success answer
(``{"errcode": 0}`` for WeCom and DingTalk, ``{"code": 0}`` for Feishu, the configured field for the SMS gateway).
Anything else raises ``DeliveryRefused`` (or an httpx transport error), which the outbox turns into a retry with
backoff and, after the last attempt, a visible failure on the incident's timeline.

The endpoints are configured by an admin (vendor hosts or the bank's own gateways), so they are not put through
the crawler's public-address rules; but their scheme is checked when the configuration loads and redirects are
never followed (a 3xx is a failure): a robot URL carries its token, and an answer must not be able to send the
message, or the token, somewhere else. Error texts never contain the URL for the same reason.

Group robots post one message per outbox batch (everyone the message is for, @-mentioned where the platform can),
not one per person. Text from the web (titles) is untrusted: markdown control characters are replaced by their
full-width forms so a crawled title cannot turn into a link or a mention in the chat.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from yuqing.org import Person

USER_AGENT = "yuqing-notify/1"
_MARKDOWN_SAFE = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "`": "'", "*": "＊", "#": "＃",
                                "_": "＿", "~": "～", "|": "｜"})


class DeliveryRefused(Exception):
    """The channel answered, but did not confirm the message (non-2xx, a redirect, or an error code)."""


class OutboundMessage(Protocol):
    """What a sender reads of a notification (the ORM row, or its rendered copy)."""

    id: int
    subject: str
    body: str
    purpose: str


def markdown_safe(text: str) -> str:
    """Untrusted text for a chat markdown message: no links, mentions, emphasis or headings can be formed."""
    return text.translate(_MARKDOWN_SAFE)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")).

    Sent URL-encoded as the ``sign`` query parameter beside ``timestamp`` (milliseconds); DingTalk refuses a
    timestamp more than an hour from its own clock.
    """
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's bot signature: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")).

    Sent in the JSON body as ``timestamp`` (seconds, a string) and ``sign``.
    """
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The generic webhook's signature: ``sha256=`` + hex HMAC-SHA256(secret, timestamp + "." + body).

    The timestamp is inside the signed bytes, so a receiver that refuses old timestamps also refuses replays.
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default certificate verification (its CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), built
    once per process and shared by every message's client: building it parses the whole CA bundle, about a tenth
    of a second of CPU on a small machine, which each message used to pay again (a fifteenth of the ``--respond``
    demo's profile)."""
    return httpx.create_ssl_context()


class _HttpChannel:
    """POSTs JSON with httpx, never following redirects, and turns every non-confirmation into an exception."""

    label = "HTTP"

    def __init__(self, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self.timeout = timeout
        self._transport = transport  # tests may inject one; by default httpx's own

    async def _request(self, method: str, url: str, *, body: bytes | None = None,
                       headers: dict[str, str] | None = None) -> httpx.Response:
        hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, verify=_tls_context(),
                                     transport=self._transport) as client:
            try:
                response = await client.request(method, url, content=body, headers=hdrs)
            except httpx.TimeoutException:
                raise DeliveryRefused(f"{self.label}: no answer within {self.timeout:g} s") from None
            except httpx.TransportError as exc:
                raise DeliveryRefused(f"{self.label}: {type(exc).__name__}: {exc}") from None
        if response.is_redirect:
            raise DeliveryRefused(f"{self.label}: HTTP {response.status_code} redirect refused (redirects are never "
                                  "followed)")
        if not response.is_success:
            raise DeliveryRefused(f"{self.label}: HTTP {response.status_code}: {response.text[:200]}")
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise DeliveryRefused(f"{self.label}: answer is not JSON: {response.text[:200]}") from None
        if not isinstance(data, dict):
            raise DeliveryRefused(f"{self.label}: unexpected answer: {response.text[:200]}")
        return data

    @staticmethod
    def _dumps(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _chat_text(message: OutboundMessage, dashboard_url: str | None) -> tuple[str, str]:
    """(title, body) for a group chat: untrusted text neutralised; the dashboard link, never a one-click link."""
    title = markdown_safe(message.subject)
    lines = [markdown_safe(line) for line in message.body.splitlines()
             if not line.startswith("处理链接：")]
    if dashboard_url:
        lines.append(f"处理链接：{dashboard_url}")
    return title, "\n".join(lines)


class WeComRobotSender(_HttpChannel):
    """企业微信群机器人: a markdown message; success is ``errcode == 0``. People with a WeCom user id are
    @-mentioned (``<@userid>``)."""

    label = "企业微信"
    group = True

    def __init__(self, url: str, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(timeout=timeout, transport=transport)
        self.url = url

    def payload(self, message: OutboundMessage, people: Sequence[Person], dashboard_url: str | None = None) -> dict:
        title, body = _chat_text(message, dashboard_url)
        mentions = " ".join(f"<@{p.contacts.wecom}>" for p in people if p.contacts.wecom)
        names = "、".join(p.name for p in people)
        content = f"**{title}**\n{body}\n通知对象：{names}" + (f"\n{mentions}" if mentions else "")
        return {"msgtype": "markdown", "markdown": {"content": content[:3800]}}

    async def send_group(self, message: OutboundMessage, people: Sequence[Person],
                         dashboard_url: str | None = None) -> str:
        response = await self._request("POST", self.url,
                                       body=self._dumps(self.payload(message, people, dashboard_url)))
        data = self._json(response)
        if data.get("errcode") != 0:
            raise DeliveryRefused(f"企业微信: errcode {data.get('errcode')}: {str(data.get('errmsg', ''))[:200]}")
        return "errcode 0"


class DingTalkRobotSender(_HttpChannel):
    """钉钉群机器人: a markdown message, signed when a secret is set (加签: ``timestamp`` and ``sign`` query
    parameters); success is ``errcode == 0``. People are @-mentioned by mobile number (``at.atMobiles``)."""

    label = "钉钉"
    group = True

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(timeout=timeout, transport=transport)
        self.url, self.secret = url, secret

    def signed_url(self, timestamp_ms: int | None = None) -> str:
        if not self.secret:
            return self.url
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        parts = urlsplit(self.url)
        extra = f"timestamp={ts}&sign={quote(dingtalk_sign(self.secret, ts), safe='')}"
        query = f"{parts.query}&{extra}" if parts.query else extra
        return urlunsplit(parts._replace(query=query))

    def payload(self, message: OutboundMessage, people: Sequence[Person], dashboard_url: str | None = None) -> dict:
        title, body = _chat_text(message, dashboard_url)
        mobiles = [str(p.contacts.phone) for p in people if p.contacts.phone]
        at_line = " ".join(f"@{m}" for m in mobiles)  # DingTalk mentions only numbers that also appear in the text
        text = f"#### {title}\n\n" + "\n\n".join(body.splitlines()) + (f"\n\n{at_line}" if at_line else "")
        return {"msgtype": "markdown", "markdown": {"title": title[:60], "text": text[:4500]},
                "at": {"atMobiles": mobiles, "isAtAll": False}}

    async def send_group(self, message: OutboundMessage, people: Sequence[Person],
                         dashboard_url: str | None = None) -> str:
        response = await self._request("POST", self.signed_url(),
                                       body=self._dumps(self.payload(message, people, dashboard_url)))
        data = self._json(response)
        if data.get("errcode") != 0:
            raise DeliveryRefused(f"钉钉: errcode {data.get('errcode')}: {str(data.get('errmsg', ''))[:200]}")
        return "errcode 0"


class FeishuBotSender(_HttpChannel):
    """飞书自定义机器人: a text message, signed when a secret is set (``timestamp`` and ``sign`` in the body);
    success is ``code == 0`` (older deployments answer ``StatusCode == 0``)."""

    label = "飞书"
    group = True

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(timeout=timeout, transport=transport)
        self.url, self.secret = url, secret

    def payload(self, message: OutboundMessage, people: Sequence[Person], dashboard_url: str | None = None,
                timestamp_s: int | None = None) -> dict:
        title, body = _chat_text(message, dashboard_url)
        names = "、".join(p.name for p in people)
        payload: dict[str, Any] = {"msg_type": "text",
                                   "content": {"text": f"{title}\n{body}\n通知对象：{names}"[:4000]}}
        if self.secret:
            ts = int(time.time()) if timestamp_s is None else timestamp_s
            payload = {"timestamp": str(ts), "sign": feishu_sign(self.secret, ts), **payload}
        return payload

    async def send_group(self, message: OutboundMessage, people: Sequence[Person],
                         dashboard_url: str | None = None) -> str:
        response = await self._request("POST", self.url,
                                       body=self._dumps(self.payload(message, people, dashboard_url)))
        data = self._json(response)
        code = data.get("code", data.get("StatusCode"))
        if code != 0:
            raise DeliveryRefused(f"飞书: code {code}: {str(data.get('msg', data.get('StatusMessage', '')))[:200]}")
        return "code 0"


class SignedWebhookSender(_HttpChannel):
    """A generic JSON webhook, one POST per recipient (so the receiving system can route it to that person),
    signed: ``X-Yuqing-Timestamp`` (Unix seconds) and ``X-Yuqing-Signature: sha256=<hex HMAC-SHA256(secret,
    timestamp + "." + body)>``. ``X-Yuqing-Delivery`` carries the notification id, so a receiver can drop the
    duplicate a crash between sending and recording may cause. Success is any 2xx."""

    label = "Webhook"

    def __init__(self, url: str, *, secret: str, signature_header: str = "X-Yuqing-Signature",
                 timestamp_header: str = "X-Yuqing-Timestamp", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(timeout=timeout, transport=transport)
        self.url, self.secret = url, secret
        self.signature_header, self.timestamp_header = signature_header, timestamp_header

    def payload(self, message: OutboundMessage, person: Person, text: str, ack_url: str | None) -> dict:
        c = person.contacts
        return {"event": "yuqing.notification", "notification_id": message.id, "purpose": message.purpose,
                "subject": message.subject, "text": text, "ack_url": ack_url,
                "alert_id": getattr(message, "alert_id", None), "incident_id": getattr(message, "incident_id", None),
                "recipient": {"id": person.id, "name": person.name, "email": str(c.email) if c.email else None,
                              "phone": c.phone, "wecom": c.wecom, "dingtalk": c.dingtalk}}

    async def send_personal(self, message: OutboundMessage, person: Person, text: str,
                            ack_url: str | None = None) -> str:
        body = self._dumps(self.payload(message, person, text, ack_url))
        ts = str(int(time.time()))
        headers = {self.timestamp_header: ts, self.signature_header: webhook_signature(self.secret, ts, body),
                   "X-Yuqing-Delivery": str(message.id)}
        response = await self._request("POST", self.url, body=body, headers=headers)
        return f"HTTP {response.status_code}"


class SmsGatewaySender(_HttpChannel):
    """SMS through the bank's HTTP gateway: the URL and JSON body are templates with ``{phone}`` and ``{text}``;
    the credential goes in a header from an environment variable. Success: 2xx, and when ``success_field`` is
    set, that field of the JSON answer equals ``success_value``."""

    label = "短信"

    def __init__(self, url: str, *, method: str = "POST", json_body: dict[str, str] | None = None,
                 auth_header: str | None = None, auth_value: str | None = None, success_field: str | None = None,
                 success_value: str = "0", max_chars: int = 300, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(timeout=timeout, transport=transport)
        self.url, self.method, self.json_body = url, method, dict(json_body or {})
        self.auth_header, self.auth_value = auth_header, auth_value
        self.success_field, self.success_value, self.max_chars = success_field, success_value, max_chars

    def short_text(self, message: OutboundMessage, ack_url: str | None) -> str:
        """Subject plus the one-click link; the subject is cut, never the link."""
        tail = f" 确认：{ack_url}" if ack_url else ""
        room = max(self.max_chars - len(tail), 10)
        subject = message.subject if len(message.subject) <= room else message.subject[: room - 1] + "…"
        return subject + tail

    def request_parts(self, phone: str, text: str) -> tuple[str, bytes | None]:
        url = self.url.replace("{phone}", quote(phone, safe="")).replace("{text}", quote(text, safe=""))
        if self.method == "GET":
            return url, None
        body = {k: v.replace("{phone}", phone).replace("{text}", text) for k, v in self.json_body.items()}
        return url, self._dumps(body)

    async def send_personal(self, message: OutboundMessage, person: Person, text: str,
                            ack_url: str | None = None) -> str:
        if not person.contacts.phone:
            raise ValueError(f"person {person.id} has no mobile number")
        url, body = self.request_parts(str(person.contacts.phone), self.short_text(message, ack_url))
        headers = {self.auth_header: self.auth_value} if self.auth_header and self.auth_value else {}
        response = await self._request(self.method, url, body=body, headers=headers)
        if self.success_field:
            data = self._json(response)
            if str(data.get(self.success_field)) != self.success_value:
                raise DeliveryRefused(f"短信网关: {self.success_field}={data.get(self.success_field)!r}: "
                                      f"{response.text[:200]}")
            return f"{self.success_field}={self.success_value}"
        return f"HTTP {response.status_code}"
