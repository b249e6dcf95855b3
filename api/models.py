"""Tables owned by the API: dashboard users (a person of the org chart with a login) and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
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


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
