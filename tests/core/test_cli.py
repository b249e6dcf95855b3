"""The ``yuqing`` command line: every command has help, config errors exit 2 with the file and field, and the
user commands manage logins, passwords and API tokens on a real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.models import ApiToken, User
from runner.cli import app
from yuqing.settings import PROJECT_ROOT

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    return tmp_path


def test_every_command_has_help():
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    commands = ["migrate", "check-config", "demo", "sim", "run", "api", "extract", "classify", "user"]
    for name in commands:
        assert name in top.output
        assert runner.invoke(app, [name, "--help"]).exit_code == 0, name
    for sub in ["seed", "password", "token"]:
        assert runner.invoke(app, ["user", sub, "--help"]).exit_code == 0, sub


def test_check_config_passes_on_the_shipped_config_and_names_the_bad_field(env, monkeypatch, tmp_path):
    ok = runner.invoke(app, ["check-config"])
    assert ok.exit_code == 0 and "13 units" in ok.output
    bad = tmp_path / "org.yaml"
    bad.write_text((PROJECT_ROOT / "config" / "org.yaml").read_text(encoding="utf-8")
                   .replace("kind: outlet", "kind: kiosk", 1), encoding="utf-8")
    monkeypatch.setenv("YUQING_ORG_FILE", str(bad))
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 2
    assert "org.yaml" in result.output and "units.5.kind" in result.output


def test_bad_environment_setting_exits_2(env, monkeypatch):
    monkeypatch.setenv("YUQING_LOG_LEVEL", "LOUD")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 2 and "YUQING_LOG_LEVEL" in result.output


def test_migrate_then_user_seed_password_and_token(env):
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    seeded = runner.invoke(app, ["user", "seed"], input="first-password-1\nfirst-password-1\n")
    assert seeded.exit_code == 0, seeded.output
    assert "wangmin" in seeded.output and "liuqiang" in seeded.output
    short = runner.invoke(app, ["user", "password", "wangmin"], input="short\nshort\n")
    assert short.exit_code == 2 and "at least" in short.output
    changed = runner.invoke(app, ["user", "password", "wangmin"], input="second-password\nsecond-password\n")
    assert changed.exit_code == 0
    token = runner.invoke(app, ["user", "token", "wangmin", "--name", "监测大屏"])
    assert token.exit_code == 0
    value = token.output.strip().splitlines()[-1]
    assert runner.invoke(app, ["user", "token", "nobody"]).exit_code == 2

    engine = create_engine(f"sqlite:///{env / 'yuqing.db'}")
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.login == "wangmin"))
        assert user.session_epoch == 1
        row = s.scalar(select(ApiToken))
        assert row.name == "监测大屏" and value not in row.token_hash
    engine.dispose()


def test_extract_prints_the_stable_json_shape(tmp_path):
    page = tmp_path / "a.html"
    page.write_text("<html><head><title>示例银行新华路网点回应 - 江城晚报网</title>"
                    '<meta property="article:published_time" content="2026-11-23T09:15:00+08:00"></head>'
                    "<body><h1>示例银行新华路网点回应</h1><div class='article-content'><p>记者 周晓雯</p>"
                    "<p>针对网传视频，示例银行江城分行表示已向客户致歉，并说明大额取现需提前预约。</p>"
                    "</div></body></html>", encoding="utf-8")
    result = runner.invoke(app, ["extract", str(page)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"title", "published_at", "author", "text"}
    assert data["title"] == "示例银行新华路网点回应"
    # the page says 09:15 with no zone: Beijing time, printed in the page's zone (the same instant as 01:15 UTC)
    assert data["published_at"] == "2026-11-23T09:15:00+08:00"
    assert "已向客户致歉" in data["text"]


def test_ingest_failed_lists_set_aside_articles_and_requeue_puts_them_back(env):
    from datetime import UTC, datetime

    from crawlers.models import Article, ArticleStage

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = create_engine(f"sqlite:///{env / 'yuqing.db'}")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with Session(engine) as s:
        for i, stage in enumerate([ArticleStage.ingest_failed, ArticleStage.ingest_failed, ArticleStage.matched]):
            s.add(Article(source_id="jcwb-rss", channel="news", url=f"https://news.example.cn/a/{i}.html",
                          url_hash=f"{i:064d}", title=f"标题{i}", text="正文", fetched_at=now, stage=stage,
                          content_hash=f"{i:064x}",
                          meta={"ingest_error": {"error": "ValueError: boom", "at": now.isoformat()}}))
        s.commit()
    listed = runner.invoke(app, ["ingest", "failed"])
    assert listed.exit_code == 0
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    assert [line.split("\t")[2] for line in lines] == ["https://news.example.cn/a/0.html",
                                                       "https://news.example.cn/a/1.html"]
    assert "ValueError: boom" in lines[0]
    assert runner.invoke(app, ["ingest", "requeue", "1"]).stdout.strip() == "1 requeued"
    assert runner.invoke(app, ["ingest", "requeue"]).stdout.strip() == "1 requeued"
    with Session(engine) as s:
        stages = [a.stage for a in s.scalars(select(Article).order_by(Article.id))]
    engine.dispose()
    assert stages == [ArticleStage.fetched, ArticleStage.fetched, ArticleStage.matched]
