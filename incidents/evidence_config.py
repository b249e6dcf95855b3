"""``config/evidence.yaml``: how the screenshot job and the deletion watch run (pydantic; errors name the file
and the field). A missing file means the defaults below."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yuqing.yamlfile import load_model

EVIDENCE_FILE = "evidence.yaml"

# Shown instead of a post that was taken down. "…" stands for any text in between (at most 80 characters).
DEFAULT_REMOVAL_NOTICES = (
    "该内容已被删除", "内容不存在", "已被作者删除", "该微博已被删除", "该微博不存在", "此微博已被删除",
    "该帖子已被删除", "该文章已被删除", "此内容因违规无法查看", "该内容已被发布者删除",
    "根据相关法律法规…不予显示", "根据相关法律法规…无法查看",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScreenshotOptions(_Strict):
    enabled: bool = True
    per_round: int = Field(default=2, ge=1, le=50, description="articles shot per pipeline round at most")
    time_limit_seconds: float = Field(default=60, ge=5, le=600, description="the browser process is killed then")
    nav_timeout_seconds: float = Field(default=20, ge=1, le=300)
    resource_timeout_seconds: float = Field(default=10, ge=1, le=120)
    width: int = Field(default=1280, ge=320, le=4000)
    max_height: int = Field(default=15000, ge=500, le=60000, description="CSS pixels; taller pages are cut")
    max_resources: int = Field(default=100, ge=0, le=1000, description="sub-requests served per page")
    retry_minutes: list[int] = Field(default_factory=lambda: [5, 30, 120, 720], min_length=1,
                                     description="wait after the 1st, 2nd, … failed attempt (the last repeats)")
    live_attempts: int = Field(default=3, ge=1, le=20, description="failed live attempts before the capture "
                               "is shot instead (when the article has one)")

    @field_validator("retry_minutes")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(m < 1 for m in v):
            raise ValueError("every wait must be at least 1 minute")
        return v


class DeletionWatchOptions(_Strict):
    enabled: bool = True
    open_every_minutes: int = Field(default=30, ge=1, description="re-check cadence while the incident is active")
    closed_every_minutes: int = Field(default=1440, ge=1, description="cadence once it is closed or reviewed")
    closed_for_days: int = Field(default=30, ge=0, description="stop watching this many days after closing")
    per_round: int = Field(default=20, ge=1, le=500, description="checks per pipeline round at most")
    timeout_seconds: float = Field(default=15, ge=1, le=120)
    per_host_delay_seconds: float = Field(default=1.0, ge=0, le=60, description="between two checks of one host")
    max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    failure_backoff_minutes: int = Field(default=10, ge=1, description="first retry after a failed check, "
                                         "doubling up to the cadence")
    notice_page_max_chars: int = Field(default=600, ge=20, description="a page showing a removal notice counts "
                                       "as removed only when its visible text is at most this long (an article "
                                       "quoting the words is not a removal page)")
    removal_notices: list[str] = Field(default_factory=lambda: list(DEFAULT_REMOVAL_NOTICES), min_length=1)
    json_message_keys: list[str] = Field(default_factory=lambda: ["error", "msg", "message", "errmsg",
                                                                   "error_msg"],
                                         description="top-level JSON keys whose text is read for a notice")

    @field_validator("removal_notices")
    @classmethod
    def _notices(cls, v: list[str]) -> list[str]:
        cleaned = [s.strip() for s in v]
        if any(len(s.replace("…", "")) < 2 for s in cleaned):
            raise ValueError("每条删除提示至少 2 个字 (each notice needs at least 2 characters)")
        return cleaned

    def notice_patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        """(notice, compiled pattern): ``…`` matches up to 80 characters of anything, whitespace is ignored."""
        out = []
        for notice in self.removal_notices:
            parts = [re.escape("".join(p.split())) for p in notice.split("…")]
            out.append((notice, re.compile(r".{0,80}?".join(parts), re.S)))
        return out


class EvidenceConfig(_Strict):
    screenshots: ScreenshotOptions = Field(default_factory=ScreenshotOptions)
    deletion_watch: DeletionWatchOptions = Field(default_factory=DeletionWatchOptions)


def load_evidence_config(path: Path | str) -> EvidenceConfig:
    """Load ``config/evidence.yaml``; errors name the file and the field. A missing file means the defaults."""
    return load_model(path, EvidenceConfig) if Path(path).exists() else EvidenceConfig()
