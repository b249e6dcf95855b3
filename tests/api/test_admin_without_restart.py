"""Done-when of the admin console: an admin adds a source and a keyword plan through the API while the pipeline
runs, and the very next round of the same ``Runtime`` crawls the new source (a local site) and matches the new
plan's word — no restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.users import create_api_token, seed_users
from crawlers.models import Article
from runner.runtime import build_runtime, run_round
from tests.static_site import StaticSite
from yuqing.clock import FrozenClock
from yuqing.settings import load_settings

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SECRET = "admin-console-test-secret-0123456789abcdef"
WORD = "暗访测试词七号"
ARTICLE = (f"<html><head><title>示例银行新华路网点被{WORD}</title></head><body><article>"
           f"<h1>示例银行新华路网点被{WORD}</h1><p>发布时间：2026-11-23 09:30</p>"
           f"<p>记者今天上午来到示例银行江城分行新华路网点，发现{WORD}一事，网点负责人表示将尽快核实。</p>"
           "<p>多名储户在网点门口等候办理业务，现场秩序正常。</p><p>记者将持续关注此事进展。</p>"
           "</article></body></html>")


@pytest.fixture
def site() -> Iterator[str]:
    with StaticSite() as web:
        base = web.base
        rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>本地新闻</title>'
               f"<item><title>示例银行新华路网点被{WORD}</title><link>{base}/news/1.html</link>"
               "<pubDate>Mon, 23 Nov 2026 09:30:00 +0800</pubDate></item></channel></rss>")
        web.add("/rss.xml", rss, "application/rss+xml; charset=utf-8")
        web.add("/news/1.html", ARTICLE)
        yield base


def test_a_source_and_a_keyword_plan_added_through_the_api_work_at_the_next_round(db_engine, site, tmp_path):
    clock = FrozenClock(NOW)
    settings = load_settings(data_dir=tmp_path, secret_key=SECRET, allow_private_sources=["local-news"])
    rt = build_runtime(settings, clock=clock, engine=db_engine)
    rt.crawl_overrides = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01}
    assert not any(s.enabled for s in rt.sources)  # the shipped sources.yaml is empty, the catalogue disabled
    with Session(db_engine) as session:
        admin = {u.login: u for u in seed_users(session, rt.org, password="Admin-pass-2026!", clock=clock,
                                                 must_change=False)}["admin"]
        token = create_api_token(session, user=admin, name="console", clock=clock)
        session.commit()
    app = create_app(settings=settings, session_factory=rt.session_factory, org=rt.org, clock=clock,
                     policy=rt.policy, sources=rt.sources)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        r = client.post("/api/v1/sources", headers=headers, json={
            "id": "local-news", "name": "本地新闻网", "kind": "rss", "channel": "news", "url": f"{site}/rss.xml",
            "authority": "local_media", "poll_interval": 60, "private_network": site.removeprefix("http://")})
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/keyword-plans", headers=headers,
                        json={"name": "暗访", "category": "service_attitude", "any": [WORD]})
        assert r.status_code == 201, r.text

    report = asyncio.run(run_round(rt))  # the same runtime, never rebuilt

    assert [s.id for s in rt.sources if s.enabled] == ["local-news"]
    assert report.crawled_sources == 1 and report.new_articles == 1, report
    with Session(db_engine) as session:
        article = session.scalars(select(Article).where(Article.source_id == "local-news")).one()
    match = article.meta["match"]
    assert match["primary_unit_id"] == "xinhualu"
    assert match["plan_hits"]["暗访"] == [WORD]
    assert "service_attitude" in match["categories"]
