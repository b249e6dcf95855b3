"""A bank-level post naming the places of two branches reaches both: replayed through ``yuqing backtest`` (the
model classifies, the real pipeline matches, scores and alerts) with an org chart of three branches, then read
through the API and the dashboard as each branch's monitor.

``tests/backtest/scenarios/two_branch_rumour.jsonl``: one calmly worded post (内部消息：示例银行江城和汉北两地的网点
现金已经不够了……) re-polled as it spreads to 25,300 interactions. It names the bank and the regions of 江城分行 and
汉北分行 but no unit, so it is the head office's story and alert (``crawlers.matching`` rule i); rule j adds a
mention for each branch, whose monitors must see the post, the story and the alert, and be told at each level —
while 东山分行, which it does not name, sees nothing. The branches read the alert; the head office acknowledges it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crawlers.models import Mention
from incidents.models import Alert, Notification
from incidents.reach import notify_reached, reached_units
from runner.cli import app as cli
from tests.helpers import config_with_more_branches
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import OrgChart, load_org

SCENARIO = Path(__file__).parents[1] / "backtest" / "scenarios" / "two_branch_rumour.jsonl"
BRANCH_MONITORS = {"wangmin", "zhaolei", "lina"}  # 江城分行's two, 汉北分行's one


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    """(database file, config directory, printed decisions) of one replay, shared by the module's tests."""
    tmp = tmp_path_factory.mktemp("reach")
    config = config_with_more_branches(tmp / "config")
    db_file = tmp / "replay.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YUQING_DATA_DIR", str(tmp))
        mp.delenv("YUQING_DATABASE_URL", raising=False)
        result = CliRunner().invoke(cli, ["backtest", "--input", str(SCENARIO), "--config", str(config),
                                          "--db", f"sqlite:///{db_file}"])
    assert result.exit_code == 0, result.stderr
    decisions = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    return db_file, config, decisions


@pytest.fixture
def org(replayed) -> OrgChart:
    return load_org(replayed[1] / "org.yaml")


@pytest.fixture
def db(replayed, tmp_path: Path):
    """A copy of the replayed database per test (the API tests write to it)."""
    copy = tmp_path / "api.db"
    with closing(sqlite3.connect(replayed[0])) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{copy}")
    yield make_sessionmaker(engine)
    engine.dispose()


def test_the_post_is_the_head_offices_alert_and_a_mention_of_each_branch_it_names(replayed, session):
    _db, _config, decisions = replayed
    summary = decisions[-1]["summary"]
    [alert] = summary["alert_list"]
    [incident] = summary["incidents"]
    assert alert["unit"] == incident["unit"] == "head-office" and incident["level"] == "I"
    mentions = {(m.unit_id, m.is_primary) for m in session.scalars(select(Mention))}
    assert mentions == {("head-office", True), ("jiangcheng", False), ("hanbei", False)}


def test_each_named_branchs_monitors_are_told_at_every_level_and_others_are_not(replayed, session):
    told = {(n.recipient_id, n.subject.split("】")[0]) for n in session.scalars(
        select(Notification).where(Notification.purpose == "alert_reach"))}
    levels = ["IV级（一般）", "III级（较大）", "I级（特别重大）"]
    assert told == {(p, f"【舆情预警·{lv}·涉及本辖区") for p in BRANCH_MONITORS for lv in levels}
    # the head office's monitor gets the alert itself (with its deadline); 东山分行's monitor nothing at all
    assert {n.recipient_id for n in session.scalars(select(Notification).where(Notification.purpose == "alert"))} \
        == {"yangfan"}
    assert session.scalar(select(Notification).where(Notification.recipient_id == "songtao")) is None
    body = session.scalar(select(Notification.body).where(Notification.recipient_id == "lina")) or ""
    assert "帖文点名了江城分行、汉北分行辖区的地点" in body and "由示例银行总行确认和处置" in body
    # the replay printed the same messages as decisions
    printed = {r for d in replayed[2] if d.get("purpose") == "alert_reach" for r in d["recipients"]}
    assert printed == BRANCH_MONITORS


