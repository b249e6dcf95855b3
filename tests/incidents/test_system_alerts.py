"""The admins' 系统状态 messages about database and Redis outages (``incidents.system_alerts``): several processes
reporting the same outage give one message; a later outage gives another; the texts say when and what it held up.
Both databases (the advisory lock is PostgreSQL's; SQLite has one writer anyway)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from incidents.models import Notification
from incidents.system_alerts import SYSTEM_HEALTH, report_outage
from yuqing.db import make_sessionmaker

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


def _report(session, org, policy, *, started, ended, where="h:1 的 ingest 阶段", service="database",
            phase="ended") -> int:
    n = report_outage(session, org=org, policy=policy, service=service, phase=phase, started=started, ended=ended,
                      now=ended or started, where=where, tz=TZ)
    session.commit()
    return n


def test_one_message_per_outage_whoever_reports_it(db_engine, org, policy):
    admins = [p for p in org.people if "admin" in {r.value for r in p.roles}]
    with make_sessionmaker(db_engine)() as s:
        first = _report(s, org, policy, started=T0, ended=T0 + timedelta(seconds=5))
        assert first >= len(admins)  # each admin, on each of their channels
        # other processes saw the same outage a little later / earlier: nothing more
        assert _report(s, org, policy, started=T0 + timedelta(seconds=2), ended=T0 + timedelta(seconds=7),
                       where="h:2 的 score 阶段") == 0
        assert _report(s, org, policy, started=T0 - timedelta(seconds=30), ended=T0 + timedelta(seconds=4)) == 0
        # an outage an hour later is news again
        later = _report(s, org, policy, started=T0 + timedelta(hours=1), ended=T0 + timedelta(hours=1, minutes=3))
        assert later == first
        rows = s.scalars(select(Notification).where(Notification.purpose == SYSTEM_HEALTH,
                                                    Notification.channel == "in_app")
                         .order_by(Notification.id)).all()
    assert len(rows) == 2 * len(admins)
    assert rows[0].subject == "系统异常已恢复：数据库（PostgreSQL）曾中断约 5 秒"
    assert "12月6日 10:00:00起无法访问，于12月6日 10:00:05恢复（由 h:1 的 ingest 阶段报告）" in rows[0].body
    assert "约 3 分钟" in rows[-1].subject
    assert {r.recipient_id for r in rows} == {p.id for p in admins}


def test_redis_is_told_when_it_goes_and_when_it_is_back(db_engine, org, policy):
    with make_sessionmaker(db_engine)() as s:
        assert _report(s, org, policy, service="redis", phase="began", started=T0, ended=None) > 0
        assert _report(s, org, policy, service="redis", phase="began", started=T0 + timedelta(seconds=20),
                       ended=None) == 0  # another crawl process noticed it too
        assert _report(s, org, policy, service="redis", phase="ended", started=T0,
                       ended=T0 + timedelta(minutes=10)) > 0
        subjects = s.scalars(select(Notification.subject).where(Notification.purpose == SYSTEM_HEALTH,
                                                                Notification.channel == "in_app")
                             .order_by(Notification.id)).all()
    assert subjects[0].startswith("系统异常：Redis") and subjects[-1].startswith("系统恢复：Redis")
