"""``bench.serve.credentials`` run again on a kept benchmark database replaces the login's benchmark token (the
old one is deleted) instead of adding a row per run; other tokens of the user are left alone."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from api import auth
from api.models import ApiToken, User
from api.users import create_api_token, seed_users, user_for_token
from bench.serve import TOKEN_NAME, credentials
from yuqing.clock import SystemClock
from yuqing.db import make_engine, make_sessionmaker

SECRET = "bench-serve-tests-5Hq8Lm2Vn7Kd4Zc1Rb9Wt3Xp6Gj0Fs"


def test_a_second_run_replaces_the_benchmark_token(tmp_path, sqlite_template, org, monkeypatch):
    shutil.copy(sqlite_template, tmp_path / "bench.db")
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    monkeypatch.setattr(auth, "hash_password", lambda _password: "not-a-real-hash")  # no argon2 per user
    with factory() as session:
        users = seed_users(session, org, password="unused", clock=SystemClock(), must_change=False)
        admin = next(u for u in users if u.login == "admin")
        own = create_api_token(session, user=admin, name="integration", clock=SystemClock())  # not the bench's
        session.commit()

    first = credentials(url, SECRET, ["admin", "huangwei"])
    second = credentials(url, SECRET, ["admin", "huangwei"])

    with factory() as session:
        names = dict(session.execute(select(User.login, func.count(ApiToken.id)).join(ApiToken)
                                     .where(ApiToken.name == TOKEN_NAME).group_by(User.login)).all())
        assert names == {"admin": 1, "huangwei": 1}  # one each after two runs
        clock = SystemClock()
        assert user_for_token(session, token=first.tokens["admin"], clock=clock) is None  # the old one is gone
        assert user_for_token(session, token=second.tokens["admin"], clock=clock).login == "admin"
        assert user_for_token(session, token=second.tokens["huangwei"], clock=clock).login == "huangwei"
        assert user_for_token(session, token=own, clock=clock).login == "admin"  # left alone
    engine.dispose()
