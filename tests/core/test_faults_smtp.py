"""Fault: the mail server down, then up — under ``yuqing run``'s stage loops (``runner.loop``), real clock, real SMTP.

Fetched articles about three outlets go through ingest, classify, score and incidents to alerts whose messages go
out on three channels: the in-app inbox, a webhook (a local receiver) and email — to a port where no mail server
listens yet (connection refused). The webhook and inbox messages are all delivered while mail cannot be; mail is
kept pending, retried with backoff behind the channel's circuit breaker (a handful of connection attempts, not one
per message per tick), never given up on; the admins are told the email channel stopped. Then a real SMTP server
(aiosmtpd, ``sim.mailsink``) starts on that port: every mail goes out exactly once (counted by the server, by the
``X-Yuqing-Notification`` header) and the admins are told the channel is back. The delivery-round details (a
blackholed relay, the round budget, a crash mid-round) are tests/incidents/test_delivery_isolation.py's.
"""

from __future__ import annotations

import asyncio
import email
import json
import shutil
import time
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import select

from incidents.models import Notification
from incidents.system_alerts import SYSTEM_HEALTH
from runner.loop import StageLoops
from runner.runtime import build_runtime
from sentiment.rules import RuleBasedClassifier
from sim.mailsink import MailSink
from tests.core.faults_services import free_port
from tests.core.test_faults_kill import seed_articles
from tests.core.workers_site import Receiver
from yuqing.clock import SystemClock
from yuqing.db import engine_for
from yuqing.migrate import upgrade
from yuqing.settings import PROJECT_ROOT, Settings

DOWN_SECONDS = 8.0  # mail is down at least this long after the webhook messages are all out
BREAKER = {"max_attempts": 10, "backoff_seconds": [1, 2, 3], "breaker_failures": 2, "breaker_cooldown_seconds": 2,
           "round_budget_seconds": 10, "concurrency_per_channel": 4}


def test_mail_waits_while_the_server_is_down_and_goes_out_once_when_it_is_back(tmp_path: Path, monkeypatch):
    hook, smtp_port = Receiver().start(), free_port()
    monkeypatch.setenv("T_HOOK_SECRET", "faults-smtp-hook-5Hd2Wq8Lx1")
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    (config / "sources.public.yaml").unlink(missing_ok=True)
    (config / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    channels = yaml.safe_load((config / "channels.yaml").read_text(encoding="utf-8"))
    channels["channels"]["webhook"].update(enabled=True, url=hook.url, secret_env="T_HOOK_SECRET")
    channels["channels"]["email"].update(enabled=True, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                         timeout_seconds=2)
    channels["delivery"].update(BREAKER)
    (config / "channels.yaml").write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'y.db'}"
    settings = Settings(data_dir=tmp_path, config_dir=config, database_url=url,
                        secret_key="faults-smtp-tests-3Kw8Nv1Qz6Lm4Xc9Rb2Td7Hp5Gj0Fs")
    engine = engine_for(settings)
    upgrade(engine)
    seed_articles(url)
    rt = build_runtime(settings, clock=SystemClock(), engine=engine, classifier=RuleBasedClassifier())
    rt.evidence_config = None

    def rows(channel: str, purpose: str | None = None) -> list[Notification]:
        with rt.session_factory() as s:
            q = select(Notification).where(Notification.channel == channel)
            if purpose:
                q = q.where(Notification.purpose == purpose)
            return list(s.scalars(q.order_by(Notification.id)))

    sink = None

    async def scenario() -> dict[str, float]:
        nonlocal sink
        stop = asyncio.Event()
        loops = StageLoops(rt, stop)
        runner = asyncio.create_task(loops.run(["ingest", "classify", "score", "incidents", "notify"]))
        t0 = time.monotonic()
        times: dict[str, float] = {}
        try:
            async def until(what: str, check, timeout: float = 90) -> None:
                deadline = time.monotonic() + timeout
                while not check():
                    assert time.monotonic() < deadline, f"gave up waiting for {what}"
                    assert not runner.done(), runner
                    await asyncio.sleep(0.1)
                times[what] = time.monotonic() - t0

            def hooks_out() -> bool:
                hooks = rows("webhook")
                return len(hooks) >= 3 and all(n.status == "sent" for n in hooks) and bool(rows("email"))

            await until("webhook delivered", hooks_out)
            await until("admins told mail stopped", lambda: any("暂停发送" in n.subject and n.status == "sent"
                                                                for n in rows("in_app", SYSTEM_HEALTH)))
            await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - t0)))
            times["mail down"] = time.monotonic() - t0
            mails = rows("email")
            times["attempts while down"] = sum(n.attempts for n in mails)
            assert {n.status for n in mails} == {"pending"}, [(n.status, n.last_error) for n in mails]
            assert all(n.attempts < BREAKER["max_attempts"] for n in mails)
            assert any("refused" in (n.last_error or "").lower() or "熔断" in (n.last_error or "") for n in mails)
            times["mails pending"] = len(mails)

            sink = MailSink(port=smtp_port).start()
            up = time.monotonic()
            await until("mail delivered", lambda: all(n.status == "sent" for n in rows("email"))
                        and any("已恢复" in n.subject for n in rows("in_app", SYSTEM_HEALTH)), timeout=60)
            times["mail out after the server came back"] = time.monotonic() - up
            await asyncio.sleep(1.5)  # a few more notify ticks: nothing goes out twice
        finally:
            stop.set()
            await runner
        return times

    try:
        times = asyncio.run(scenario())
        mails = rows("email")
        received = Counter(int(email.message_from_bytes(m.raw)["X-Yuqing-Notification"]) for m in sink.messages)
        hooks = Counter(json.loads(b)["notification_id"] for b in hook.posts)
    finally:
        hook.stop()
        if sink is not None:
            sink.stop()
        engine.dispose()
    print(f"\n{times}")
    # the other channels were not held up: every webhook message out (once) long before mail came back
    assert times["webhook delivered"] < times["mail down"]
    assert set(hooks) == {n.id for n in rows("webhook")} and set(hooks.values()) == {1}
    # retried with backoff behind the breaker: far fewer connection attempts than messages × notify ticks
    assert times["attempts while down"] <= 2 * DOWN_SECONDS / BREAKER["breaker_cooldown_seconds"] + 8
    # every mail delivered exactly once after the server came back
    assert set(received) == {n.id for n in mails} and set(received.values()) == {1}
    told = [n.subject for n in rows("in_app", SYSTEM_HEALTH)]
    episode = ["系统异常：通知渠道「电子邮件」暂停发送", "系统恢复：通知渠道「电子邮件」已恢复"]
    assert told == episode, told  # the admins: told once that mail stopped, once that it is back
