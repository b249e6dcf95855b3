"""Extraction and decoding on pages shaped like the real Chinese web (fixtures hand-written for these tests)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crawlers.encoding import decode_html, normalise_charset
from crawlers.extract import (
    MAX_INPUT_BYTES,
    MAX_TABLE_ROWS,
    extract_html,
    is_site_or_column_name,
    parse_datetime,
    strip_site_suffix,
    strip_site_tail,
)
from sim.model import DISTRACTOR
from sim.scenario import DEFAULT_START, build_scenario, fill
from sim.server import create_app
from yuqing.clock import FrozenClock

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- decoding --------------------------------------------------------------------------------------------------------
def test_gbk_family_is_read_as_gb18030():
    for name in ("gbk", "GB2312", "x-gbk", "cp936", "GBK"):
        assert normalise_charset(name) == "gb18030"
    assert normalise_charset("no-such-codec") is None


def test_gbk_bytes_behind_a_utf8_header_are_detected():
    text, enc = decode_html(load("wrong_header_gbk.html"), "text/html; charset=UTF-8")
    assert enc == "gb18030"
    assert "示例银行中南路营业厅" in text


def test_gbk_bytes_without_any_declaration_are_sniffed():
    body = "<p>示例银行新华路营业厅取款难，储户排队两小时</p>".encode("gbk")
    text, enc = decode_html(body, None)
    assert enc == "gb18030" and "取款难" in text


def test_utf8_bytes_under_a_stale_gbk_meta_stay_utf8():
    body = '<meta charset="gb2312"><p>示例银行光明路支行系统升级</p>'.encode()
    text, enc = decode_html(body, "text/html; charset=iso-8859-1")
    assert enc == "utf-8" and "光明路支行" in text


TW_NEWS = "臺灣銀行今日宣布，自下月起調整新臺幣存款利率，活期儲蓄存款年息維持不變"
_CHARSET_DECLARATION = re.compile(rb"""<meta[^>]*charset=[^>]*>""", re.I)


def test_big5_page_without_any_charset_is_detected():
    body = load("big5_news_undeclared.html")
    assert b"charset" not in body.lower()
    text, enc = decode_html(body, None)
    assert enc == "big5hkscs" and TW_NEWS in text
    e = extract_html(body, content_type="text/html")
    assert e.title == "臺灣銀行調整新臺幣存款利率 部分分行自動櫃員機暫停服務"
    assert TW_NEWS in e.text and "自動櫃員機暫停服務，造成民眾排隊等候" in e.text
    assert e.published_at == utc(2026, 11, 23, 1, 15) and e.encoding == "big5hkscs"


def test_big5_page_behind_a_default_latin1_header_or_a_stale_gb2312_meta_is_big5():
    body = load("big5_news_undeclared.html")
    text, enc = decode_html(body, "text/html; charset=ISO-8859-1")
    assert enc == "big5hkscs" and TW_NEWS in text
    stale = body.replace(b"<head>", b'<head><meta charset="gb2312">', 1)  # a mainland template, copied
    text, enc = decode_html(stale, None)
    assert enc == "big5hkscs" and TW_NEWS in text


def test_hong_kong_page_declared_big5_keeps_its_hkscs_characters():
    text, enc = decode_html(load("big5hkscs_declared_big5.html"), None)
    assert enc == "big5hkscs"
    assert "我哋驚銀行有事，所以嚟攞返啲錢" in text
    for name in ("big5", "Big5-HKSCS", "cp950", "x-x-big5"):
        assert normalise_charset(name) == "big5hkscs"


@pytest.mark.parametrize(("chinese", "codec"), [
    ("臺北分行公告", "big5"),  # a title alone
    ("本行系統維護，暫停服務。", "big5"),
    ("香港分行今日照常營業，請客戶留意。", "big5"),
    ("示例银行取款难", "gbk"),
    ("新华路营业厅暂停服务。", "gbk"),
    ("示例银行江城分行回应“取款难”：系统升级已完成", "gbk"),
    ("示例银行𠮷野家联名卡", "gb18030"),  # CJK Extension B: four-byte GB18030
    ("臺灣銀行今日宣布調整利率", "utf-8"),
    ("示例银行", "utf-8"),
])
@pytest.mark.parametrize("declared", [False, True])
def test_short_pages_and_ascii_heavy_markup_with_little_chinese_decode_right(chinese, codec, declared):
    script = "<script>var config = {api: '/v1/items', retry: 3, debug: false};</script>\n" * 40
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(60))
    meta = f'<meta charset="{codec}">' if declared else ""
    pages = [f"<html><head>{meta}<title>{chinese}</title></head><body><p>{chinese}</p></body></html>",
             f"<html><head>{meta}{script}</head><body><ul class='nav'>{nav}</ul><div class='content'><p>{chinese}"
             f"</p></div><footer>Copyright 2026 Example News. All rights reserved.</footer></body></html>"]
    expected = {"big5": "big5hkscs", "gbk": "gb18030", "gb18030": "gb18030", "utf-8": "utf-8"}[codec]
    for html in pages:
        text, enc = decode_html(html.encode(codec), None)
        assert chinese in text and enc == expected, (html[:80], enc)


@pytest.mark.parametrize("name", ["forum_thread.html", "gb2312_meta_only.html", "gbk_news.html",
                                  "gov_notice_table.html", "wrong_header_gbk.html", "portal_news.html",
                                  "short_news_related.html", "weibo_mobile.html", "mobile_cards.html",
                                  "big5hkscs_declared_big5.html"])
def test_every_fixture_decodes_the_same_with_and_without_its_charset_declaration(name):
    body = load(name)
    declared, enc = decode_html(body, None)
    undeclared, enc_undeclared = decode_html(_CHARSET_DECLARATION.sub(b"", body), None)
    assert enc == enc_undeclared and enc in {"utf-8", "gb18030", "big5hkscs"}
    assert _CHARSET_DECLARATION.sub(b"", declared.encode(enc)) == undeclared.encode(enc)
    assert "\ufffd" not in declared


def test_gb2312_text_under_a_wrong_big5_declaration_is_still_gb():
    body = '<meta charset="big5"><p>示例银行新华路营业厅取款难，储户排队两小时，该行表示正在核实。</p>'.encode("gbk")
    text, enc = decode_html(body, None)
    assert enc == "gb18030" and "储户排队两小时" in text


def test_bom_wins_and_bad_bytes_never_raise():
    assert decode_html("示例".encode("utf-8-sig"), "text/html; charset=gbk") == ("示例", "utf-8")
    assert decode_html("\ufeff示例".encode("utf-16-le")) == ("示例", "utf-16-le")
    text, _ = decode_html(b"\xfa\x80abc\xff" * 10, "text/html; charset=utf-8")
    assert "abc" in text


# --- extraction fixtures ---------------------------------------------------------------------------------------------
def test_portal_news_page_keeps_article_and_drops_nav_ads_comments_scripts():
    e = extract_html(load("portal_news.html"), url="https://www.jcwb.example.cn/news/2026/1123/1.html")
    assert e.title == "示例银行新华路营业厅排长队 储户称取钱难"
    assert e.published_at == utc(2026, 11, 23, 1, 15)  # 09:15 Beijing time
    assert e.published_at.tzinfo is not None
    assert e.author == "李明"
    assert e.encoding == "utf-8"
    assert "示例银行新华路营业厅门前排起了长队" in e.text
    assert "恢复正常服务" in e.text
    for junk in ("评论区刷屏广告XYZ", "评论区第二条无关内容QWE", "TRACKER-7781", "SCRIPTED", "ad-box",
                 "点击领取低息贷款广告", "版权所有"):
        assert junk not in e.text
    assert e.to_json() == {"title": e.title, "published_at": "2026-11-23T09:15:00+08:00", "author": "李明",
                           "text": e.text}


def test_gbk_page_with_chinese_date_and_reporter_byline():
    e = extract_html(load("gbk_news.html"))
    assert e.encoding == "gb18030"
    assert e.title == "示例银行江城分行回应“取款难”：系统升级已完成"  # " - 楚江网" stripped
    assert e.published_at == utc(2026, 11, 23, 1, 15)  # 2026年11月23日 09:15 Asia/Shanghai
    assert e.author == "王芳"
    assert "示例银行新华路营业厅取款难" in e.text
    assert "喆、堃、昇" in e.text  # rare characters survive because GBK is read as GB18030


def test_gb2312_meta_only_page_prefers_og_title_and_iso_offset_time():
    e = extract_html(load("gb2312_meta_only.html"))
    assert e.encoding == "gb18030"
    assert e.title == "示例银行高新区支行理财产品亏损 投资者讨说法"  # og:title, not the h1 logo or <title>
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert e.author == "张伟"
    assert "保本保收益" in e.text


def test_page_whose_header_charset_is_wrong():
    e = extract_html(load("wrong_header_gbk.html"), content_type="text/html; charset=utf-8")
    assert e.encoding == "gb18030"
    assert e.title == "示例银行中南路营业厅服务态度差遭投诉"
    assert e.published_at == utc(2026, 11, 22, 10, 30)
    assert e.author == "江城晚报"
    assert "柜员态度冷漠" in e.text
    assert "\ufffd" not in e.text


def test_truncated_html_cut_inside_a_character():
    e = extract_html(load("truncated.html"))
    assert e.title == "示例银行滨江支行被指暴力催收"
    assert e.published_at == utc(2026, 11, 23, 13, 40, 5)
    assert e.author is None  # "记者就此联系" is not a byline
    assert e.text.endswith("截至发稿")
    assert "\ufffd" not in e.text


def test_weibo_like_mobile_page_gets_a_title_from_the_post_and_a_relative_time():
    now = utc(2026, 11, 23, 4, 0)  # 12:00 Beijing time; the page says "今天 09:15"
    e = extract_html(load("weibo_mobile.html"), url="https://m.weibo.example/detail/5012345678901234", now=now)
    assert e.title.startswith("示例银行光明路支行今天又系统故障了")
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert "排了两个小时队都办不了业务" in e.text
    assert "RENDER-DATA-JSON" not in e.text
    # without a reference time, a relative time is not guessed
    assert extract_html(load("weibo_mobile.html")).published_at is None


def test_script_injection_stays_inert_plain_text():
    e = extract_html(load("script_injection.html"))
    assert e.title == "示例银行公告"
    assert "<" not in e.title and "alert" not in e.title
    assert e.author == "江城网"  # markup in meta content is stripped
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    # the article quotes markup as text (escaped in the source): it stays text, for consumers to escape
    assert "<script>alert(1)</script> 字样" in e.text
    for leaked in ("INJECTED-PARAGRAPH", "document.cookie", "onerror", "javascript:", "background", "evil.example",
                   "NOSCRIPT-TEXT"):
        assert leaked not in e.text
    assert "谨防诈骗" in e.text and "感谢理解与支持" in e.text


def test_empty_and_garbage_input_give_a_clear_empty_result():
    for raw in (b"", "", "   \n", b"\xff" * 200, b"<html", b"\x00\x00\x00"):
        e = extract_html(raw)
        assert e.title == "" and e.text == "" and e.published_at is None and e.author is None
        assert e.to_json() == {"title": "", "published_at": None, "author": None, "text": ""}
    e = extract_html(b"\x00\xff\xfe garbage \x80\x81")
    assert e.text == "garbage"


def test_three_megabyte_page_is_capped_and_still_extracted():
    para = "<p>" + "示例银行网点服务正文内容，" * 20 + "</p>\n"
    head = ('<html><head><meta charset="utf-8"><title>大页面测试_江城网</title></head><body>'
            '<div class="article"><h1>大页面测试</h1><p>发布时间：2026-11-23 09:15</p>'
            "<p>这是正文的第一段，讲述示例银行光明路支行的故事。</p>")
    body = (head + para * 4000 + "</div></body></html>").encode()
    assert len(body) > 3_000_000
    # CPU time, not wall time: the bound is about the work done (capped, not quadratic in the page), and a machine
    # shared by four test workers on two cores would stretch the wall time of the same work
    started = time.process_time()
    e = extract_html(body)
    assert time.process_time() - started < 6
    assert e.title == "大页面测试"
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert "示例银行光明路支行的故事" in e.text
    assert len(e.text) <= MAX_INPUT_BYTES


# --- boilerplate: short Chinese pages where nav, related links and ads outweigh the article --------------------------
def test_short_local_news_keeps_the_story_and_drops_nav_related_ads_and_comments():
    e = extract_html(load("short_news_related.html"), url="https://www.jcrb.example.cn/jc/2026/1123/88.html")
    assert e.title == "建设银行江城分行为新市民开设“安家账户” 首批服务千余户"
    assert e.published_at == utc(2026, 11, 23, 0, 40)
    assert e.author == "陈静"
    assert e.text.startswith("本报讯（记者 陈静）11月22日，建设银行江城分行在光谷科技园网点启动“安家账户”服务")
    assert "为灵活就业人员提供小额信用贷款" in e.text
    assert e.text.endswith("现在一个窗口就搞定了。”")
    # the 推荐阅读 / 热点排行 blocks name other banks — including ours — and must not leak into this story
    for junk in ("示例银行", "招商银行", "农商银行", "推荐阅读", "热点排行", "网友评论", "支持！", "首页", "登录",
                 "您现在的位置", "家电低至五折", "驾校冬季班", "打印", "关闭", "版权所有", "鄂ICP备", "STAT-55120",
                 "责任编辑"):
        assert junk not in e.text, junk


def test_mobile_page_whose_related_cards_are_article_elements():
    e = extract_html(load("mobile_cards.html"))
    assert e.title == "滨江片区新增三处公共停车场 共提供车位620个"
    assert e.published_at == utc(2026, 11, 23, 6, 5)
    assert e.text.startswith("记者从市城管部门获悉")  # not the headline again, not the source/time line
    assert "市民可通过“江城停车”小程序查询空余车位。" in e.text
    for junk in ("示例银行", "光大银行", "猜你喜欢", "电梯工程", "返回", "菜单", "意见反馈"):
        assert junk not in e.text, junk


def test_gb2312_government_notice_keeps_its_table_and_drops_site_furniture():
    e = extract_html(load("gov_notice_table.html"), content_type="text/html")
    assert e.encoding == "gb18030"
    assert e.title == "江城市地方金融管理局关于2026年度银行业金融消费者权益保护示范网点名单的公示"
    assert e.published_at == utc(2026, 11, 20, 2, 30)
    assert e.text.startswith("各有关单位：")
    assert "拟确定以下10家网点为2026年度示范网点" in e.text
    assert "序号 | 机构名称 | 网点地址" in e.text
    assert "1 | 示例银行江城分行光明路支行 | 江城市光明路88号" in e.text
    assert "4 | 江城农商银行大学城支行" in e.text
    assert "附件：示范网点评分表.xlsx" in e.text  # a link inside the notice is part of it
    assert e.text.endswith("江城市地方金融管理局\n2026年11月20日")
    for junk in ("当前位置", "政务公开", "浏览次数", "1536", "字号", "打印本页", "关闭窗口", "相关链接",
                 "2025年度示范单位", "网站标识码", "鄂ICP备", "无障碍浏览", "主办单位"):
        assert junk not in e.text, junk


def test_gbk_forum_thread_keeps_the_first_post_not_the_replies():
    e = extract_html(load("forum_thread.html"), content_type="text/html; charset=utf-8")
    assert e.encoding == "gb18030"
    assert e.title == "示例银行新华路网点取钱又要预约？"
    assert e.published_at == utc(2026, 11, 23, 1, 15)  # the first "发表于", not a reply's time
    assert e.text.startswith("今天上午陪我妈去示例银行新华路网点取三万块钱交住院押金")
    assert e.text.endswith("之前从来没听说过。")
    for junk in ("工商银行", "招商银行", "人民银行", "楼主", "沙发", "签名", "热干面", "回复", "举报", "只看该作者",
                 "江城论坛", "Discuz", "下一页", "注册", "排行榜", "查看"):
        assert junk not in e.text, junk


def test_related_heading_inside_the_article_box_cuts_only_what_follows():
    page = ('<html><head><meta charset="utf-8"><title>江城新闻</title></head><body>'
            '<div class="article-content"><p>示例银行滨江支行今日恢复营业，客户可正常办理各项业务。</p>'
            "<p>该行表示，此前因装修暂停营业，给客户带来的不便深表歉意。</p>"
            "<p><strong>【相关阅读】</strong></p><ul><li><a href='/1'>工商银行网点装修</a></li>"
            "<li><a href='/2'>建设银行推出新产品</a></li></ul>"
            "<p>上一篇：<a href='/0'>江城天气</a></p></div></body></html>")
    e = extract_html(page)
    assert e.text == ("示例银行滨江支行今日恢复营业，客户可正常办理各项业务。\n"
                      "该行表示，此前因装修暂停营业，给客户带来的不便深表歉意。")
    # …while a heading-like phrase inside prose is left alone
    page = page.replace("<strong>【相关阅读】</strong>", "全省GDP排行第三。")
    assert "全省GDP排行第三。" in extract_html(page).text


def test_a_mislabelled_wrapper_around_the_article_is_not_pruned():
    body = "".join(f"<p>第{i}段：示例银行光明路支行的服务故事，客户反映良好。</p>" for i in range(5))
    page = ('<html><head><meta charset="utf-8"><title>测试</title></head><body>'
            '<form id="form1"><div class="wrap has-sidebar"><div class="c1">' + body + "</div>"
            "<div class='c2'><a href='/x'>链接一</a> <a href='/y'>链接二</a></div></div></form></body></html>")
    e = extract_html(page)
    assert e.text.count("示例银行光明路支行的服务故事") == 5
    assert "链接一" not in e.text


def test_nothing_but_navigation_gives_no_body_rather_than_the_menu():
    page = ('<html><head><meta charset="utf-8"><title>江城晚报网</title></head><body>'
            '<ul class="nav"><li><a href="/">首页</a></li><li><a href="/a">本地</a></li><li><a href="/b">民生</a></li>'
            '</ul><div class="footer">版权所有</div></body></html>')
    assert extract_html(page).text == ""


@pytest.fixture(scope="module")
def sim_pages() -> list[tuple[str, str, str, bytes, str | None, str, datetime]]:
    """(path, truth, own body text, bytes, content type, headline, published) of every news/province article
    visible at t+12h."""
    scenario = build_scenario(DEFAULT_START)
    now = DEFAULT_START + timedelta(hours=12)
    truth = scenario.ground_truth()
    pages = []
    with TestClient(create_app(FrozenClock(now), scenario, slow_page_seconds=0)) as client:
        for pa in scenario.visible_news(now) + scenario.visible_province(now):
            response = client.get(pa.path)
            if response.status_code == 500:  # the deliberately flaky page fails every other request
                response = client.get(pa.path)
            if response.status_code == 404:  # the deliberately missing page
                continue
            assert response.status_code == 200, pa.path
            own = "\n".join(fill(p, pa.published, scenario.start) for p in pa.article.body)
            pages.append((pa.path, truth[pa.path], own, response.content, response.headers.get("content-type"),
                          fill(pa.article.title, pa.published, scenario.start), pa.published))
    return pages


def test_sim_article_bodies_carry_no_site_furniture(sim_pages):
    assert len(sim_pages) > 40
    ads = ("全场低至5折", "拎包入驻", "限时特惠", "包过包接送")
    for path, label, own, body, ctype, _title, _published in sim_pages:
        e = extract_html(body, url="http://127.0.0.1" + path, content_type=ctype)
        text = e.text
        assert text, path
        for nav in ("江城晚报网", "楚江网 ·", "首页", "当前位置", "您当前的位置", "| 江城晚报网"):
            assert not text.startswith(nav), (path, text[:60])
        if "<" not in own:  # the injection page's own text is raw markup
            assert text.startswith(own[:12]), (path, text[:60])  # the body starts with the story itself
        for junk in ("推荐阅读", "相关新闻", "相关阅读", "热点排行", "24小时热榜", "网友评论", "分享到", "登录",
                     "首页 本地", "版权所有", "鄂ICP备", "【字号", "快来抢沙发", "暂无评论", *ads):
            assert junk not in text or junk in own, (path, junk)
        if "示例银行" not in own:
            # the 工商银行 story next to a 示例银行 headline in "推荐阅读" must not become a 示例银行 story
            assert "示例银行" not in text, (path, label)
        if label == DISTRACTOR:
            assert ("示例银行" in text) == ("示例银行" in own), path


def test_sim_article_bodies_keep_every_paragraph(sim_pages):
    for path, _label, own, body, ctype, _title, _published in sim_pages:
        e = extract_html(body, url="http://127.0.0.1" + path, content_type=ctype)
        paragraphs = [p for p in own.splitlines() if p]
        if "<" in own or len(e.text) < len(own) // 2:
            continue  # the injection page (raw markup) and the page cut mid-tag are checked elsewhere
        for paragraph in paragraphs:
            assert paragraph in e.text, (path, paragraph[:30])


def test_sim_pages_give_their_headline_and_beijing_time(sim_pages):
    """Both simulated portals (江城晚报网, 楚江网) print times without a zone: Beijing time, never UTC."""
    dated = 0
    for path, _label, own, body, ctype, title, published in sim_pages:
        if "<" in own:
            continue  # the injection page
        e = extract_html(body, url="http://127.0.0.1" + path, content_type=ctype)
        assert e.title == title, path
        if e.published_at is not None:
            dated += 1
            assert e.published_at.utcoffset() == timedelta(hours=8), path
            assert e.published_at == published.replace(second=0, microsecond=0), path
    assert dated >= len(sim_pages) - 2


def test_huge_table_page_is_summarised():
    rows = "".join(f"<tr><td>{i}</td><td>JC-{i:05d}</td><td>江城市教育局</td><td>办公设备采购</td></tr>"
                   for i in range(17_000))
    page = ('<html><head><meta charset="utf-8"><title>采购意向汇总表</title></head><body>'
            '<div class="article-content"><p>现将采购意向汇总公开如下：</p><table>' + rows + "</table></div>"
            "</body></html>").encode()
    e = extract_html(page)
    assert e.text.startswith("现将采购意向汇总公开如下：")
    assert "JC-00000" in e.text and f"JC-{MAX_TABLE_ROWS - 1:05d}" in e.text
    assert f"JC-{MAX_TABLE_ROWS:05d}" not in e.text
    assert f"此处仅保留前 {MAX_TABLE_ROWS} 行" in e.text


def test_str_input_has_no_encoding_and_naive_times_of_non_chinese_pages_are_utc():
    e = extract_html('<html><head><meta name="pubdate" content="2026-11-23 09:15"><title>Bank news</title>'
                     "</head><body><p>An English article about branch queues in the city.</p></body></html>")
    assert e.encoding is None
    assert e.title == "Bank news"
    assert e.published_at == utc(2026, 11, 23, 9, 15)


def test_title_suffix_and_datetime_helpers():
    assert strip_site_suffix("示例银行网点排长队_江城新闻_江城晚报网") == "示例银行网点排长队"
    assert strip_site_suffix("示例银行回应 - 楚江网") == "示例银行回应"
    assert strip_site_suffix("单个标题") == "单个标题"
    assert parse_datetime("2026-11-23T09:15:00+08:00") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("2026年11月23日 09时15分") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("2026/11/23 09:15") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("1795012500") == datetime.fromtimestamp(1795012500, UTC)
    assert parse_datetime("not a date") is None


def test_dates_past_the_ends_of_time_never_make_extraction_raise():
    # year 9999 at UTC-5 is past datetime.max in UTC; year 1 at UTC+5 before datetime.min: a hostile page, no date
    assert parse_datetime("9999-12-31T23:59:59-05:00") is None
    assert parse_datetime("0001-01-01T00:00:00+05:00") is None
    page = ('<html><head><meta property="article:published_time" content="9999-12-31T23:59:59-05:00">'
            '<title>示例银行滨江支行开业</title></head><body><time datetime="0001-01-01T00:00:00+05:00"></time>'
            '<div class="content"><p>示例银行滨江支行今日开业，发布时间：2026-11-23 09:15。</p></div></body></html>')
    e = extract_html(page.encode())
    assert "滨江支行今日开业" in e.text and e.published_at == utc(2026, 11, 23, 1, 15)


def test_nul_surrogates_and_c1_controls_never_reach_the_fields():
    page = ("<html><head><title>示例\x00银行\ud800公告</title><meta name='author' content='记者\x85甲'></head><body>"
            "<div class='content'><p>示例银行\x00滨江支行\ud83d\ude00今日\x9f开业，欢迎市民前来办理业务。</p></div>"
            "</body></html>")
    e = extract_html(page)
    assert e.title == "示例银行公告" and e.author == "记者甲"
    assert e.text == "示例银行滨江支行😀今日开业，欢迎市民前来办理业务。"
    for value in (e.title, e.author, e.text):
        value.encode("utf-8")


# --- publish times keep the page's zone ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shown"), [
    ("portal_quote_title_xinhua.html", "2026-11-20T09:30:15+08:00"),  # 发布时间：2026-11-20 09:30:15
    ("column_h1_page.html", "2026-11-20T09:30:00+08:00"),  # 2026年11月20日 09:30
    ("portal_sohu_finance.html", "2026-11-20T09:30:00+08:00"),  # article:published_time without a zone
    ("reporter_byline_bracket.html", "2026-11-20T01:30:00+00:00"),  # article:published_time in UTC ("Z")
])
def test_published_at_is_given_in_the_pages_own_zone(name, shown):
    e = extract_html(load(name))
    assert e.to_json()["published_at"] == shown
    assert e.published_at == datetime.fromisoformat(shown)  # the same instant, whatever the zone


def test_a_zone_the_page_states_is_kept_and_a_zone_less_chinese_time_is_never_read_as_utc():
    page = ('<html><head><meta property="article:published_time" content="{}"><title>示例银行发布公告</title></head>'
            '<body><div class="content"><p>示例银行今日发布公告，网点营业时间调整。</p></div></body></html>')
    tokyo = extract_html(page.format("2026-11-20T10:30:00+0900").encode())
    assert tokyo.to_json()["published_at"] == "2026-11-20T10:30:00+09:00"
    naive = extract_html(page.format("2026-11-20 09:30").encode())
    assert naive.to_json()["published_at"] == "2026-11-20T09:30:00+08:00"
    assert naive.published_at.astimezone(UTC) == utc(2026, 11, 20, 1, 30)  # not 09:30 UTC: no eight-hour error
    epoch = extract_html(page.format("1795138200").encode())  # an epoch is an instant, shown in Beijing time
    assert epoch.to_json()["published_at"] == "2026-11-20T09:30:00+08:00"


def test_page_dates_use_the_spiders_window():
    page = ('<html><head><title>示例银行公告</title></head><body><div class="content"><p>发布时间：{}　'
            '示例银行今日发布公告，网点营业时间调整。</p></div></body></html>')
    now = utc(2026, 11, 23, 2, 0)
    assert extract_html(page.format("1992-05-04 10:00"), now=now).published_at == datetime(
        1992, 5, 4, 2, 0, tzinfo=UTC)  # 1990 and later, as for feeds (extraction used to refuse before 1995)
    assert extract_html(page.format("2026-11-24 09:00"), now=now).published_at is not None  # within a day ahead
    assert extract_html(page.format("2026-12-20 09:00"), now=now).published_at is None  # a month ahead: refused
    assert extract_html(page.format("2026-12-20 09:00")).published_at is not None  # no clock: up to 2100
    assert extract_html(page.format("1989-12-31 09:00")).published_at is None


def test_yuqing_extract_prints_the_pages_zone_and_a_clean_title_through_the_cli():
    from typer.testing import CliRunner

    from runner.cli import app

    result = CliRunner().invoke(app, ["extract", str(FIXTURES / "portal_quote_title_xinhua.html"),
                                      "--url", "https://www.cjxw.example.cn/2026-11/20/c_1.htm"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"title", "published_at", "author", "text"}
    assert out["published_at"] == "2026-11-20T09:30:15+08:00"
    assert out["title"] == '关于"示例银行"网点暂停现金业务的情况说明'
    assert out["author"] == "张三"
    assert "金库设备检修" in out["text"]


def test_stored_article_keeps_the_instant_in_utc_and_the_pages_offset_in_its_meta(session_factory):
    from sqlalchemy import select

    from crawlers.models import Article
    from crawlers.pipelines import PUBLISHED_LOCAL_KEY, store_page
    from crawlers.spiders.items import PageHints, PageItem

    now = utc(2026, 11, 23, 2, 0)
    pages = [PageItem(source_id="cjxw", channel="news", url="https://cjxw.example.cn/1.htm",
                      body=load("column_h1_page.html"), content_type="text/html; charset=utf-8"),
             PageItem(source_id="cjxw", channel="news", url="https://cjxw.example.cn/2.htm",
                      body=load("reporter_byline_bracket.html"), content_type="text/html"),
             PageItem(source_id="cjxw", channel="news", url="https://cjxw.example.cn/3.htm",
                      body=load("portal_sohu_finance.html"), content_type="text/html",
                      hints=PageHints(published_at=utc(2026, 11, 20, 2, 0)))]  # a feed's time wins, UTC
    with session_factory() as s:
        for item in pages:
            store_page(s, item, now)
        s.commit()
    with session_factory() as s:
        stored = {a.url[-5:]: a for a in s.scalars(select(Article))}
    assert stored["1.htm"].published_at == utc(2026, 11, 20, 1, 30)  # 09:30 Beijing time, stored as UTC
    assert stored["1.htm"].meta[PUBLISHED_LOCAL_KEY] == "2026-11-20T09:30:00+08:00"
    assert stored["2.htm"].published_at == utc(2026, 11, 20, 1, 30)
    assert stored["2.htm"].meta[PUBLISHED_LOCAL_KEY] == "2026-11-20T01:30:00+00:00"  # the page said UTC
    assert stored["3.htm"].published_at == utc(2026, 11, 20, 2, 0)
    assert stored["3.htm"].meta[PUBLISHED_LOCAL_KEY] == "2026-11-20T10:00:00+08:00"  # shown in Beijing time


# --- titles: the headline, whole, without the site -------------------------------------------------------------------
@pytest.mark.parametrize(("name", "title"), [
    # og:title has an unescaped ASCII quote and parses as "关于"; <title> ends in "-楚江新闻网" without spaces
    ("portal_quote_title_xinhua.html", '关于"示例银行"网点暂停现金业务的情况说明'),
    # the first <h1> is the column "财经频道", which <title> also contains; the headline is in a div
    ("column_h1_page.html", '示例银行回应"取现受限"传闻：系谣言，各网点业务正常'),
    # og:title is the site's name, the <h1> its logo, and the headline shorter than "_江城晚报_江城晚报网"
    ("site_name_og_title.html", "存款降息了"),
    # og:title carries the portal's "_江城财经_江城网" suffix
    ("portal_sohu_finance.html", "示例银行下调三年期定期存款利率"),
])
def test_title_is_the_whole_headline_never_a_site_or_column_name(name, title):
    assert extract_html(load(name)).title == title


def test_og_title_broken_by_a_leading_ascii_quote_falls_back_to_the_page_title():
    page = ('<html><head><meta property="og:title" content=""示例银行"回应网点排队：已增派人手">'
            '<title>"示例银行"回应网点排队：已增派人手_江城财经_江城网</title></head><body><h1 class="logo">江城网</h1>'
            '<div class="content"><p>示例银行江城分行表示，已在排队较多的网点增派人手，并开放预约办理。</p></div>'
            "</body></html>")
    assert extract_html(page.encode()).title == '"示例银行"回应网点排队：已增派人手'


def test_a_short_headline_that_ends_like_a_site_name_is_still_the_headline():
    """"示例银行倒闭是假新闻" is ten characters ending in 新闻, the shape of a site name — but it says something."""
    page = ("<html><head><title>示例银行倒闭是假新闻_江城日报</title></head><body><h1>示例银行倒闭是假新闻</h1>"
            "<div class='info'>发布时间：2026-11-24 09:00 来源：江城日报</div><div class='article-content'><p>近日网传"
            "示例银行倒闭的消息，经记者向监管部门核实，系谣言。示例银行江城分行表示，该行各项业务运行正常。</p></div>"
            "</body></html>")
    assert extract_html(page.encode()).title == "示例银行倒闭是假新闻"
    assert is_site_or_column_name("江城新闻网") and not is_site_or_column_name("网传停业？辟谣了新闻")


def test_the_headline_in_an_h2_when_the_h1_is_the_logo_and_the_title_only_the_site():
    page = ("<html><head><title>江城晚报 - 江城新闻网</title></head><body><div class='logo'><h1>江城晚报</h1></div>"
            "<div class='crumb'>当前位置：首页 &gt; 本地新闻 &gt; 民生</div><div class='main'>"
            "<h2 class='title'>七旬老人取款遭拒 示例银行新华路网点：已上门致歉</h2>"
            "<div class='src'>发布时间：2026年11月21日 10:05　来源：江城晚报　作者：陈静</div><div class='TRS_Editor'>"
            "<p>江城晚报讯（记者陈静）11月20日上午，家住新华路附近的67岁市民王阿姨到示例银行新华路网点支取5万元现金，"
            "因未提前预约被拒，双方发生争执。</p></div></div></body></html>")
    e = extract_html(page.encode())
    assert e.title == "七旬老人取款遭拒 示例银行新华路网点：已上门致歉"
    assert e.to_json()["published_at"] == "2026-11-21T10:05:00+08:00" and e.author == "陈静"


def test_a_listed_title_is_cleaned_like_the_pages_own(session_factory):
    """A feed's or list page's title for the link replaces the page's only after the same cleaning: its portal
    suffix goes, and a column name ("财经频道", a list page's link text) is no title at all."""
    from sqlalchemy import select

    from crawlers.models import Article
    from crawlers.pipelines import store_page
    from crawlers.spiders.items import PageHints, PageItem

    def item(n: int, listed: str) -> PageItem:
        return PageItem(source_id="cjxw", channel="news", url=f"https://cjxw.example.cn/{n}.htm",
                        body=load("portal_sohu_finance.html"), content_type="text/html", hints=PageHints(title=listed))

    with session_factory() as s:
        store_page(s, item(1, "示例银行下调三年期定期存款利率 部分网点同步调整_搜狐财经"), utc(2026, 11, 23, 2, 0))
        store_page(s, item(2, "财经频道"), utc(2026, 11, 23, 2, 0))
        s.commit()
    with session_factory() as s:
        stored = {a.url[-5:]: a.title for a in s.scalars(select(Article))}
    assert stored["1.htm"] == "示例银行下调三年期定期存款利率 部分网点同步调整"
    assert stored["2.htm"] == "示例银行下调三年期定期存款利率"  # the page's own headline


@pytest.mark.parametrize(("raw", "headline"), [
    ("示例银行下调存款利率_搜狐财经", "示例银行下调存款利率"),
    ("示例银行发布公告_江城财经_江城网", "示例银行发布公告"),
    ("示例银行回应网点排队-新华网", "示例银行回应网点排队"),
    ("示例银行_2026年报", "示例银行_2026年报"),  # not a site name: a listed title keeps it, unlike a <title>
    ("示例银行<script>__xss('t')</script>", "示例银行<script>__xss('t')</script>"),
    ("中国-东盟金融合作论坛在江城开幕", "中国-东盟金融合作论坛在江城开幕"),
])
def test_a_listed_title_loses_only_a_site_tail(raw, headline):
    assert strip_site_tail(raw) == headline


@pytest.mark.parametrize(("raw", "headline"), [
    ("示例银行回应网点排队-新华网", "示例银行回应网点排队"),
    ("降息了_搜狐财经_搜狐网", "降息了"),
    ('"示例银行"回应取现传闻_搜狐财经_搜狐网', '"示例银行"回应取现传闻'),
    ("示例银行发布公告——江城日报", "示例银行发布公告"),
    ("江城晚报网 - 示例银行新网点开业", "示例银行新网点开业"),
    ("中国-东盟金融合作论坛在江城开幕", "中国-东盟金融合作论坛在江城开幕"),  # a hyphen inside the headline stays
    ("示例银行三季度净利润增长-5%", "示例银行三季度净利润增长-5%"),
])
def test_strip_site_suffix_on_portal_title_shapes(raw, headline):
    assert strip_site_suffix(raw) == headline


# --- authors: the person the page names ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "author"), [
    ("portal_quote_title_xinhua.html", "张三"),  # （记者 张三 通讯员 李四）, not the correspondent, not the editor
    ("portal_sohu_finance.html", "陈静"),  # <meta name="author">, before "来源：江城网"
    ("column_h1_page.html", "刘洋"),  # 作者：刘洋　来源：江城日报
    ("reporter_byline_bracket.html", "赵敏"),  # 本报讯（记者赵敏）
    ("site_name_og_title.html", "江城晚报"),  # no person: 来源 beats a meta author that names the site; empty 编辑：
])
def test_author_is_the_person_the_page_names(name, author):
    assert extract_html(load(name)).author == author


