"""Process-wide settings from ``YUQING_*`` environment variables and an optional ``.env`` file.

Settings are an object passed around, never module globals read at import time, so tests and the demo can run
several configurations side by side.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from yuqing.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything a deployment configures. Paths are relative to the project root unless absolute."""

    model_config = SettingsConfigDict(env_prefix="YUQING_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="SQLite database, snapshots and logs")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under data_dir")
    config_dir: Path = Field(default=PROJECT_ROOT / "config")
    org_file: Path | None = None
    sources_file: Path | None = None
    levels_file: Path | None = None
    checklists_dir: Path | None = None
    db_connect_timeout: float = Field(default=5.0, ge=0, le=600, description="seconds to reach PostgreSQL before a "
                                      "connection attempt fails (0: wait indefinitely)")
    db_statement_timeout: float = Field(default=30.0, ge=0, le=86400, description="seconds one SQL statement may run "
                                        "on PostgreSQL before the server cancels it (0: no limit)")
    db_idle_in_transaction_timeout: float = Field(
        default=60.0, ge=0, le=86400, description="seconds a PostgreSQL session may sit idle inside an open "
        "transaction before the server ends it and frees its row locks (a hung or stopped process; 0: no limit)")
    db_busy_timeout: float = Field(default=30.0, ge=0, le=600, description="seconds SQLite waits for a lock held "
                                   "by another writer before 'database is locked'")
    worker_heartbeat_seconds: float = Field(default=2.0, gt=0, le=60, description="how often each `yuqing worker` "
                                            "tells the job queue it is alive")
    worker_stalled_seconds: float = Field(default=10.0, gt=0, le=3600, description="a worker silent this long is "
                                          "taken for dead and its running jobs are run again by another")
    redis_url: str = Field(default="", description="Redis shared by every crawl process for the per-domain request "
                           "budget (crawlers.politeness); empty: each process keeps the budget for its own sources")
    timezone: str = "Asia/Shanghai"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = Field(default="", description="signs session cookies; `yuqing run` and `yuqing api` refuse "
                            "to start without a strong one (see yuqing.security.require_secret_key)")
    allow_private_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="ids of sources (comma-separated) that may fetch from the private host "
        "their `private_network` field names; every other private source is refused at start")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="addresses or CIDR ranges (comma-separated) of reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto headers are believed (TLS terminated in front of yuqing)")
    max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    capture_max_bytes: int = Field(
        default=1024 * 1024, ge=0, description="raw bytes of a fetched page kept as evidence (article_captures); "
        "the SHA-256 and size of the whole page are kept, and a capture cut at this size is marked truncated")
    sentiment_backend: Literal["onnx", "torch"] = Field(
        default="onnx", description="runs the transformer on ONNX Runtime (measured faster and < 300 MB; see "
        "docs/benchmarks.md) or on torch; training always uses torch")
    cache_dir: Path = Field(default=PROJECT_ROOT / "var" / "cache",
                            description="derived files shared by every data dir, e.g. ONNX exports by content hash")
    source_alert_failures: int = Field(default=5, ge=1, le=1000, description="consecutive failed polls of a source "
                                       "before the admins are told (incidents.source_alerts)")
    source_alert_silent_intervals: float = Field(
        default=12.0, ge=1, le=10000, description="poll intervals without one successful poll (nothing crawled), or "
        "without anything new from a source that used to bring items, before the admins are told")
    source_alert_quiet_factor: float = Field(
        default=4.0, ge=1, le=1000, description="…and, for nothing new, at least this many times the source's usual "
        "gap between new items")
    log_level: str = "INFO"
    log_json: bool = False

    @model_validator(mode="after")
    def _stalled_after_heartbeats(self) -> Settings:
        if self.worker_stalled_seconds < 2 * self.worker_heartbeat_seconds:
            raise ValueError("worker_stalled_seconds must be at least twice worker_heartbeat_seconds (a live worker "
                             "that missed one heartbeat is not dead)")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("allow_private_sources", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [item.strip() for item in v.split(",") if item.strip()]
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yuqing.db').resolve()}"

    def config_path(self, explicit: Path | None, name: str) -> Path:
        return explicit if explicit is not None else self.config_dir / name

    @property
    def org_path(self) -> Path:
        return self.config_path(self.org_file, "org.yaml")

    @property
    def sources_path(self) -> Path:
        return self.config_path(self.sources_file, "sources.yaml")

    @property
    def levels_path(self) -> Path:
        return self.config_path(self.levels_file, "levels.yaml")

    @property
    def checklists_path(self) -> Path:
        return self.checklists_dir if self.checklists_dir is not None else self.config_dir / "checklists"


def load_settings(**overrides: object) -> Settings:
    """Build settings; invalid environment values become a ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [("YUQING_" + ".".join(str(p) for p in e["loc"]).upper(), e["msg"]) for e in exc.errors()]
        raise ConfigError("environment / .env", problems) from None
