"""The ``platform:`` options of a source (kind ``platform``): which platform, the endpoint the bank supplies, and
where the credentials are — only the names of environment variables, never a secret in YAML.

Kept apart from ``crawlers.sources`` (which embeds it) so the adapters and the spider can read it without importing
the whole source loader.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PlatformName = Literal["weibo", "wechat", "douyin"]
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformCredentials(_Strict):
    """Either a ready access token (``token_env``) or an app id and secret exchanged for an expiring token
    (``app_id_env`` + ``app_secret_env``, OAuth client-credentials style). Values are read from the environment at
    crawl time."""

    token_env: str | None = Field(default=None, pattern=_ENV, description="variable holding an access token")
    app_id_env: str | None = Field(default=None, pattern=_ENV, description="variable holding the app id")
    app_secret_env: str | None = Field(default=None, pattern=_ENV, description="variable holding the app secret")
    token_url: str | None = Field(
        default=None, description="where app id + secret are exchanged for a token; default: the endpoint's "
        "/oauth2/token")

    @field_validator("token_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://", v.strip(), re.I):
            raise ValueError("must be an http:// or https:// URL")
        return None if v is None else v.strip()

    @model_validator(mode="after")
    def _one_mode(self) -> PlatformCredentials:
        oauth = self.app_id_env is not None or self.app_secret_env is not None
        if self.token_env is not None and oauth:
            raise ValueError("give token_env, or app_id_env and app_secret_env — not both")
        if oauth and (self.app_id_env is None or self.app_secret_env is None):
            raise ValueError("app_id_env and app_secret_env go together")
        if self.token_env is None and not oauth:
            raise ValueError("name token_env, or app_id_env and app_secret_env (environment variables)")
        if self.token_url is not None and not oauth:
            raise ValueError("token_url is for the app id + secret exchange")
        return self

    @property
    def exchanges(self) -> bool:
        return self.app_id_env is not None


class PlatformOptions(_Strict):
    """How to search a login-walled platform through an API the bank is entitled to (its licensed data vendor or
    its own accounts)."""

    name: PlatformName
    endpoint: str = Field(min_length=1, description="the API's base URL, as the vendor gives it")
    credentials: PlatformCredentials
    query: list[str] = Field(
        default_factory=list, description="search keywords, one search each; empty = the bank's name and aliases "
        "from the org chart")
    page_size: int = Field(default=20, ge=1, le=100)
    max_pages: int = Field(default=5, ge=1, le=50, description="pages read per keyword per poll")
    overlap_minutes: int = Field(
        default=60, ge=0, le=7 * 24 * 60, description="each poll searches from the newest stored post minus this, "
        "so late-indexed posts and moving counters are read again")
    max_wait_seconds: float = Field(
        default=60, ge=0, le=600, description="longest Retry-After a 429 may ask for before the poll gives up")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not re.match(r"^https?://", v, re.I):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("query")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        words = [w.strip() for w in v]
        if any(not w for w in words):
            raise ValueError("keywords must not be empty")
        return list(dict.fromkeys(words))

    @property
    def token_url(self) -> str:
        return self.credentials.token_url or f"{self.endpoint}/oauth2/token"
