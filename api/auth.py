"""Authentication primitives: password hashes, the signed session cookie, CSRF tokens and API tokens.

Passwords are hashed with argon2id (argon2-cffi). The dashboard session is a cookie signed with
``settings.secret_key`` (itsdangerous) carrying the user id and a per-session CSRF token; it is HttpOnly and
SameSite=Lax, and every form POST must echo the CSRF token in a hidden field. API clients use bearer tokens of
which only a SHA-256 hash is stored (``api_tokens``), so a leaked database does not leak usable tokens.

Password hashing is deliberately expensive (argon2id: ~0.1 s and 64 MiB each), so it is also a way to exhaust
the server: ``PasswordGate`` lets one hash run at a time (configurable), keeps a short queue, and turns the rest
away at once with 503 instead of letting guessers take every worker thread, every database connection and gigabytes
of memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "yuqing_session"
SESSION_MAX_AGE_S = 12 * 3600  # one working shift and then some
CSRF_FIELD = "csrf_token"
API_TOKEN_PREFIX = "yq_"

T = TypeVar("T")
# One hash at a time leaves a core for everyone else's requests: measured with `python -m bench login-flood`
# (docs/benchmarks.md), reads under 40 guessers were about 16× baseline at p50 with one, 44× with two, and
# ~1,000× with no gate. One argon2id check takes 0.1–0.4 s here, so one slot still signs in several people a second.
HASH_CONCURRENCY = 1
HASH_QUEUE = 32  # checks allowed to wait (holding neither a thread nor a database connection); beyond: 503

# Replaceable (tests use cheaper parameters); verification reads the parameters from the stored hash.
password_hasher = PasswordHasher()
# Verified against when a login names no user, so "no such user" costs as long as "wrong password".
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return password_hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; never raises on a malformed hash."""
    try:
        return password_hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    try:
        return password_hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def burn_password_check(password: str) -> None:
    """Spend the time of one verification without a user, against login-name enumeration by timing."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(16))
    verify_password(_DUMMY_HASH, password)


class PasswordGateBusy(Exception):
    """Too many password checks are running or waiting; the caller should answer 503 with Retry-After."""


class PasswordGate:
    """Runs password checks in worker threads, ``concurrency`` at a time, with at most ``queue`` waiting.

    Waiting happens on the event loop (an anyio limiter), not in a thread, so a crowd of guessers never takes the
    threads that serve ordinary requests.
    """

    def __init__(self, concurrency: int = HASH_CONCURRENCY, queue: int = HASH_QUEUE):
        self.concurrency, self.queue = concurrency, queue
        self._limiter: anyio.CapacityLimiter | None = None
        self.pending = 0
        self.refused = 0

    async def run(self, fn: Callable[[], T]) -> T:
        if self.pending >= self.concurrency + self.queue:
            self.refused += 1
            raise PasswordGateBusy
        if self._limiter is None:  # created inside the running loop
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
        finally:
            self.pending -= 1


@dataclass(frozen=True)
class SessionData:
    """What the session cookie carries: the signed-in user (None before login) and the CSRF token."""

    user_id: int | None
    csrf: str
    epoch: int = 0


class SessionSigner:
    """Signs and reads the session cookie value."""

    def __init__(self, secret_key: str, *, max_age_s: int = SESSION_MAX_AGE_S):
        self._serializer = URLSafeTimedSerializer(secret_key, salt="yuqing.session")
        self.max_age_s = max_age_s

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps({"uid": data.user_id, "csrf": data.csrf, "ep": data.epoch})

    def loads(self, value: str | None) -> SessionData | None:
        """The session in ``value``, or None when absent, expired, tampered with or malformed."""
        if not value:
            return None
        try:
            raw = self._serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(raw, dict):
            return None
        uid, csrf, epoch = raw.get("uid"), raw.get("csrf"), raw.get("ep", 0)
        if (uid is not None and not isinstance(uid, int)) or not isinstance(csrf, str) or len(csrf) < 16:
            return None
        if not isinstance(epoch, int):
            return None
        return SessionData(user_id=uid, csrf=csrf, epoch=epoch)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a form sent back."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_api_token() -> str:
    """A fresh bearer token (shown to its owner once; only its hash is stored)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
