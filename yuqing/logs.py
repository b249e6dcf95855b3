"""Structured logging: one event per line, key=value (or JSON), so a monitor's ops team can grep and ship it.

Every line passes ``redact`` before it is written: logs are shipped to places with wider access than the
database, so secrets (API tokens, bearer headers, passwords and tokens in URLs or key=value pairs) and personal
data (mobile numbers, resident ID numbers, e-mail addresses, bank card numbers) are masked whichever code logged
them — an SMTP error quoting a recipient, a crawl error quoting a URL with an access token, a database error
quoting its connection string.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# (pattern, replacement) applied in order to each finished log line.
_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\byq_[A-Za-z0-9_-]{8,}"), "yq_***"),  # our API tokens
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2***"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1***@"),  # URL credentials
    (re.compile(r"(?i)\b([\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|signature|sign)"
                r"[\w-]*)(\s*[=:]\s*|\"\s*:\s*\")([^\s&\"',;]+)"), r"\1\2***"),
    (re.compile(r"(?<![\w.-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.[A-Za-z0-9.-]+)"), r"\1***@\2"),
    (re.compile(r"(?<!\d)(?<!\d\.)(\d{6})\d{8}(\d{3}[\dXx])(?!\.?\d)"), r"\1********\2"),  # resident ID numbers
    (re.compile(r"(?<!\d)(?<!\d\.)(\d{4})\d{8,11}(\d{4})(?!\.?\d)"), r"\1****\2"),  # bank card numbers (16-19 digits)
    (re.compile(r"(?<!\d)(?<!\d\.)(1[3-9]\d)\d{4}(\d{4})(?!\.?\d)"), r"\1****\2"),  # mainland mobile numbers
]


def redact(text: str) -> str:
    """``text`` with secrets and personal data masked (see the module docstring)."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _StructuredFormatter(logging.Formatter):
    def __init__(self, as_json: bool):
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        if self.as_json:
            payload = {"ts": ts, "level": record.levelname, "logger": record.name,
                       "event": record.getMessage(), **fields}
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            return redact(json.dumps(payload, ensure_ascii=False, default=str))
        extra = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}" + (f" {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _quote(value: object) -> str:
    s = str(value)
    return json.dumps(s, ensure_ascii=False) if (" " in s or not s) else s


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO", as_json: bool = False, stream=None) -> None:
    """Install the structured formatter on the root logger (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_yuqing", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler._yuqing = True  # type: ignore[attr-defined]
    handler.setFormatter(_StructuredFormatter(as_json))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("scrapy", "twisted", "httpx", "uvicorn.access", "trafilatura", "htmldate", "filelock"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
