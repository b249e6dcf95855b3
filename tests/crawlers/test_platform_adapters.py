"""Platform adapters (Weibo, WeChat public accounts, Douyin) against the simulated internet's token-protected vendor
API, on a real server on a free port: each source is written as YAML the way an admin would, loaded and crawled
with ``crawl_sources`` like ``yuqing run`` does, and what reaches the database is checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawlers.crawl import crawl_sources
from crawlers.models import Article, ArticleMetricSample, SourceState
from crawlers.platforms.base import ApiAnswerError
from crawlers.platforms.douyin import DouyinAdapter
from crawlers.platforms.wechat import WechatAdapter
from crawlers.platforms.weibo import WeiboAdapter
from crawlers.sources import SourceConfig, load_sources
from crawlers.spiders.platform import forget_tokens
from sim.content.platforms import DOUYIN, WECHAT
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import SimServer
from sim.vendor import DEFAULT_APP_ID, DEFAULT_APP_SECRET, DEFAULT_VENDOR_TOKEN, VendorState, place
from tests.sim.running import serving
from yuqing.errors import ConfigError
from yuqing.org import load_org
from yuqing.settings import PROJECT_ROOT

BANK_NAMES = load_org(PROJECT_ROOT / "config" / "org.yaml").bank.all_names()
INCIDENT_WECHAT = {"wx-jc-life", "wx-finance-view", "wx-rumour", "wx-official"}
INCIDENT_DOUYIN = {"dy-root", "dy-local-news", "dy-queue", "dy-official"}


@pytest.fixture
def sim(clock) -> Iterator[SimServer]:
    clock.set(DEFAULT_START + timedelta(hours=7))
    forget_tokens()
    server = SimServer(clock, build_scenario(DEFAULT_START), weibo_rate_limit=1000, vendor_token_ttl=1800)
    with serving(server):
        yield server
    forget_tokens()


def vendor(sim: SimServer) -> VendorState:
    return sim.app.state.vendor


def write_source(tmp_path: Path, sim: SimServer, platform: str, credentials: str, extra: str = "",
                 source_id: str | None = None) -> SourceConfig:
    endpoint = {"weibo": "/weibo/api", "wechat": "/vendor/wechat/v1", "douyin": "/vendor/douyin/v1"}[platform]
    path = tmp_path / "sources.yaml"
    path.write_text(f"""
