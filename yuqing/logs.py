"""Structured logging: one event per line, key=value (or JSON), so a monitor's ops team can grep and ship it."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


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
            return json.dumps(payload, ensure_ascii=False, default=str)
        extra = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}" + (f" {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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
