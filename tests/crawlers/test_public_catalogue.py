"""The public source catalogue (config/sources.public.yaml): every entry's parser against a fixture written in its
site's structure, the whole file through the loader and ``yuqing check-config``.

Each case serves the entry's fixture(s) from a local HTTP server under the real URL's path and query. Hosts of the
real site inside the fixtures (feed links, absolute article links) are rewritten to the local server, so the
crawler follows them there; hot lists and JSON records keep their real links, which are stored, never fetched.
The entry itself is the catalogue's — kind, parser options, placeholders filled — with only its address moved to
the local server (``private_network`` for that one host:port, robots.txt off, ``max_pages`` 1).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from sqlalchemy import select
from typer.testing import CliRunner
from w3lib.url import safe_url_string

from crawlers.crawl import crawl_sources
from crawlers.models import Article
from crawlers.pipelines import PUBLISHED_LOCAL_KEY
from crawlers.sources import SourceConfig, load_sources
from runner.cli import app
from runner.runtime import load_config
from yuqing.errors import ConfigError
from yuqing.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "config" / "sources.public.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "public"
# every site host the fixtures link to and the crawler must fetch from the local server instead
SITE_ORIGINS = re.compile(
    rb"https?://(?:www\.people\.com\.cn|finance\.people\.com\.cn|www\.news\.cn|www\.chinanews\.com\.cn|"
    rb"finance\.caixin\.com|www\.stcn\.com|www\.cs\.com\.cn|www\.21jingji\.com|news\.southcn\.com|"
    rb"zjnews\.zjol\.com\.cn|www\.pbc\.gov\.cn|tousu\.sina\.com\.cn|guba\.eastmoney\.com)(?=[/\"'<\s])")


@dataclass
class Expected:
    """One stored item: its title, URL (a path on the local server when the site was rewritten, else the real
    URL), publish time as the site states it (+08:00), and words its text must hold."""

    title: str
    url: str
    published: str | None
    text: str


@dataclass
class Case:
    entry: str  # fixture served at the source URL
    content_type: str
    items: list[Expected]
    pages: dict[str, str] = field(default_factory=dict)  # local path → fixture of an article page
    requested: list[str] = field(default_factory=list)  # article paths the entry must lead to (served or not)
    rewrite: bool = True  # rewrite the site's hosts to the local server (pages to fetch)


def weibo(word: str) -> str:
    return f"https://s.weibo.com/weibo?q=%23{quote(word, safe='')}%23"


def baidu(word: str) -> str:
    return f"https://www.baidu.com/s?wd={quote(word)}&sa=fyb_news&rsv_dl=fyb_news"


HTML, JSON = "text/html", "application/json; charset=utf-8"
CASES: dict[str, Case] = {
    # -- national news ------------------------------------------------------------------------------------------
    "people-finance-rss": Case(
        entry="people-finance-rss.xml", content_type="text/xml",
        pages={"/n1/2026/1123/c1004-40123456.html": "people-finance-rss.article.html"},
        requested=["/n1/2026/1123/c1004-40123456.html", "/n1/2026/1122/c1004-40122987.html"],
        items=[Expected("金融监管总局：持续提升金融服务适老化水平", "/n1/2026/1123/c1004-40123456.html",
                        "2026-11-23T09:15:00+08:00", "不得以“本人必须到场”为由简单拒绝办理")]),
    "xinhua-fortune": Case(
        entry="xinhua-fortune.html", content_type=HTML,
        pages={"/fortune/20261123/4f8e2b0c1a9d4e7f8a6b5c4d3e2f1a0b/c.html": "xinhua-fortune.article.html"},
        requested=["/fortune/20261123/4f8e2b0c1a9d4e7f8a6b5c4d3e2f1a0b/c.html",
                   "/fortune/20261123/9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d/c.html",
                   "/fortune/20261122/1b2c3d4e5f6a4b7c8d9e0f1a2b3c4d5e/c.html"],
        items=[Expected("央行开展1000亿元MLF操作 保持银行体系流动性合理充裕",
                        "/fortune/20261123/4f8e2b0c1a9d4e7f8a6b5c4d3e2f1a0b/c.html", "2026-11-23T08:42:16+08:00",
                        "当日开展1000亿元中期借贷便利（MLF）操作")]),
    "chinanews-finance-rss": Case(
        entry="chinanews-finance-rss.xml", content_type="application/rss+xml",
        pages={"/cj/2026/11-23/10518842.shtml": "chinanews-finance-rss.article.html"},
        requested=["/cj/2026/11-23/10518842.shtml", "/cj/2026/11-22/10518511.shtml"],
        items=[Expected("多地银行启动存量房贷利率调整 月供平均减少约200元", "/cj/2026/11-23/10518842.shtml",
                        "2026-11-23T07:58:00+08:00", "谨防以“代办降息”为名的诈骗")]),
    "cctv-economy": Case(
        entry="cctv-economy.jsonp", content_type="application/javascript", rewrite=False,
        items=[Expected("央视财经评论：金融服务要让老年人“用得上、用得好”",
                        "https://news.cctv.com/2026/11/23/ARTIq0Wn3cKfZxQb7YhJ2mVd261123.shtml",
                        "2026-11-23T09:30:12+08:00", "以“本人必须到场”为由拒绝为行动不便的老人办理取款"),
               Expected("10月份CPI同比上涨0.3%", "https://news.cctv.com/2026/11/23/ARTIa1B2c3D4e5F6g7H8i9J0k261123.shtml",
                        "2026-11-23T08:05:40+08:00", "10月份全国居民消费价格同比上涨0.3%"),
               # a link that is no web address: stored under the item's own address on the list, never linked
               Expected("（图解）一图读懂个人养老金", "?yuqing_item=ARTIbadlink000000000000261123",
                        "2026-11-22T20:15:00+08:00", "一图读懂参加流程")]),
    # -- financial news -----------------------------------------------------------------------------------------
    "caixin-finance": Case(
        entry="caixin-finance.html", content_type=HTML,
        pages={"/2026-11-23/102199876.html": "caixin-finance.article.html"},
        requested=["/2026-11-23/102199876.html", "/2026-11-22/102199640.html"],
        items=[Expected("中小银行合并重组提速 年内已有逾百家农村金融机构退出", "/2026-11-23/102199876.html",
                        "2026-11-23T09:02:00+08:00", "避免因网点调整引发储户担忧")]),
    "yicai-latest": Case(
        entry="yicai-latest.json", content_type=JSON, rewrite=False,
        items=[Expected("银行业“适老化”改造提速：多家银行推出上门服务", "https://www.yicai.com/news/102891345.html",
                        "2026-11-23T09:21:05+08:00", "对行动不便的老年人推出上门办理、视频核验等服务"),
               Expected("A股三大指数早盘集体高开", "https://www.yicai.com/news/102891120.html",
                        "2026-11-23T09:25:00+08:00", "沪指高开0.32%")]),
    "stcn-news": Case(
        entry="stcn-news.html", content_type=HTML,
        pages={"/article/detail/1432187.html": "stcn-news.article.html"},
        requested=["/article/detail/1432187.html", "/article/detail/1432099.html"],
        items=[Expected("监管部门召开座谈会 要求银行做好老年客户金融服务", "/article/detail/1432187.html",
                        "2026-11-23T08:36:00+08:00", "严禁以简单拒绝代替规范办理")]),
    "cs-news": Case(  # GBK pages
        entry="cs-news.html", content_type=HTML,
        pages={"/xwzx/hg/202611/t20261123_6512345.html": "cs-news.article.html"},
        requested=["/xwzx/hg/202611/t20261123_6512345.html", "/xwzx/hg/202611/t20261122_6512001.html"],
        items=[Expected("前10月银行业金融机构消费者投诉同比下降", "/xwzx/hg/202611/t20261123_6512345.html",
                        "2026-11-23T09:20:00+08:00", "老年客户代办业务、网点服务态度等问题仍是投诉热点")]),
    "21jingji-finance": Case(
        entry="21jingji-finance.xml", content_type="application/xml",
        pages={"/article/20261123/herald/8c7d2a94f1e3b5c6d7e8f9a0b1c2d3e4.html": "21jingji-finance.article.html"},
        requested=["/article/20261123/herald/8c7d2a94f1e3b5c6d7e8f9a0b1c2d3e4.html",
                   "/article/20261122/herald/1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d.html"],
        items=[Expected("银行网点“瘦身”背后：线下服务如何兼顾老年客群",
                        "/article/20261123/herald/8c7d2a94f1e3b5c6d7e8f9a0b1c2d3e4.html",
                        "2026-11-23T08:50:00+08:00", "一旦遇到代办、挂失等复杂业务，沟通不畅容易引发投诉甚至舆情")]),
    # -- provincial dailies -------------------------------------------------------------------------------------
    "southcn-news": Case(
        entry="southcn-news.html", content_type=HTML,
        pages={"/node_54a44f01a2/8f2c1d9e0b.shtml": "southcn-news.article.html"},
        requested=["/node_54a44f01a2/8f2c1d9e0b.shtml", "/node_54a44f01a2/7a6b5c4d3e.shtml"],
        items=[Expected("广东银行业推出适老化服务十项举措", "/node_54a44f01a2/8f2c1d9e0b.shtml",
                        "2026-11-23T09:45:00+08:00", "不得简单拒办")]),
    "zjol-news": Case(  # GBK pages, links relative to the list
        entry="zjol-news.html", content_type=HTML,
        pages={"/zjnews/202611/t20261123_31456789.shtml": "zjol-news.article.html"},
        requested=["/zjnews/202611/t20261123_31456789.shtml", "/zjnews/202611/t20261122_31455012.shtml"],
        items=[Expected("浙江：银行网点将为高龄老人提供上门取款服务", "/zjnews/202611/t20261123_31456789.shtml",
                        "2026-11-23T09:52:00+08:00", "为80周岁以上、行动不便的老人提供上门取款服务")]),
    # -- regulators -----------------------------------------------------------------------------------------------
    "nfra-penalties": Case(
        entry="nfra-penalties.json", content_type=JSON, rewrite=False,
        items=[Expected("国家金融监督管理总局江城监管局行政处罚信息公开表（江城金罚决字〔2026〕58号）",
                        "https://www.nfra.gov.cn/cn/view/pages/ItemDetail.html?docId=1187654&itemId=4114&generaltype=9",
                        "2026-11-20T16:05:33+08:00", "江城监管局行政处罚信息公开表"),
               Expected("国家金融监督管理总局某某监管局行政处罚信息公开表（某金罚决字〔2026〕112号）",
                        "https://www.nfra.gov.cn/cn/view/pages/ItemDetail.html?docId=1187402&itemId=4114&generaltype=9",
                        "2026-11-19T10:31:27+08:00", "某金罚决字")]),
    "pboc-penalties": Case(
        entry="pboc-penalties.html", content_type=HTML,
        pages={"/zhengwugongkai/4081330/4081344/4081407/4081705/2026112016234512345/index.html":
               "pboc-penalties.article.html"},
        requested=["/zhengwugongkai/4081330/4081344/4081407/4081705/2026112016234512345/index.html",
                   "/zhengwugongkai/4081330/4081344/4081407/4081705/2026111809152298765/index.html"],
        items=[Expected("中国人民银行江城分行行政处罚信息公示表（江银罚决字〔2026〕第9号）",
                        "/zhengwugongkai/4081330/4081344/4081407/4081705/2026112016234512345/index.html",
                        "2026-11-20T16:23:45+08:00", "示例银行股份有限公司江城分行")]),
    # -- message boards, complaints, stock forum ----------------------------------------------------------------
    "people-liuyan": Case(
        entry="people-liuyan.json", content_type=JSON, rewrite=False,
        items=[Expected("示例银行新华路网点拒绝为八旬老人办理取款",
                        "https://liuyan.people.com.cn/threads/content?tid=21843309",
                        "2026-11-23T08:00:00+08:00", "工作人员坚持要求本人到场"),
               Expected("建议延长地铁6号线末班车时间", "https://liuyan.people.com.cn/threads/content?tid=21843001",
                        "2026-11-23T08:33:20+08:00", "建议延长至23:30")]),
    "heimao-search": Case(
        entry="heimao-search.html", content_type=HTML,
        pages={"/complaint/view/17372561234/": "heimao-search.article.html"},
        requested=["/complaint/view/17372561234/", "/complaint/view/17372540012/"],
        items=[Expected("示例银行新华路网点拒绝为卧床老人代办取款", "/complaint/view/17372561234/",
                        "2026-11-22T21:30:12+08:00", "柜员说必须本人到场")]),
    "eastmoney-guba": Case(
        entry="eastmoney-guba.html", content_type=HTML,
        pages={"/news,601000,1478523690.html": "eastmoney-guba.article.html"},
        requested=["/news,601000,1478523690.html", "/news,601000,1478501122.html"],
        items=[Expected("新华路网点的事闹大了，明天会不会低开？", "/news,601000,1478523690.html",
                        "2026-11-23T09:40:12+08:00", "网上还有人说要去挤兑")]),
    # -- hot lists (kind trending): real links, stored, never fetched ---------------------------------------------
    "weibo-hot-search": Case(
        entry="weibo-hot-search.json", content_type=JSON, rewrite=False,
        items=[Expected("全国大部地区迎来寒潮降温", weibo("全国大部地区迎来寒潮降温"), "2026-11-23T07:05:00+08:00",
                        "全国大部地区迎来寒潮降温"),
               Expected("示例银行新华路网点不让老人取钱", weibo("示例银行新华路网点不让老人取钱"),
                        "2026-11-23T09:12:00+08:00", "示例银行新华路网点不让老人取钱"),
               Expected("国足公布新一期集训名单", weibo("国足公布新一期集训名单"), "2026-11-23T08:30:00+08:00",
                        "国足公布新一期集训名单"),
               Expected("这也能上热搜？", weibo("这也能上热搜？<img src=x onerror=alert(1)>"), None,
                        "这也能上热搜？")]),
    "zhihu-hot-list": Case(
        entry="zhihu-hot-list.json", content_type=JSON, rewrite=False,
        items=[Expected("如何看待示例银行江城分行回应「网点拒绝老人取款」一事？", "https://www.zhihu.com/question/694118023",
                        None, "示例银行江城分行 23 日发布情况说明"),
               Expected("为什么今年的寒潮来得这么早？", "https://www.zhihu.com/question/693987451", None, "寒潮"),
               Expected("年轻人为什么开始流行「反向消费」？", "https://www.zhihu.com/question/693001122", None,
                        "越来越多人选择更省钱的方式")]),
    "baidu-hot-search": Case(
        entry="baidu-hot-search.html", content_type=HTML, rewrite=False,
        items=[Expected("寒潮来袭 多地迎来今冬首场降雪", baidu("寒潮来袭 多地迎来今冬首场降雪"), None,
                        "中央气象台11月23日继续发布寒潮蓝色预警"),
               Expected("示例银行回应网点拒绝老人取款", baidu("示例银行回应网点拒绝老人取款"), None,
                        "已成立专项小组核实新华路网点服务情况"),
               Expected("国产大飞机C929取得新进展", baidu("国产大飞机C929取得新进展"), None, "C929"),
               Expected("江城地铁6号线开通初期运营", baidu("江城地铁6号线开通初期运营"), None, "全长32.6公里")]),
    "douyin-hot-list": Case(
        entry="douyin-hot-list.json", content_type=JSON, rewrite=False,
        items=[Expected("寒潮来袭多地迎初雪", "https://www.douyin.com/hot/1853211", "2026-11-23T07:26:40+08:00",
                        "寒潮来袭多地迎初雪"),
               Expected("江城一银行网点拒绝老人取款", "https://www.douyin.com/hot/1853240", "2026-11-23T08:50:00+08:00",
                        "江城一银行网点拒绝老人取款"),
               Expected("示例银行回应网点拒绝老人取款", "https://www.douyin.com/hot/1853102",
                        "2026-11-23T04:40:00+08:00", "示例银行回应网点拒绝老人取款")]),
}
# the list position and heat each hot list gives its entries (title → (rank, heat)), checked on top of the above
TRENDING_METRICS: dict[str, dict[str, tuple[int, int]]] = {
    "weibo-hot-search": {"全国大部地区迎来寒潮降温": (1, 2913846), "示例银行新华路网点不让老人取钱": (2, 1587420),
                         "国足公布新一期集训名单": (4, 903311), "这也能上热搜？": (5, 0)},
    "zhihu-hot-list": {"如何看待示例银行江城分行回应「网点拒绝老人取款」一事？": (1, 12_340_000),
                       "为什么今年的寒潮来得这么早？": (2, 8_670_000), "年轻人为什么开始流行「反向消费」？": (3, 0)},
    "baidu-hot-search": {"寒潮来袭 多地迎来今冬首场降雪": (1, 4960144), "示例银行回应网点拒绝老人取款": (2, 4872213),
                         "国产大飞机C929取得新进展": (3, 4713506), "江城地铁6号线开通初期运营": (4, 4588017)},
    "douyin-hot-list": {"寒潮来袭多地迎初雪": (1, 11834567), "江城一银行网点拒绝老人取款": (2, 8260211),
                        "示例银行回应网点拒绝老人取款": (3, 7019384)},
}


def catalogue() -> list[SourceConfig]:
    return load_sources(CATALOGUE)


def local_source(entry: SourceConfig, site) -> SourceConfig:
    """The catalogue's entry, moved to the local server (same path and query)."""
    parts = urlsplit(entry.url)
    local = f"{site.base}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return entry.model_copy(update={"url": local, "enabled": True, "respect_robots": False, "max_pages": 1,
                                    "private_network": site.base.removeprefix("http://")})


