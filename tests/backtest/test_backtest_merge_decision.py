"""``incident_merged`` in a backtest's decisions: read back from the ``merged_into`` timeline event a merge writes
(the pipeline never merges by itself, so the test merges the two cases a replay opened, as a commander would,
then reads the decisions again)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from incidents.merge import merge_incident
from incidents.models import Incident
from runner.backtest.decisions import collect
from runner.backtest.input import read_lines
from runner.backtest.replay import ReplayOptions, open_database, prepare_settings, replay
from sentiment.rules import RuleBasedClassifier
from yuqing.clock import FrozenClock

ITEMS = [
    {"id": "a1", "published_at": "2026-11-23T09:00:00", "source_type": "weibo",
     "text": "示例银行新华路网点不让七旬老人取自己的钱！柜员态度恶劣，老人排队两小时还被拒，太寒心了",
     "reposts": 3000, "comments": 1200},
    {"id": "a2", "published_at": "2026-11-23T09:30:00", "source_type": "news",
     "title": "老人到示例银行新华路网点取款被拒",
     "text": "记者了解到，示例银行江城分行新华路网点一位七旬老人取款5万元被拒，家属发布视频后引发关注。银行暂未回应。"},
    {"id": "b1", "published_at": "2026-11-23T09:40:00", "source_type": "weibo",
     "text": "听说示例银行滨江支行要出事了，存款取不出来，大家赶紧去取钱吧！已经有人在门口排队挤兑",
     "reposts": 2500, "comments": 900},
    {"id": "b2", "published_at": "2026-11-23T09:50:00", "source_type": "news", "title": "示例银行滨江支行门口排长队",
     "text": "有网友称示例银行滨江支行出现挤兑，支行门口排起长队，银行暂未回应。"},
]


def test_a_merge_in_the_replayed_database_comes_out_as_incident_merged(tmp_path: Path, org):
    lines, _ = read_lines(json.dumps(i, ensure_ascii=False) for i in ITEMS)
    settings = prepare_settings(tmp_path, config_dir=None, db_url=None)
    engine = open_database(settings, throwaway=True)
    try:
        done = asyncio.run(replay(lines, settings, engine, ReplayOptions(tail=timedelta(hours=1)),
                                  classifier=RuleBasedClassifier()))
        before = collect(done)
        assert not [d for d in before["decisions"] if d["decision"] == "incident_merged"]
        with done.rt.session_factory() as session:
            cases = session.query(Incident).order_by(Incident.id).all()
            assert len(cases) == 2, [(c.unit_id, c.title) for c in cases]
            a, b = cases
            clock = FrozenClock(done.stats.end + timedelta(minutes=5))
            merge_incident(session, incident_id=b.id, into_id=a.id, user_login="liuqiang", reason="同一事件",
                           org=org, policy=done.rt.policy, clock=clock)
            session.commit()
            a_id, b_id, a_number = a.id, b.id, a.number
        after = collect(done)
    finally:
        engine.dispose()
    merged = [d for d in after["decisions"] if d["decision"] == "incident_merged"]
    assert len(merged) == 1
    d = merged[0]
    assert d["incident"] == b_id and d["into"] == a_id and d["into_number"] == a_number and d["by"] == "liuqiang"
    assert set(d["items"]) == {"b1", "b2"}  # the merged case's story's items
    statuses = {i["id"]: i["status"] for i in after["summary"]["incidents"]}
    assert statuses[b_id] == "merged" and statuses[a_id] != "merged"
