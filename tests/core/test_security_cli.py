"""Secure by default, from the command line: `yuqing run` / `yuqing api` refuse a missing or known secret key and a
demo database; `yuqing demo` refuses a database that is not a demo one; the user commands manage token expiry,
revocation, lock-outs and people who left the org chart."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.models import ApiToken, LoginThrottle, User
from runner.cli import app
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.errors import ConfigError
from yuqing.logs import configure_logging
from yuqing.models import AuditEntry, DeploymentFact
from yuqing.security import claim_for_demo, database_kind, refuse_demo_database, secret_key_problem
from yuqing.settings import PROJECT_ROOT

runner = CliRunner()
DEMO_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STRONG_KEY = "k3Jd9-Qx7Lm2Zp8Wv4Rt6Yb1Nc5Hf0Gs-AeUiOo"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    monkeypatch.setenv("YUQING_API_PORT", "1")  # never reached: every case here must stop before serving
    return tmp_path


@pytest.mark.parametrize("command", ["run", "api"])
@pytest.mark.parametrize("key", ["", "dev-only-change-me", "change-me", "short-key-123"])
def test_run_and_api_refuse_a_missing_default_or_short_secret_key(env, monkeypatch, command, key):
    monkeypatch.setenv("YUQING_SECRET_KEY", key)
    result = runner.invoke(app, [command])
    assert result.exit_code == 2, result.output
    assert "YUQING_SECRET_KEY" in result.output
    assert "secrets.token_urlsafe" in result.output, "the message says how to generate one"


def test_secret_key_rules():
    assert secret_key_problem(STRONG_KEY) is None
    assert secret_key_problem("a" * 40) is not None  # long but trivial
    assert secret_key_problem("  ") is not None


@pytest.mark.parametrize("command", ["run", "api"])
def test_run_and_api_refuse_a_demo_database(env, monkeypatch, command):
    monkeypatch.setenv("YUQING_SECRET_KEY", STRONG_KEY)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = create_engine(f"sqlite:///{env / 'yuqing.db'}")
    with Session(engine) as s:
        claim_for_demo(s, clock=FrozenClock(DEMO_START), where="test")
    engine.dispose()
    result = runner.invoke(app, [command])
    assert result.exit_code == 2, result.output
    assert "yuqing demo" in result.output and "YUQING_DATABASE_URL" in result.output


def test_demo_refuses_a_database_holding_users_or_data(env, monkeypatch):
    from runner.demo import DemoOptions, run_demo
    from yuqing.settings import load_settings

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    seeded = runner.invoke(app, ["user", "seed"], input="bank-initial-1\nbank-initial-1\n")
    assert seeded.exit_code == 0
    production = f"sqlite:///{env / 'yuqing.db'}"
    monkeypatch.setenv("YUQING_DATABASE_URL", production)
    with pytest.raises(ConfigError, match="not created by `yuqing demo`"):
        asyncio.run(run_demo(load_settings(), DemoOptions(headless=True)))
    engine = create_engine(production)
    with Session(engine) as s:
        hashes = {u.login: u.password_hash for u in s.scalars(select(User))}
        assert s.get(DeploymentFact, "kind") is None
    engine.dispose()
    assert len(hashes) > 5, "the bank's users are untouched"


def test_database_kinds_on_both_databases(session_factory):
    clock = FrozenClock(DEMO_START)
    with session_factory() as s:
        assert database_kind(s) == "empty"
        refuse_demo_database(s, where="x")  # an empty database is fine for `yuqing run`
        claim_for_demo(s, clock=clock, where="x")
        assert database_kind(s) == "demo"
        claim_for_demo(s, clock=clock, where="x")  # the demo may reuse its own database
        with pytest.raises(ConfigError, match="yuqing demo"):
            refuse_demo_database(s, where="x")
    with session_factory() as s:
        s.query(DeploymentFact).delete()
        s.add(AuditEntry(at=clock.now(), actor="a", action="b", object_type="c", object_id="d"))
        s.add(User(login="bank", name="行员", roles=["monitor"], unit_id="jiangcheng", password_hash="x",
                   created_at=clock.now()))
        s.commit()
        assert database_kind(s) == "production"
        with pytest.raises(ConfigError, match="not created by"):
            claim_for_demo(s, clock=clock, where="x")


def test_user_commands_expire_list_revoke_unlock_sync_and_activate(env, monkeypatch, tmp_path):
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["user", "seed"], input="bank-initial-1\nbank-initial-1\n").exit_code == 0
    issued = runner.invoke(app, ["user", "token", "wangmin", "--name", "大屏", "--days", "7"])
    assert issued.exit_code == 0 and "expires" in issued.output
    too_long = runner.invoke(app, ["user", "token", "wangmin", "--days", "400"])
    assert too_long.exit_code != 0
    listing = runner.invoke(app, ["user", "tokens"])
    assert listing.exit_code == 0
    row = listing.output.strip().splitlines()[-1].split("\t")
    assert row[1:3] == ["wangmin", "大屏"] and row[-1] == "active"
    assert runner.invoke(app, ["user", "revoke-token", row[0]]).exit_code == 0
    assert runner.invoke(app, ["user", "tokens", "wangmin"]).output.strip().split("\t")[-1] == "revoked"
    assert runner.invoke(app, ["user", "revoke-token", "999"]).exit_code == 2

    final = runner.invoke(app, ["user", "password", "liuqiang", "--final"], input="Script-only-pw-9\n" * 2)
    assert final.exit_code == 0
    temporary = runner.invoke(app, ["user", "password", "chenjing"], input="Reset-by-admin-9\n" * 2)
    assert temporary.exit_code == 0 and "next sign-in" in temporary.output

    engine = create_engine(f"sqlite:///{env / 'yuqing.db'}")
    factory = make_sessionmaker(engine)
    with factory() as s:
        flags = {u.login: u.must_change_password for u in s.scalars(select(User))}
        assert flags["liuqiang"] is False and flags["chenjing"] is True and flags["wangmin"] is True
        token = s.scalar(select(ApiToken))
        assert token.expires_at - token.created_at == timedelta(days=7) and token.revoked_by == "cli"
        s.add(LoginThrottle(scope="login", key="zhoufang", failures=0, lockouts=1,
                            window_started_at=token.created_at, locked_until=token.created_at + timedelta(days=1)))
        s.commit()
    unlocked = runner.invoke(app, ["user", "unlock", "zhoufang"])
    assert unlocked.exit_code == 0 and "lifted" in unlocked.output

    # zhoufang leaves the org chart: `yuqing user sync` deactivates the login; activation needs her back.
    org_text = tmp_path / "org.yaml"
    data = yaml.safe_load((PROJECT_ROOT / "config" / "org.yaml").read_text(encoding="utf-8"))
    data["people"] = [p for p in data["people"] if p["id"] != "zhoufang"]
    org_text.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("YUQING_ORG_FILE", str(org_text))
    synced = runner.invoke(app, ["user", "sync"])
    assert synced.exit_code == 0 and "deactivated: zhoufang" in synced.output
    assert runner.invoke(app, ["user", "activate", "zhoufang"]).exit_code == 2
    monkeypatch.delenv("YUQING_ORG_FILE")
    assert runner.invoke(app, ["user", "activate", "zhoufang"]).exit_code == 0
    with factory() as s:
        user = s.scalar(select(User).where(User.login == "zhoufang"))
        assert user.active and user.must_change_password
        assert s.scalar(select(LoginThrottle)) is None
        actions = {e.action for e in s.scalars(select(AuditEntry))}
        assert {"token.created", "token.revoked", "password.reset", "login.unlocked", "user.deactivated",
                "user.activated"} <= actions
    engine.dispose()


def test_log_lines_carry_no_secrets_or_personal_data():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = logging.getLogger("yuqing.test")
    log.warning("notification delivery failed for good", extra={
        "error": "550 5.1.1 <zhang.san@jc.shili-bank.example>: mailbox unavailable",
        "url": "https://api.weibo.example/search?q=x&access_token=2.00abcdefSECRET",
        "db": "postgresql+psycopg://yuqing:Pa55word!@db.internal:5432/yuqing"})
    log.info("sms to 13812345678 about complainant 420106199001011234 card 6222021234567890123 via yq_AbCdEfGhIjKl")
    seconds = 0.03551234567890923
    log.info("round", extra={"seconds": seconds, "articles": 1234567890123})
    configure_logging("INFO", stream=stream, as_json=True)
    log.warning("login", extra={"authorization": "Bearer abcdefghijkLMNOP"})
    out = stream.getvalue()
    for secret in ("zhang.san@", "2.00abcdefSECRET", "Pa55word!", "13812345678", "420106199001011234",
                   "6222021234567890123", "yq_AbCdEfGhIjKl", "abcdefghijkLMNOP"):
        assert secret not in out, secret
    assert "z***@jc.shili-bank.example" in out and "138****5678" in out
    assert f"seconds={seconds}" in out and "articles=1234567890123" in out, "ordinary numbers are left alone"