def served_path(url: str, params: dict[str, str] | None = None) -> str:
    """The path and query the crawler will request for ``url`` (with ``params``), percent-encoded as sent."""
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(params or {})) if p)
    return safe_url_string(parts.path + (f"?{query}" if query else ""))


def body(name: str, site, rewrite: bool) -> bytes:
    data = (FIXTURES / name).read_bytes()
    return SITE_ORIGINS.sub(site.base.encode(), data) if rewrite else data


def test_every_catalogue_entry_has_a_parser_case_and_ships_disabled() -> None:
    entries = catalogue()
    assert {e.id for e in entries} == set(CASES)
    assert all(not e.enabled for e in entries)


@pytest.mark.parametrize("source_id", sorted(CASES))
def test_catalogue_entry_parses_its_fixture(source_id, site, session_factory, clock, fast) -> None:
    case = CASES[source_id]
    entry = next(e for e in catalogue() if e.id == source_id)
    src = local_source(entry, site)
    params = (src.json_api.params if src.json_api else src.trending.params if src.trending else None)
    if src.json_api and src.json_api.page_param:
        params = {**params, src.json_api.page_param: str(src.json_api.first_page)}
    site.add(served_path(src.url, params), body(case.entry, site, case.rewrite), content_type=case.content_type)
    for path, name in case.pages.items():
        site.add(path, body(name, site, case.rewrite), content_type="text/html")

    result = asyncio.run(crawl_sources([src], session_factory=session_factory, clock=clock,
                                       settings_overrides=fast))[source_id]

    assert result.ok, result.errors
    if case.requested:
        fetched = [r.path for r in site.requests if r.path != served_path(src.url, params)]
        assert sorted(fetched) == sorted(case.requested)
    with session_factory() as s:
        stored = {a.title: a for a in s.scalars(select(Article))}
    assert set(stored) == {e.title for e in case.items}
    for expected in case.items:
        article = stored[expected.title]
        if expected.url.startswith("/"):
            url = f"{site.base}{expected.url}"
        elif expected.url.startswith("?"):
            url = f"{src.url.split('?')[0]}{expected.url}"
        else:
            url = expected.url
        assert article.url == url
        assert article.channel == entry.channel and article.source_id == source_id
        assert expected.text in article.text, article.text[:300]
        if expected.published is None:
            assert article.published_at is None
            continue
        shown = article.meta.get(PUBLISHED_LOCAL_KEY) or article.published_at.astimezone(
            datetime.fromisoformat(expected.published).tzinfo).isoformat()
        assert shown == expected.published
        assert article.published_at == datetime.fromisoformat(expected.published)
    for title, (rank, heat) in TRENDING_METRICS.get(source_id, {}).items():
        assert stored[title].metrics == {"rank": rank, "heat": heat}
        trending = stored[title].meta["trending"]
        assert (trending["list"], trending["rank"], trending["heat"]) == (source_id, rank, heat)
        assert trending["reach"] == entry.trending.reach > 0