def test_a_named_branchs_monitor_sees_the_alert_and_story_read_only(token_for, client, session):
    alert = session.scalar(select(Alert))
    assert alert is not None and alert.unit_id == "head-office"
    for login in ("lina", "wangmin"):
        headers = token_for(login)
        listed = client.get("/api/v1/alerts", headers=headers).json()
        assert [a["id"] for a in listed["items"]] == [alert.id] and listed["total"] == 1
        assert client.get("/api/v1/alerts?status=open", headers=headers).json()["total"] == 1
        stories = client.get("/api/v1/stories", headers=headers).json()["items"]
        assert [s["id"] for s in stories] == [alert.story_id]
        story = client.get(f"/api/v1/stories/{alert.story_id}", headers=headers)
        assert story.status_code == 200 and "汉北" in story.json()["articles"][0]["title"]
        articles = client.get("/api/v1/articles", headers=headers).json()["items"]
        assert len(articles) == 1
        # the head office owns it: no acknowledging, dismissing or reading its incident from a branch
        assert client.post(f"/api/v1/alerts/{alert.id}/ack", headers=headers).status_code == 403
        assert client.post(f"/api/v1/alerts/{alert.id}/dismiss", headers=headers,
                           json={"reason": "不是我们的"}).status_code == 403
        assert client.get(f"/api/v1/incidents/{alert.incident_id}", headers=headers).status_code == 403


def test_a_branch_the_post_does_not_name_sees_nothing_of_it(token_for, client, session):
    alert = session.scalar(select(Alert))
    assert alert is not None
    headers = token_for("songtao")
    assert client.get("/api/v1/alerts", headers=headers).json()["total"] == 0
    assert client.get("/api/v1/stories", headers=headers).json()["items"] == []
    assert client.get(f"/api/v1/stories/{alert.story_id}", headers=headers).status_code == 403
    assert client.get("/api/v1/articles", headers=headers).json()["items"] == []


def test_the_alerts_page_shows_it_to_the_branch_without_buttons_and_the_head_office_acknowledges(
        login_as, token_for, client, session):
    alert = session.scalar(select(Alert))
    assert alert is not None
    page = login_as("lina").get("/alerts").text
    card = page[page.index(f'id="alert-{alert.id}"'):]
    card = card[:card.index("</article>")]
    assert "由示例银行总行确认和处置；此处只读" in card
    assert f"/alerts/{alert.id}/ack" not in card and f"/incidents/{alert.incident_id}" not in card
    assert f'href="/stories/{alert.story_id}"' in card
    story = login_as("lina").get(f"/stories/{alert.story_id}")
    assert story.status_code == 200 and "由上级单位处置，此处只读" in story.text
    assert f"/incidents/{alert.incident_id}" not in story.text
    # the head office's page has the buttons, and its acknowledgement is the one that counts
    hq = login_as("yangfan").get("/alerts").text
    assert re.search(rf'action="/alerts/{alert.id}/ack"', hq) and "此处只读" not in hq
    r = client.post(f"/api/v1/alerts/{alert.id}/ack", headers=token_for("yangfan"))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"


def test_the_branch_monitors_message_is_a_receipt_not_an_acknowledgement(login_as, session, csrf_of):
    [n] = session.scalars(select(Notification).where(Notification.recipient_id == "lina",
                                                     Notification.subject.contains("I级（特别重大）"))).all()
    c = login_as("lina")
    inbox = c.get("/inbox").text
    assert "辖区知会" in inbox
    r = c.post(f"/inbox/{n.id}/ack", data={"csrf_token": csrf_of(inbox)})
    assert r.status_code == 303 and "done=ack" in r.headers["location"] and "ack_alert" not in r.headers["location"]
    session.expire_all()
    assert session.scalar(select(Alert.status)) == "open"


def test_an_alert_of_a_unit_gone_from_the_org_chart_reaches_nobody_and_raises_nothing(session, org, policy, clock):
    """The pipeline handles the risk rows of old alerts too; a unit removed from the org chart since is below
    nothing and above nothing, so nobody is told and nothing is asked of the chart about it."""
    alert = session.scalar(select(Alert))
    assert alert is not None and reached_units(session, org, alert) == ["jiangcheng", "hanbei"]
    alert.unit_id = "closed-branch"
    assert reached_units(session, org, alert) == []
    assert notify_reached(session, alert=alert, org=org, policy=policy, now=clock.now()) == 0
    session.rollback()