@pytest.mark.parametrize(("line", "author"), [
    ("本报记者王磊报道　示例银行江城分行今日召开发布会，通报网点服务改进情况。", "王磊"),
    ("文/孙悦　示例银行江城分行今日召开发布会，通报网点服务改进情况。", "孙悦"),
    ("记者 周航 实习生 吴迪　示例银行江城分行今日召开发布会，通报网点服务改进情况。", "周航"),
    ("记者了解到，示例银行江城分行今日召开发布会，通报网点服务改进情况。", None),
    ("（记者从示例银行江城分行获悉）该行今日召开发布会，通报网点服务改进情况。", None),
    ("来源：江城日报　编辑：　示例银行江城分行今日召开发布会，通报网点服务改进情况。", "江城日报"),
])
def test_byline_shapes(line, author):
    page = ("<html><head><title>示例银行召开发布会</title></head><body><div class='content'>"
            f"<p>{line}</p></div></body></html>")
    assert extract_html(page.encode()).author == author


# --- very short GBK pages whose bytes happen to be valid UTF-8 -------------------------------------------------------
@pytest.mark.parametrize("chinese", ["钱", "取", "骗", "息", "员", "诈", "取钱", "员诈"])  # read as UTF-8: Ǯ ȡ ƭ Ϣ Ա թ
@pytest.mark.parametrize("meta", ["", '<meta charset="gbk">'])
def test_a_one_or_two_character_gbk_page_that_is_valid_utf8_is_still_gbk(chinese, meta):
    body = f"<html><head>{meta}<title>{chinese}</title></head><body><p>{chinese}</p></body></html>".encode("gbk")
    body.decode("utf-8")  # the trap: these bytes are valid UTF-8
    text, enc = decode_html(body, None)
    assert enc == "gb18030" and f"<p>{chinese}</p>" in text