def copied_config(tmp_path: Path) -> Path:
    """A copy of the shipped config directory to edit."""
    config = tmp_path / "config"
    for path in sorted((ROOT / "config").rglob("*")):
        target = config / path.relative_to(ROOT / "config")
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return config


def enable(config: Path, source_id: str) -> None:
    path = config / "sources.public.yaml"
    text = path.read_text("utf-8")
    start = text.index(f"- id: {source_id}\n")
    at = text.index("enabled: false", start)
    path.write_text(text[:at] + "enabled: true" + text[at + len("enabled: false"):], "utf-8")


def test_check_config_validates_the_catalogue(tmp_path) -> None:
    result = CliRunner().invoke(app, ["check-config"], env={"YUQING_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert f"public catalogue: {len(CASES)} sources, 0 enabled ({CATALOGUE})" in result.output


def test_check_config_names_every_broken_catalogue_field(tmp_path) -> None:
    config = copied_config(tmp_path)
    text = (config / "sources.public.yaml").read_text("utf-8")
    text = text.replace("rank_base: 0", "rank_base: 3", 1)  # baidu-hot-search
    text = text.replace("poll_interval: 10800", "poll_interval: 5", 1)  # nfra-penalties
    text = text.replace('link_pattern: "/news,\\\\d{6},\\\\d+\\\\.html$"', 'link_pattern: "/news,(\\\\d{6}"', 1)
    (config / "sources.public.yaml").write_text(text, "utf-8")
    result = CliRunner().invoke(app, ["check-config"], env={"YUQING_CONFIG_DIR": str(config),
                                                            "YUQING_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0
    out = result.output
    where = str(config / "sources.public.yaml")
    for field_name in ("[baidu-hot-search].trending.rank_base", "[nfra-penalties].poll_interval",
                       "[eastmoney-guba].listing.link_pattern"):
        assert re.search(rf"{re.escape(where)}: sources\.\d+{re.escape(field_name)}", out), out


def test_the_loader_of_check_config_and_run_adds_only_enabled_catalogue_entries(tmp_path) -> None:
    """``load_config`` (what ``yuqing check-config`` and ``yuqing run`` use) validates the whole catalogue and
    adds the entries the bank enabled to its sources, placeholders filled."""
    shipped = load_config(Settings(config_dir=ROOT / "config", data_dir=tmp_path))
    assert shipped.sources == []  # config/sources.yaml ships empty, the catalogue all disabled
    config = copied_config(tmp_path)
    enable(config, "heimao-search")
    enable(config, "weibo-hot-search")
    cfg = load_config(Settings(config_dir=config, data_dir=tmp_path))
    assert [s.id for s in cfg.sources] == ["heimao-search", "weibo-hot-search"]
    assert cfg.sources[0].url == "https://tousu.sina.com.cn/index/search/?keywords=示例银行&t=1"
    assert cfg.sources[1].kind == "trending" and cfg.sources[1].channel == "trending"


def test_an_entry_enabled_in_both_files_is_refused(tmp_path) -> None:
    config = copied_config(tmp_path)
    enable(config, "weibo-hot-search")
    entry = next(e for e in catalogue() if e.id == "weibo-hot-search")
    own = {"sources": [entry.model_dump(exclude_none=True) | {"enabled": True}]}
    (config / "sources.yaml").write_text(json.dumps(own, ensure_ascii=False), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(Settings(config_dir=config, data_dir=tmp_path))
    assert str(config / "sources.public.yaml") in str(err.value)
    assert "[weibo-hot-search].id: also in the bank's sources file" in str(err.value)
