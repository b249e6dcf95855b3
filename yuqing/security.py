"""Start-up checks that keep an installation from running in a state anyone could take over.

``require_secret_key``: the session cookie is signed with ``YUQING_SECRET_KEY``; a known or short key lets anyone
forge any user's session, so ``yuqing run`` and ``yuqing api`` refuse to start without a strong one. The demo
generates a random key for each run instead (its sessions end with it).

``database kind``: ``yuqing demo`` seeds users with a password printed in the README and fills the database with
simulated articles. It marks the databases it creates (``deployment_facts.kind = demo``) and refuses any other
database that already holds data; ``yuqing run`` and ``yuqing api`` refuse a database marked as a demo one.
"""

from __future__ import annotations

import secrets
from typing import Literal

from sqlalchemy import func, inspect, select, table
from sqlalchemy.orm import Session

from yuqing.clock import Clock
from yuqing.errors import ConfigError
from yuqing.models import DeploymentFact

MIN_SECRET_KEY_LENGTH = 32
# Keys that have shipped in this project's defaults or that people type when told "set a secret".
KNOWN_WEAK_KEYS = frozenset({
    "dev-only-change-me", "change-me", "changeme", "secret", "secret-key", "secretkey", "yuqing", "yuqing-demo",
    "test", "password", "please-change-me", "insecure",
})
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
DEMO_KIND = "demo"
KIND_KEY = "kind"

DatabaseKind = Literal["empty", "demo", "production"]


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` must not sign sessions, or None when it is acceptable."""
    if not key.strip():
        return "未设置 is not set"
    if key.strip().lower() in KNOWN_WEAK_KEYS:
        return "使用了公开的默认值 is a publicly known default"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"太短 is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    if len(set(key)) < 8:
        return "过于简单 has too few distinct characters"
    return None


def require_secret_key(key: str) -> None:
    """Raise a ``ConfigError`` naming ``YUQING_SECRET_KEY`` and how to generate one unless ``key`` is strong."""
    problem = secret_key_problem(key)
    if problem is not None:
        raise ConfigError("environment / .env", [(
            "YUQING_SECRET_KEY",
            f"{problem}; it signs dashboard sessions, so a weak key lets anyone sign in as anyone. "
            f"Generate one with: {GENERATE_HINT} and set it in the environment or .env")])


def random_secret_key() -> str:
    """A fresh key for a process that keeps no sessions beyond its own life (the demo)."""
    return secrets.token_urlsafe(48)


def database_kind(session: Session) -> DatabaseKind:
    """``demo`` when the demo marked it, ``empty`` when it holds no users, articles or incidents, else
    ``production``."""
    fact = session.get(DeploymentFact, KIND_KEY)
    if fact is not None and fact.value == DEMO_KIND:
        return "demo"
    tables = set(inspect(session.get_bind()).get_table_names())
    for name in ("users", "articles", "incidents", "alerts"):
        if name in tables:
            count = session.scalar(select(func.count()).select_from(table(name)))
            if count:
                return "production"
    return "empty"


def claim_for_demo(session: Session, *, clock: Clock, where: str) -> None:
    """Mark an empty database as the demo's; refuse (``ConfigError``) one that holds anything else."""
    kind = database_kind(session)
    if kind == "production":
        raise ConfigError(where, [("YUQING_DATABASE_URL", (
            "this database already holds users or data and was not created by `yuqing demo`; the demo would "
            "write simulated articles and its public demo password into it. Point YUQING_DATABASE_URL at an "
            "empty database, or unset it to use var/demo.db"))])
    if kind == "empty":
        session.merge(DeploymentFact(key=KIND_KEY, value=DEMO_KIND, set_at=clock.now()))
        session.commit()


def refuse_demo_database(session: Session, *, where: str) -> None:
    """``yuqing run`` / ``yuqing api``: a demo database has public passwords and simulated data."""
    if database_kind(session) == "demo":
        raise ConfigError(where, [("YUQING_DATABASE_URL", (
            "this database was created by `yuqing demo`: its logins use the public demo password and its "
            "articles are simulated. Use a database of its own for `yuqing run` (the default var/yuqing.db)"))])

