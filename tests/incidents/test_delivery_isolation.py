"""Delivery isolation with real services at the edge: an SMTP "blackhole" (accepts connections, never answers) must
not hold up the webhook or the in-app inbox, must cost no more than the round's time budget, and trips the email
channel's circuit breaker; once a real SMTP server (aiosmtpd) is back on the same port, every mail goes out exactly
once. A crash in the middle of a round re-sends nothing that was already recorded as sent."""

from __future__ import annotations

import asyncio
import contextlib
import email
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from receiver import SECRETS, running_receiver
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from incidents import service
from incidents.models import Notification, TimelineEvent
from incidents.notify import CLAIM_MARGIN_SECONDS, ChannelBreakers, default_senders, deliver_pending
from incidents.policy import ChannelsFile
from sim.mailsink import MailSink

SETTINGS = SimpleNamespace(secret_key="isolation-tests-8Hq2Vd5Lk9Rt3Ws7Zb1Nc4Xm6Pj0Yf", api_host="127.0.0.1",
                           api_port=8000, config_dir="/etc/yuqing")
ENV = {"T_HOOK_SECRET": SECRETS["webhook"]}


class Blackhole:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word (a stalled mail relay)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.sock.close()
        for conn in self.accepted:
            conn.close()
        self._thread.join(timeout=5)


def isolation_policy(policy, *, smtp_port: int, hook_url: str, email: bool = True):
    channels = {"webhook": {"enabled": True, "url": hook_url, "secret_env": "T_HOOK_SECRET", "timeout_seconds": 2}}
    if email:
        channels["email"] = {"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                             "timeout_seconds": 2}
    return policy.model_copy(update={"channels": ChannelsFile.model_validate({
        "channels": channels, "links": {"base_url": "https://yuqing.jc.example"},
        "delivery": {"max_attempts": 5, "backoff_seconds": [60], "concurrency_per_channel": 1,
                     "round_budget_seconds": 3, "breaker_failures": 2, "breaker_cooldown_seconds": 120}})})


def run_round(session, pol, org, clock, breakers, senders=None):
    """One delivery round; returns the report and the seconds it took (inside the event loop)."""
    senders = senders or default_senders(pol, SETTINGS, ENV)

    async def timed():
        t0 = time.perf_counter()
        report = await deliver_pending(session, clock=clock, senders=senders, org=org,
                                       retry=pol.channels.delivery, breakers=breakers)
        return report, time.perf_counter() - t0

    return asyncio.run(timed())


def rows(session, channel):
    return list(session.scalars(select(Notification).where(Notification.channel == channel)
                                .order_by(Notification.id)))


def test_a_blackholed_smtp_server_delays_only_mail_and_the_mail_goes_out_once_it_is_back(
        session, org, policy, clock, make_story, make_risk):
    hole = Blackhole()
    sink = None
    with running_receiver() as receiver:
        try:
            pol = isolation_policy(policy, smtp_port=hole.port, hook_url=f"{receiver.base}/webhook")
            service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="II", score=80),
                                      org=org, policy=pol, clock=clock)
            session.commit()
            mails = rows(session, "email")
            assert len(mails) >= 3  # enough mail that some is never tried this round
            delivery = pol.channels.delivery
            ticks = [0.0]  # the breakers' own time, moved by the test (a real cool-down would only slow it down)
            breakers = ChannelBreakers(delivery.breaker_failures, delivery.breaker_cooldown_seconds,
                                       monotonic=lambda: ticks[0])

            started = time.perf_counter()
            report, blackholed = run_round(session, pol, org, clock, breakers)
            whole = time.perf_counter() - started
            # A 3 s budget: the round waited for it (the budget is the only thing that ends a send to the hole
            # before the socket's timeout); that it did not hang is checked below against a healthy round.
            assert blackholed >= delivery.round_budget_seconds, blackholed
            assert report.timed_out == ["email"] and report.breakers_opened == ["email"]
            assert breakers.state("email") == "open"
            # The webhook and the inbox were not held up: all delivered, each exactly once.
            for channel in ("webhook", "in_app"):
                assert {n.status for n in rows(session, channel)} == {"sent"}, channel
            hook_ids = Counter(r.json["notification_id"] for r in receiver.of("webhook"))
            assert set(hook_ids) == {n.id for n in rows(session, "webhook")} and set(hook_ids.values()) == {1}
            # Mail stays pending: one attempt timed out by the socket, one stopped by the budget, the rest untried.
            mails = rows(session, "email")
            assert {n.status for n in mails} == {"pending"}
            assert sorted(n.attempts for n in mails) == [0] * (len(mails) - 2) + [1, 1]
            assert report.skipped == {"email": len(mails) - 2}
            assert any("时限" in (n.last_error or "") for n in mails)

            # While the breaker is open the channel is skipped: no connection, no attempt, a note on the row.
            connections = len(hole.accepted)
            clock.advance(timedelta(seconds=61))
            report, skipping = run_round(session, pol, org, clock, breakers)
            # no connection, and no wait for the budget: quicker than the round that waited for it (an ordering,
            # not seconds, so that a loaded machine cannot fail it)
            assert len(hole.accepted) == connections and skipping < blackholed, (skipping, blackholed)
            assert report.skipped == {"email": len(mails)} and report.sent == 0
            assert sorted(n.attempts for n in rows(session, "email")) == [0] * (len(mails) - 2) + [1, 1]
            assert all("熔断" in (n.last_error or "") for n in rows(session, "email"))
            assert report.breakers["email"]["state"] == "open"

            # The relay comes back on the same port; after the cool-down every mail goes out exactly once.
            hole.close()
            sink = MailSink(port=hole.port).start()
            ticks[0] += delivery.breaker_cooldown_seconds + 1
            assert breakers.state("email") == "half_open"
            report, healthy = run_round(session, pol, org, clock, breakers)
            assert report.sent == len(mails) and report.failed == 0, report.errors
            # The blackholed round did not hang on the mail server (the straggling SMTP thread included): it took
            # no more than its budget, one socket timeout (2 s) and a margin scaled by what a round sending every
            # mail takes on this machine now (measured just above, so a loaded machine raises both alike).
            limit = delivery.round_budget_seconds + 2 + 2 * healthy + 1
            assert blackholed < limit and whole < limit + 1, (blackholed, whole, healthy)
            assert breakers.state("email") == "closed" and report.breakers == {}
            assert {n.status for n in rows(session, "email")} == {"sent"}
            clock.advance(timedelta(minutes=30))
            assert run_round(session, pol, org, clock, breakers)[0].sent == 0
            sent_ids = Counter(email.message_from_bytes(m.raw)["X-Yuqing-Notification"] for m in sink.messages)
            assert set(sent_ids) == {str(n.id) for n in mails} and set(sent_ids.values()) == {1}
            assert len(receiver.of("webhook")) == len(hook_ids)  # nothing re-sent on the webhook either
        finally:
            hole.close()
            if sink is not None:
                sink.stop()