@pytest.mark.parametrize("words", ["café au lait", "© 2026 Example News", "Zürich", "Lǚ Bù", "Привет, мир",
                                   "臺灣", "示例", "😀", "naïve — “quoted”"])
def test_short_utf8_pages_with_a_few_non_ascii_characters_stay_utf8(words):
    for meta in ("", '<meta charset="gb2312">'):  # also under a stale GB declaration
        body = f"<html><head>{meta}<title>{words}</title></head><body><p>{words}</p></body></html>".encode()
        assert decode_html(body, None) == (body.decode(), "utf-8")


def test_a_day_only_meta_date_yields_to_a_printed_time_of_that_day_but_not_to_another_days():
    page = ('<html><head><meta name="publishdate" content="2026-11-20"><title>示例银行夜间系统升级</title></head>'
            '<body><div class="info">{info}</div><div class="content"><p>示例银行将于今晚进行系统升级，'
            '届时手机银行暂停服务。</p></div><ul class="list"><li>2026-11-18 08:00 另一条新闻</li></ul></body></html>')
    printed = extract_html(page.format(info="发布时间：2026-11-20 19:50　来源：江城晚报").encode())
    assert printed.to_json()["published_at"] == "2026-11-20T19:50:00+08:00"  # not midnight
    unprinted = extract_html(page.format(info="来源：江城晚报").encode())
    assert unprinted.to_json()["published_at"] == "2026-11-20T00:00:00+08:00"  # not the list's 11-18 08:00
    labelled_day = extract_html(page.replace('<meta name="publishdate" content="2026-11-20">', "")
                                .format(info="发布日期：2026-11-20").encode())
    assert labelled_day.to_json()["published_at"] == "2026-11-20T00:00:00+08:00"
