"""``yuqing run`` shows the admin console the delivery stage's own circuit breakers, through configuration reloads."""

from __future__ import annotations

from types import SimpleNamespace

from incidents.notify import ChannelBreakers
from runner.service import RuntimeBreakers


def test_the_console_reads_the_runtimes_current_breakers():
    clock = [100.0]
    rt = SimpleNamespace(breakers=ChannelBreakers(failures=2, cooldown_seconds=60, monotonic=lambda: clock[0]))
    seen = RuntimeBreakers(rt)
    assert seen.state("email") == "closed" and seen.retry_in("email") == 0.0
    rt.breakers.failure("email")
    assert rt.breakers.failure("email") is True
    clock[0] += 15
    assert seen.state("email") == "open" and seen.retry_in("email") == 45.0
    assert seen.state("webhook") == "closed"
    rt.breakers = ChannelBreakers(failures=2, cooldown_seconds=60)  # a reload with new delivery settings
    assert seen.state("email") == "closed"
    rt.breakers = None
    assert seen.state("email") == "closed" and seen.retry_in("email") == 0.0