sources:
  - id: {source_id or platform + "-vendor"}
    name: {platform}（数据服务商）
    kind: platform
    channel: social
    authority: self_media
    private_network: "{sim.host}:{sim.port}"
    platform:
      name: {platform}
      endpoint: {sim.base_url}{endpoint}
      credentials: {credentials}
{extra}""", encoding="utf-8")
    return load_sources(path)[0]


def crawl(source: SourceConfig, session_factory, clock, fast):
    results = asyncio.run(crawl_sources([source], session_factory=session_factory, clock=clock,
                                        settings_overrides=fast))
    return results[source.id]


def stored(session_factory, source_id: str) -> dict[str, Article]:
    with session_factory() as s:
        return {a.external_id: a for a in s.scalars(select(Article).where(Article.source_id == source_id))}


def test_wechat_and_douyin_adapters_bring_in_the_crisis_with_a_token(sim, tmp_path, session_factory, clock, fast,
                                                                     monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", DEFAULT_VENDOR_TOKEN)
    wechat_ids, video_ids = ({p.id: p.item.key for p in placed} for placed in place(sim.scenario))

    wechat = write_source(tmp_path, sim, "wechat", "{token_env: VENDOR_TOKEN}")
    result = crawl(wechat, session_factory, clock, fast)
    assert result.ok, result.errors
    articles = stored(session_factory, "wechat-vendor")
    keys = {wechat_ids[i] for i in articles}
    # the default query is the bank's names from the org chart: every article naming it, nothing else
    assert keys == {a.key for a in WECHAT if any(n in a.title + a.content for n in BANK_NAMES)}
    assert keys >= INCIDENT_WECHAT and "wx-other-bank" not in keys
    rumour = next(a for a in articles.values() if wechat_ids[a.external_id] == "wx-rumour")
    assert rumour.title == "紧急扩散！示例银行江城多个网点限制取现？有存款的注意了"
    assert "限制取现" in rumour.text and rumour.author == "江城热点速递" and rumour.channel == "social"
    assert rumour.url.startswith(f"{sim.base_url}/vendor/wechat/s/")
    assert rumour.metrics["reposts"] > 0 and rumour.metrics["reads"] > rumour.metrics["likes"] > 0
    assert rumour.meta["platform"] == "wechat" and rumour.meta["account"] == "江城热点速递"
    assert rumour.published_at == (DEFAULT_START + timedelta(hours=5, minutes=10))

    douyin = write_source(tmp_path, sim, "douyin", "{token_env: VENDOR_TOKEN}")
    result = crawl(douyin, session_factory, clock, fast)
    assert result.ok, result.errors
    videos = stored(session_factory, "douyin-vendor")
    assert {video_ids[i] for i in videos} == INCIDENT_DOUYIN
    root = next(v for v in videos.values() if video_ids[v.external_id] == "dy-root")
    assert root.author == "刘小美" and "新华路网点" in root.text and root.meta["video"] is True
    assert root.metrics["likes"] > 1000 and root.metrics["plays"] > root.metrics["likes"]
    assert root.metrics["followers"] == 1200


def test_weibo_adapter_reads_the_existing_weibo_api(sim, tmp_path, session_factory, clock, fast, monkeypatch):
    monkeypatch.setenv("WEIBO_TOKEN", sim.weibo_token)
    source = write_source(tmp_path, sim, "weibo", "{token_env: WEIBO_TOKEN}",
                          "      query: [新华路网点]\n      page_size: 50\n      max_pages: 10")
    result = crawl(source, session_factory, clock, fast)
    assert result.ok, result.errors
    posts = stored(session_factory, "weibo-vendor")
    scenario = sim.scenario
    expected = set()
    for p in scenario.visible_weibo(clock.now()):
        hay = p.text + ("\n" + scenario.post_by_key(p.root_key).text if p.root_key else "")
        if "新华路网点" in hay:
            expected.add(str(p.id))
    assert set(posts) == expected and len(expected) > 5
    root = posts[str(scenario.find("w-root").id)]
    assert root.author and root.metrics["reposts"] > 0 and root.meta["platform"] == "weibo"
    assert root.published_at == DEFAULT_START + timedelta(minutes=20)

    # the next poll searches from the newest post minus the overlap (60 min); of the 50 newest stored posts, those
    # older than that are re-read by id (statuses/show)
    newest = sorted(posts.values(), key=lambda a: a.published_at, reverse=True)
    since = newest[0].published_at - timedelta(minutes=60)
    expected = sum(1 for a in newest[:50] if a.published_at < since)
    clock.advance(timedelta(minutes=30))
    again = crawl(source, session_factory, clock, fast)
    assert again.ok, again.errors
    assert expected > 0 and again.stats.get("yuqing/platform/refreshed") == expected
    with session_factory() as s:
        samples = s.scalar(select(func.count()).select_from(ArticleMetricSample).join(
            Article, Article.id == ArticleMetricSample.article_id).where(Article.source_id == "weibo-vendor"))
    # every post got a sample when first stored, and another each time a re-read found its counters moved
    assert again.updated_items > 0 and samples == len(posts) + again.new_items + again.updated_items


def test_a_wrong_token_fails_the_source_once_with_a_clear_error(sim, tmp_path, session_factory, clock, fast,
                                                              monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", "not-the-token")
    source = write_source(tmp_path, sim, "douyin", "{token_env: VENDOR_TOKEN}",
                          "      query: [示例银行, 新华路, 江城]")
    result = crawl(source, session_factory, clock, fast)
    assert not result.ok and result.new_items == 0
    assert any("凭据被拒绝（HTTP 401）" in e and "VENDOR_TOKEN" in e and "不会重试" in e for e in result.errors), \
        result.errors
    assert vendor(sim).api_calls == 1  # three keywords, one request: no retry storm
    assert stored(session_factory, "douyin-vendor") == {}
    with session_factory() as s:
        state = s.get(SourceState, "douyin-vendor")
        assert state.consecutive_failures == 1 and "凭据被拒绝" in state.last_error

    monkeypatch.delenv("VENDOR_TOKEN")
    result = crawl(source, session_factory, clock, fast)
    assert not result.ok and any("未设置环境变量 VENDOR_TOKEN" in e for e in result.errors)
    assert vendor(sim).api_calls == 1


def test_app_credentials_are_exchanged_and_the_token_refreshed_when_it_expires(sim, tmp_path, session_factory,
                                                                              clock, fast, monkeypatch):
    monkeypatch.setenv("VENDOR_APP_ID", DEFAULT_APP_ID)
    monkeypatch.setenv("VENDOR_APP_SECRET", DEFAULT_APP_SECRET)
    source = write_source(tmp_path, sim, "wechat", "{app_id_env: VENDOR_APP_ID, app_secret_env: VENDOR_APP_SECRET}")
    state = vendor(sim)

    first = crawl(source, session_factory, clock, fast)
    assert first.ok, first.errors
    assert state.exchanges == 1 and first.new_items == 5
    clock.advance(timedelta(minutes=10))  # the token (30 min) is still good: no exchange
    second = crawl(source, session_factory, clock, fast)
    assert second.ok and state.exchanges == 1
    clock.advance(timedelta(minutes=25))  # past its 30 minutes: renewed before it is used, not after a 401
    third = crawl(source, session_factory, clock, fast)
    assert third.ok and state.exchanges == 2 and third.stats.get("yuqing/platform/token_exchanges") == 1
    assert "yuqing/platform/token_rejected" not in third.stats

    state.revoke_all()  # the vendor stops taking the token early: renewed once, and the poll goes on
    fourth = crawl(source, session_factory, clock, fast)
    assert fourth.ok, fourth.errors
    assert state.exchanges == 3 and fourth.stats.get("yuqing/platform/token_rejected") == 1

    monkeypatch.setenv("VENDOR_APP_SECRET", "wrong")
    state.revoke_all()
    calls = state.api_calls
    fifth = crawl(source, session_factory, clock, fast)
    assert not fifth.ok
    assert any("应用凭据被拒绝（HTTP 401）" in e and "VENDOR_APP_SECRET" in e for e in fifth.errors), fifth.errors
    assert state.api_calls == calls + 1  # the one search the revoked token was refused on; no more
    assert len(stored(session_factory, "wechat-vendor")) == 5


def test_paging_since_and_counter_refresh(sim, tmp_path, session_factory, clock, fast, monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", DEFAULT_VENDOR_TOKEN)
    source = write_source(tmp_path, sim, "douyin", "{token_env: VENDOR_TOKEN}",
                          "      query: [示例银行]\n      page_size: 1\n      overlap_minutes: 60")
    state = vendor(sim)
    clock.set(DEFAULT_START + timedelta(hours=3))
    first = crawl(source, session_factory, clock, fast)
    assert first.ok and first.new_items == 2  # dy-root, dy-local-news: one per page, two pages
    assert state.api_calls == 2  # the second page says there is nothing after it

    clock.set(DEFAULT_START + timedelta(hours=7))
    calls = state.api_calls
    second = crawl(source, session_factory, clock, fast)
    assert second.ok and second.new_items == 2  # dy-queue, dy-official
    # since = newest stored (dy-local-news, t+2h20m) − 60 min: dy-local-news read again, dy-root is older and
    # re-read by id instead
    assert second.stats.get("yuqing/platform/refreshed") == 1
    assert second.stats.get("yuqing/records") == 4
    assert state.api_calls - calls == 3 + 1  # three pages of one since t+1h20m, one post re-read by id
    videos = stored(session_factory, "douyin-vendor")
    assert len(videos) == 4
    with session_factory() as s:
        samples = s.scalar(select(func.count()).select_from(ArticleMetricSample)
                           .where(ArticleMetricSample.article_id.in_([v.id for v in videos.values()])))
    assert samples == 2 + 2 + 2  # root and local news twice (their counters moved), the two new ones once


def test_429_is_waited_out_as_retry_after_says(sim, tmp_path, session_factory, clock, fast, monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", DEFAULT_VENDOR_TOKEN)
    source = write_source(tmp_path, sim, "douyin", "{token_env: VENDOR_TOKEN}", "      query: [示例银行]")
    vendor(sim).throttle(1, retry_after=1)
    result = crawl(source, session_factory, clock, fast)
    assert result.ok, result.errors
    assert result.stats.get("yuqing/platform/throttled") == 1
    assert result.stats.get("yuqing/platform/waited_seconds") == 1
    assert result.new_items == 4

    other = write_source(tmp_path, sim, "wechat", "{token_env: VENDOR_TOKEN}",
                         "      query: [示例银行]\n      max_wait_seconds: 5", source_id="wechat-slow")
    vendor(sim).throttle(5, retry_after=120)
    calls = vendor(sim).api_calls
    result = crawl(other, session_factory, clock, fast)
    assert not result.ok and result.new_items == 0
    assert any("平台限流（HTTP 429）" in e and "120" in e for e in result.errors), result.errors
    assert vendor(sim).api_calls == calls + 1


@pytest.mark.parametrize(("credentials", "field", "reason"), [
    ("{token: abc}", "platform.credentials.token", "Extra inputs"),
    ("{}", "platform.credentials", "token_env"),
    ("{token_env: A, app_id_env: B, app_secret_env: C}", "platform.credentials", "not both"),
    ("{app_id_env: B}", "platform.credentials", "go together"),
    ("{token_env: 'bad name'}", "platform.credentials.token_env", "pattern"),
])
def test_bad_platform_settings_name_the_file_and_field(tmp_path, credentials, field, reason):
    path = tmp_path / "sources.yaml"
    path.write_text(f"""