class SimulatedCrash(BaseException):
    """The process dying: not an ``Exception``, so delivery does not treat it as a channel failure."""


class CrashAfter:
    """Wraps a real sender; the ``k + 1``-th send reaches the receiver, then the process 'dies' before recording it."""

    def __init__(self, sender, k: int):
        self.sender, self.k, self.calls = sender, k, []

    async def send(self, notification, person):
        self.calls.append(notification.id)
        confirmation = await self.sender.send(notification, person)
        if len(self.calls) == self.k + 1:
            raise SimulatedCrash(f"killed after sending notification {notification.id}")
        return confirmation


@pytest.mark.parametrize("k", [0, 2])
def test_a_crash_mid_round_resends_nothing_already_recorded(session, org, policy, clock, make_story, make_risk, k):
    with running_receiver() as receiver:
        pol = isolation_policy(policy, smtp_port=25, hook_url=f"{receiver.base}/webhook", email=False)
        service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="II", score=80),
                                  org=org, policy=pol, clock=clock)
        session.commit()
        hooks = rows(session, "webhook")
        assert len(hooks) > k + 1
        senders = default_senders(pol, SETTINGS, ENV)
        crashing = CrashAfter(senders["webhook"], k)
        with pytest.raises(SimulatedCrash):
            run_round(session, pol, org, clock, ChannelBreakers(), {**senders, "webhook": crashing})
        session.rollback()
        session.close()

        # A new process: a fresh session and fresh breakers. The claimed rows come back once their lease is over.
        fresh = sessionmaker(session.get_bind(), expire_on_commit=False)()
        try:
            recorded = {n.id for n in rows(fresh, "webhook") if n.status == "sent"}
            assert recorded == set(crashing.calls[:k])  # each send before the crash was committed on its own
            assert run_round(fresh, pol, org, clock, ChannelBreakers())[0].sent == 0  # still leased
            clock.advance(timedelta(seconds=pol.channels.delivery.round_budget_seconds + CLAIM_MARGIN_SECONDS))
            report, _ = run_round(fresh, pol, org, clock, ChannelBreakers())
            assert report.failed == 0, report.errors
            assert {n.status for n in rows(fresh, "webhook")} == {"sent"}
            received = Counter(r.json["notification_id"] for r in receiver.of("webhook"))
            in_flight = crashing.calls[k]
            # Messages 1..k: once. The one in flight when the process died: twice, with the same delivery id so the
            # receiver can drop it. Every other message: once.
            assert received[in_flight] == 2
            assert {i: c for i, c in received.items() if i != in_flight} == {n.id: 1 for n in hooks
                                                                             if n.id != in_flight}
            # The timeline records each message as sent exactly once.
            notified = Counter(e.data["notification_id"] for e in fresh.scalars(
                select(TimelineEvent).where(TimelineEvent.kind == "notified")))
            assert set(notified.values()) == {1}
        finally:
            fresh.close()


