"""Start ``yuqing api`` as a subprocess for a benchmark, and the credentials to call it with.

The server is the real command (``python -m runner.cli api --workers N``) on 127.0.0.1 and a free port, on the
given database, with a random secret key; it is stopped by its own process group id when the benchmark ends.
Credentials: an API token per login (``api.users.create_api_token``) and a dashboard session cookie signed with
the same key (``api.auth.SessionSigner``), so page routes are measured without going through argon2 sign-ins.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Credentials:
    tokens: dict[str, str] = field(default_factory=dict)  # login → bearer token
    cookies: dict[str, str] = field(default_factory=dict)  # login → session cookie value


TOKEN_NAME = "bench"


def credentials(db_url: str, secret_key: str, logins: list[str]) -> Credentials:
    """A fresh API token and a session cookie for each login (the users exist: ``seed_users`` ran).

    The login's earlier benchmark tokens (named :data:`TOKEN_NAME`) are deleted first: only their hashes are
    stored, so they cannot be reused, and a benchmark database kept between runs would otherwise gain a token row
    per login per run (the ``token.created`` audit entries stay, as the audit log is append-only)."""
    from sqlalchemy import delete, select
    from sqlalchemy.orm import Session

    from api import auth
    from api.models import ApiToken, User
    from api.users import create_api_token
    from yuqing.clock import SystemClock
    from yuqing.db import make_engine

    out = Credentials()
    signer = auth.SessionSigner(secret_key)
    engine = make_engine(db_url)
    with Session(engine) as session:
        for login in logins:
            user = session.scalar(select(User).where(User.login == login))
            if user is None:
                raise SystemExit(f"no user {login} in {db_url}")
            session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == TOKEN_NAME))
            out.tokens[login] = create_api_token(session, user=user, name=TOKEN_NAME, clock=SystemClock(), days=1)
            out.cookies[login] = signer.dumps(auth.SessionData(user_id=user.id, csrf=auth.new_csrf_token(),
                                                               epoch=user.session_epoch or 0))
        session.commit()
    engine.dispose()
    return out


class ApiServer:
    """``yuqing api --workers N`` on a free port; use as a context manager."""

    def __init__(self, db_url: str, *, workers: int = 1, secret_key: str | None = None,
                 argv: list[str] | None = None):
        """``argv``: another command serving the app on ``$YUQING_API_PORT`` instead of ``yuqing api`` (e.g. an
        older commit's app, for a before/after comparison on the same data)."""
        self.db_url, self.workers, self.argv = db_url, workers, argv
        self.secret_key = secret_key or secrets.token_urlsafe(48)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        env = {**os.environ, "YUQING_DATABASE_URL": self.db_url, "YUQING_SECRET_KEY": self.secret_key,
               "YUQING_API_HOST": "127.0.0.1", "YUQING_API_PORT": str(self.port), "YUQING_LOG_LEVEL": "WARNING",
               "HF_HUB_OFFLINE": "1"}
        argv = self.argv or [sys.executable, "-m", "runner.cli", "api", "--workers", str(self.workers)]
        self.proc = subprocess.Popen(argv,
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"yuqing api exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    time.sleep(1.0 if self.workers > 1 else 0)  # let every worker finish starting
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("yuqing api did not answer /healthz within 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group this Popen started: the server and its workers
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
