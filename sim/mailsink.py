"""A local mail sink for the demo: a real SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message.

``yuqing demo`` turns the email channel on against it, so the demo sends real email over SMTP — the same code
path, the same "sent only on 250" rule — without a relay and without mail leaving the machine. Messages are kept
in memory (the newest ``keep``) and, when a directory is given, written there as ``.eml`` files a mail client
opens; the dashboard's 发送记录 page (/outbox) shows what the outbox sent.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class SunkMail:
    recipients: tuple[str, ...]
    subject: str
    raw: bytes


class _Handler:
    def __init__(self, keep: int, directory: Path | None):
        self.keep, self.directory = keep, directory
        self.messages: list[SunkMail] = []
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        subject = str(email.message_from_bytes(raw, policy=email.policy.default).get("Subject", ""))
        with self._lock:
            self.count += 1
            self.messages.append(SunkMail(tuple(envelope.rcpt_tos), subject, raw))
            del self.messages[: -self.keep]
            n = self.count
        if self.directory is not None:
            (self.directory / f"{n:05d}.eml").write_bytes(raw)
        return "250 OK: kept by the yuqing demo mail sink"


class _Controller(Controller):
    """aiosmtpd's controller on an OS-chosen port (it otherwise tries to connect to port 0 to check start-up)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailSink:
    """Start with ``start()``, point SMTP at ``host``/``port``, ``stop()`` when done."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, keep: int = 500, directory: Path | None = None):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for old in directory.glob("*.eml"):
                old.unlink()
        self.handler = _Handler(keep, directory)
        self._controller = _Controller(self.handler, hostname=host, port=port)
        self.host = host

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[SunkMail]:
        return list(self.handler.messages)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
