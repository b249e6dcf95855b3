"""Login throttling: failed sign-ins counted per login name and per client address, with lock-out and audit.

Why both keys: per login stops guessing one person's password from many addresses; per address stops one client
trying a common password against every login. Counts live in ``login_throttle`` (shared by every API process,
kept across restarts). A locked key is refused *before* any password hash is computed, so a guessing client
costs the server almost nothing once it is locked out. Each lock-out lasts twice as long as the one before
(up to ``max_lockout``) until a successful sign-in resets the login's count; addresses are never reset by a
success (one valid account must not buy an attacker a fresh budget). Locking a login that does not exist
behaves exactly like locking one that does, so lock-outs reveal no login names.

Every lock-out is written to the audit log; ``yuqing user unlock LOGIN`` lifts one early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import audit
from api.models import LoginThrottle
from yuqing.clock import Clock

LOGIN, ADDRESS = "login", "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    login_failures: int = 5  # failed sign-ins of one login name within ``window`` before it is locked
    address_failures: int = 20  # failed sign-ins from one address within ``window`` before it is locked
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)  # the first lock-out; each further one doubles
    max_lockout: timedelta = timedelta(hours=24)

    def limit(self, scope: str) -> int:
        return self.login_failures if scope == LOGIN else self.address_failures


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True)
class Lock:
    scope: str
    until: datetime

    def minutes_left(self, now: datetime) -> int:
        return max(1, -(-int((self.until - now).total_seconds()) // 60))


def current_lock(session: Session, *, login: str, address: str, clock: Clock) -> Lock | None:
    """The lock-out in force for this login name or address, if any (the later one when both are locked)."""
    now = clock.now()
    rows = session.scalars(select(LoginThrottle).where(
        ((LoginThrottle.scope == LOGIN) & (LoginThrottle.key == _login_key(login)))
        | ((LoginThrottle.scope == ADDRESS) & (LoginThrottle.key == address[:128])))).all()
    locks = [Lock(r.scope, r.locked_until) for r in rows if r.locked_until is not None and r.locked_until > now]
    return max(locks, key=lambda lock: lock.until) if locks else None


def record_failure(session: Session, *, login: str, address: str, clock: Clock,
                   policy: ThrottlePolicy = DEFAULT_POLICY) -> Lock | None:
    """Count one failed sign-in against both keys; returns the lock-out it triggered, if any (audited)."""
    triggered: Lock | None = None
    for scope, key in ((LOGIN, _login_key(login)), (ADDRESS, address[:128])):
        lock = _count(session, scope=scope, key=key, clock=clock, policy=policy)
        if lock is not None:
            what = "登录名" if scope == LOGIN else "来源地址"
            audit.record(session, clock=clock, actor="system", action="login.locked", object_type=scope,
                         object_id=key, detail=f"连续登录失败，{what}已锁定至 {lock.until.isoformat()}",
                         data={"until": lock.until.isoformat(), "scope": scope})
            triggered = triggered or lock
    return triggered


def record_success(session: Session, *, login: str) -> None:
    """A correct password resets the login name's count and lock-out history (never the address's)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope == LOGIN,
                                                LoginThrottle.key == _login_key(login)))


def unlock(session: Session, *, login: str) -> bool:
    """Lift a login name's lock-out (an admin's act); True when there was something to lift."""
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.scope == LOGIN,
                                                         LoginThrottle.key == _login_key(login)))
    return bool(result.rowcount)


def _count(session: Session, *, scope: str, key: str, clock: Clock, policy: ThrottlePolicy) -> Lock | None:
    now = clock.now()
    row = _row(session, scope=scope, key=key, now=now)
    if now - row.window_started_at > policy.window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures < policy.limit(scope):
        return None
    row.lockouts += 1
    duration = min(policy.max_lockout, policy.lockout * 2 ** (row.lockouts - 1))
    row.locked_until, row.failures, row.window_started_at = now + duration, 0, now
    return Lock(scope, row.locked_until)


def _row(session: Session, *, scope: str, key: str, now: datetime) -> LoginThrottle:
    """The throttle row for a key, created if missing (two processes racing to create it both end up with one)."""
    stmt = select(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key)
    row = session.scalar(stmt.with_for_update())
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = LoginThrottle(scope=scope, key=key, failures=0, lockouts=0, window_started_at=now)
            session.add(row)
    except IntegrityError:
        row = session.scalar(stmt.with_for_update())
        assert row is not None
    return row


def _login_key(login: str) -> str:
    return login.strip().lower()[:128]
