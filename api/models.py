"""Tables owned by the API: dashboard users (a person of the org chart with a login), API tokens, the login
throttle (failed sign-ins counted per login name and per client address) and the answers given under an
Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONType, UTCDateTime


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[str | None] = mapped_column(String(64), doc="org chart person id")
    name: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list] = mapped_column(JSONType, default=list)
    unit_id: Mapped[str] = mapped_column(String(64), doc="scope: this unit and everything under it")
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_epoch: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0",
        doc="bumped on logout and password change: every cookie signed with an older epoch stops working")
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0",
        doc="set for seeded and admin-set passwords: the dashboard admits nothing else until the user picks one")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deactivated_reason: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="when the token stops working; None only on tokens issued before expiry existed, which "
        "expire the default lifetime after their creation")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed sign-ins of one login name or one client address within the current window, and its lock-out.

    Stored in the database, not in process memory, so every API process behind a load balancer sees the same
    counts and a restart does not reset an attacker's budget.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), doc="'login' or 'address'")
    key: Mapped[str] = mapped_column(String(128))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lockouts: Mapped[int] = mapped_column(Integer, default=0, doc="consecutive lock-outs: each one lasts longer")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """A create answered under an ``Idempotency-Key`` header (``api.idempotency``): a retry with the same key and
    the same request gets this answer again instead of a second report, statement or incident."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True,
                                     doc="the key scoped to its caller (incidents.complaints.flows.scoped_key)")
    fingerprint: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the route and the request body")
    status_code: Mapped[int | None] = mapped_column(Integer, doc="None while the first request is still running")
    response: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