def test_the_delivery_settings_are_validated(policy):
    assert policy.channels.delivery.round_budget_seconds == 30  # config/channels.yaml
    with pytest.raises(ValueError, match=r"channels\.email\.timeout_seconds \(60\) is longer than delivery\.round"):
        ChannelsFile.model_validate({"channels": {"email": {"enabled": True, "timeout_seconds": 60}}})
    with pytest.raises(ValueError, match="concurrency_per_channel"):
        ChannelsFile.model_validate({"delivery": {"concurrency_per_channel": 0}})
    defaults = ChannelsFile().delivery
    assert (defaults.concurrency_per_channel, defaults.breaker_failures,
            defaults.breaker_cooldown_seconds) == (4, 3, 300)


def test_claims_a_database_outage_kept_from_being_settled_are_given_back_at_the_next_round(
        session, org, policy, clock, make_story, make_risk, monkeypatch):
    """The database goes away after a round claimed its rows: the outcomes cannot be recorded, nor the claims
    given back. The process's next round gives them back first, so the messages go out as soon as the database
    answers, not after the round's lease (budget + CLAIM_MARGIN_SECONDS: 90 s with the shipped settings)."""
    from sqlalchemy.exc import OperationalError

    with running_receiver() as receiver:
        pol = isolation_policy(policy, smtp_port=25, hook_url=f"{receiver.base}/webhook", email=False)
        service.handle_story_risk(session, story_risk=make_risk(story=make_story(), level="II", score=80),
                                  org=org, policy=pol, clock=clock)
        session.commit()
        pending = {n.id for n in session.scalars(select(Notification).where(Notification.status == "pending"))}
        assert len(pending) >= 2
        real_commit, commits = session.commit, [0]

        def commit_until_the_outage():
            commits[0] += 1
            if commits[0] > 2:  # _confirm_calls' and the claim's commits go through; then the server is gone
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            real_commit()

        monkeypatch.setattr(session, "commit", commit_until_the_outage)
        with pytest.raises(OperationalError):
            run_round(session, pol, org, clock, ChannelBreakers())
        monkeypatch.setattr(session, "commit", real_commit)
        session.rollback()
        leased = session.scalars(select(Notification).where(Notification.id.in_(pending))).all()
        assert all(n.status == "pending" and n.next_attempt_at > clock.now() for n in leased)  # still claimed

        # The database is back, the clock has not moved: this process's next round sends every message.
        report, _ = run_round(session, pol, org, clock, ChannelBreakers())
        assert report.failed == 0, report.errors
        assert {n.status for n in session.scalars(select(Notification).where(Notification.id.in_(pending)))} \
            == {"sent"}