sources:
  - id: wx
    name: 公众号
    kind: platform
    channel: social
    authority: self_media
    platform:
      name: wechat
      endpoint: https://api.vendor.example.cn/wechat/v1
      credentials: {credentials}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert "sources.yaml" in message and f"sources.0[wx].{field}" in message and reason in message, message


def test_the_endpoint_passes_the_ssrf_check(tmp_path):
    path = tmp_path / "sources.yaml"
    for endpoint, field in (("http://169.254.169.254/latest", "platform.endpoint"),
                            ("http://10.0.0.8/api", "platform.endpoint")):
        path.write_text(f"""
sources:
  - id: dy
    name: 抖音
    kind: platform
    channel: social
    authority: social
    platform: {{name: douyin, endpoint: "{endpoint}", credentials: {{token_env: T}}}}
""", encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"sources\.0\[dy\]\.{field}: unsafe URL"):
            load_sources(path)
    path.write_text("""
sources:
  - id: dy
    name: 抖音
    kind: platform
    channel: social
    authority: social
    platform:
      name: douyin
      endpoint: https://api.vendor.example.cn/douyin/v1
      credentials: {app_id_env: A, app_secret_env: B, token_url: "http://127.0.0.1:9/token"}
""", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\.0\[dy\]\.platform\.credentials\.token_url: unsafe URL"):
        load_sources(path)


def test_adapters_read_hostile_answers_without_failing_the_page():
    wechat = WechatAdapter("https://api.example.cn/wechat/v1")
    page = wechat.read_search({"code": 0, "data": {"items": [
        None, {"article_id": "1"}, {"article_id": "2", "content": "示例银行", "publish_time": "yesterday",
                                    "like_num": -3, "url": "javascript:alert(1)"}],
        "next_cursor": "20", "has_more": True}}, None)
    assert [p.id for p in page.items] == ["2"] and page.next_cursor == "20"
    assert page.items[0].published_at is None and "likes" not in page.items[0].metrics
    record = wechat.to_record(page.items[0], source_id="wx", channel="social", fallback_url="https://api/x?id=2")
    assert record.url == "https://api/x?id=2"  # a javascript: link is never stored
    with pytest.raises(ApiAnswerError, match="vendor error 45009"):
        wechat.read_search({"code": 45009, "message": "quota exhausted"}, None)
    with pytest.raises(ApiAnswerError):
        DouyinAdapter("https://x").read_search({"status_code": 0, "data": {"videos": "none"}}, None)
    weibo = WeiboAdapter("https://api.example.cn/2")
    assert weibo.search("示例银行", None, "123", 20).full_url == \
        "https://api.example.cn/2/statuses/search?q=%E7%A4%BA%E4%BE%8B%E9%93%B6%E8%A1%8C&count=20&max_id=123"
    assert {p.key for p in DOUYIN} >= INCIDENT_DOUYIN
    # Weibo's search takes no time bound: the adapter stops at the first post older than since, and pages no further
    statuses = [{"idstr": str(i), "text": "示例银行", "created_at": f"2026-11-23T0{9 - i}:00:00+08:00"}
                for i in range(4)]
    since = datetime(2026, 11, 23, 7, 30, tzinfo=UTC) - timedelta(hours=8)
    page = weibo.read_search({"statuses": statuses, "max_id": "99", "has_more": True}, since)
    assert [p.id for p in page.items] == ["0", "1"] and page.reached_since and page.next_cursor is None
    page = weibo.read_search({"statuses": statuses, "max_id": "99", "has_more": True}, None)
    assert len(page.items) == 4 and page.next_cursor == "99"


def test_a_post_dated_in_the_future_keeps_no_time_and_moves_no_watermark(site, tmp_path, session_factory, clock,
                                                                         fast, monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", "t0ken")
    body = {"code": 0, "data": {"has_more": False, "next_cursor": "", "items": [
        {"article_id": "a1", "title": "示例银行", "content": "示例银行网点今天排队", "publish_time": 4_000_000_000},
        {"article_id": "a2", "title": "示例银行", "content": "示例银行网点昨天排队",
         "publish_time": int(clock.now().timestamp()) - 3600}]}}
    site.add("/wx/articles/search?keyword=bank&count=20", json.dumps(body), content_type="application/json",
             require_auth="Bearer t0ken")
    path = tmp_path / "sources.yaml"
    path.write_text(f"""
sources:
  - id: wx
    name: 公众号
    kind: platform
    channel: social
    authority: self_media
    private_network: "{site.base.removeprefix('http://')}"
    respect_robots: false
    platform: {{name: wechat, endpoint: "{site.base}/wx", credentials: {{token_env: VENDOR_TOKEN}}, query: [bank]}}
""", encoding="utf-8")
    source = load_sources(path)[0]
    result = crawl(source, session_factory, clock, fast)
    assert result.ok, result.errors
    assert result.stats.get("yuqing/dates_refused") == 1
    posts = stored(session_factory, "wx")
    assert posts["a1"].published_at is None
    assert posts["a2"].published_at == clock.now().replace(microsecond=0) - timedelta(hours=1)


def test_check_config_validates_platform_sources(tmp_path, monkeypatch):
    """What an admin runs after editing the sources file: a good platform source counts, a secret in YAML is
    refused naming the file and the field."""
    from typer.testing import CliRunner

    from runner.cli import app

    path = tmp_path / "sources.yaml"
    monkeypatch.setenv("YUQING_SOURCES_FILE", str(path))
    entry = """
sources:
  - id: vendor-douyin
    name: 抖音（数据服务商）
    kind: platform
    channel: social
    authority: social
    platform: {{name: douyin, endpoint: "https://api.vendor.example.cn/douyin/v1", credentials: {credentials}}}
"""
    path.write_text(entry.format(credentials="{token_env: YUQING_VENDOR_TOKEN}"), encoding="utf-8")
    good = CliRunner().invoke(app, ["check-config"])
    assert good.exit_code == 0, good.output
    assert " 1 sources" in good.output
    path.write_text(entry.format(credentials="{token: sk-live-123}"), encoding="utf-8")
    bad = CliRunner().invoke(app, ["check-config"])
    assert bad.exit_code != 0
    assert f"{path}: sources.0[vendor-douyin].platform.credentials.token: Extra inputs are not permitted" in bad.output
    assert "sk-live-123" not in bad.output  # the message never repeats the secret


def test_the_crisis_on_wechat_and_douyin_joins_the_weibo_story(sim, tmp_path, session_factory, clock, fast,
                                                                monkeypatch):
    """Through ingest as the pipeline runs it: the family's Douyin video, the self-media write-ups, the rumour and
    the branch's clarification land in the story of the family's Weibo post; the bank's charity article does not."""
    from crawlers.ingest import process_fetched
    from crawlers.keywords import load_keyword_plans
    from crawlers.matching import Matcher
    from crawlers.stories import StoryIndex

    monkeypatch.setenv("VENDOR_TOKEN", DEFAULT_VENDOR_TOKEN)
    monkeypatch.setenv("WEIBO_TOKEN", sim.weibo_token)
    sources = [write_source(tmp_path, sim, "wechat", "{token_env: VENDOR_TOKEN}"),
               write_source(tmp_path, sim, "douyin", "{token_env: VENDOR_TOKEN}"),
               write_source(tmp_path, sim, "weibo", "{token_env: WEIBO_TOKEN}",
                            "      query: [新华路网点]\n      page_size: 100")]
    results = asyncio.run(crawl_sources(sources, session_factory=session_factory, clock=clock,
                                        settings_overrides=fast))
    assert all(r.ok for r in results.values()), {k: r.errors for k, r in results.items()}
    matcher = Matcher.from_org(load_org(PROJECT_ROOT / "config" / "org.yaml"),
                               load_keyword_plans(PROJECT_ROOT / "config" / "keywords.yaml"))
    with session_factory() as s:
        process_fetched(s, matcher=matcher, index=StoryIndex(), clock=clock)
    wechat_ids, video_ids = ({p.id: p.item.key for p in placed} for placed in place(sim.scenario))
    keys = {**wechat_ids, **video_ids}
    root = stored(session_factory, "weibo-vendor")[str(sim.scenario.find("w-root").id)]
    assert root.story_id is not None
    platform_posts = {**stored(session_factory, "wechat-vendor"), **stored(session_factory, "douyin-vendor")}
    story_of = {keys[i]: a.story_id for i, a in platform_posts.items()}
    assert {k for k, story in story_of.items() if story == root.story_id} == INCIDENT_WECHAT | INCIDENT_DOUYIN
    assert story_of["wx-bank-charity"] not in (None, root.story_id)
